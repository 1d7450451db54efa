"""Random distortions of training batches for :class:`~digitlab.models.cnn.CNNClassifier`.

Drawn afresh for every batch of every epoch from a seeded ``torch.Generator``, so each epoch sees
new variants of every digit (the CNN never stores an augmented copy of the training set). The
kinds, combined with ``,`` or ``+`` (``"shift+affine+elastic"``), are those of
:mod:`digitlab.augment` (issue 13 §3), with its ranges:

- ``shift``: whole-pixel translation by up to ±2 px along each axis;
- ``affine``: rotation (±10°), scaling (±10%) and horizontal shear (±0.2 px per row) about the centre;
- ``elastic``: a smooth random displacement field (Simard et al., 2003) of ~1 px RMS, made by
  upsampling 7x7 uniform noise (correlation length ~4 px, like Simard's σ = 4 px smoothing);
- ``thickness``: strokes made up to 1 px thinner or thicker (grey erosion / dilation with a 3x3
  square at twice the resolution, blended with the original by a random fraction).

The geometric kinds compose into one sampling grid, so the image is resampled once (bilinear,
zero outside); whole-pixel shifts alone resample exactly. Everything here is batched torch:
~1 ms for 256 images, against ~50 ms for the training step itself. PyTorch is imported by the
caller and passed in, so this module imports without it.
"""

from __future__ import annotations

import math

from sklearn.utils._param_validation import StrOptions

from ..augment import (
    ELASTIC_RMS,
    KINDS,
    MAX_ROTATION,
    MAX_SCALE,
    MAX_SHEAR,
    MAX_SHIFT,
    parse_augment,
)

ELASTIC_GRID = 7  # noise resolution before upsampling: 28 / 7 = 4 px correlation length


class AugmentKinds(StrOptions):
    """scikit-learn parameter constraint: a str accepted by :func:`digitlab.augment.parse_augment`.

    A StrOptions because scikit-learn's validation takes no other constraint classes; it
    accepts any combination of the kinds, not only the listed options.
    """

    def __init__(self):
        super().__init__({*KINDS, "none"})

    def is_satisfied_by(self, val):
        if not isinstance(val, str):
            return False
        try:
            parse_augment(val)
        except ValueError:
            return False
        return True

    def __str__(self):
        return f"kinds from {', '.join(map(repr, KINDS))} joined by ',' or '+', or 'none'"


def augment_batch(torch, xb, kinds, gen):
    """A randomly distorted copy of the batch *xb* (float, shape (m, 1, h, w), values in [0, 1]).

    Parameters
    ----------
    torch : module
    xb : torch.Tensor
    kinds : tuple of str
        From :func:`digitlab.augment.parse_augment`; ``()`` returns *xb* unchanged.
    gen : torch.Generator
        The only source of randomness: the same generator state gives the same batch.
    """
    import torch.nn.functional as F

    if not kinds:
        return xb
    if "thickness" in kinds:
        xb = _thickness(torch, F, xb, gen)
    geometric = [k for k in kinds if k != "thickness"]
    if not geometric:
        return xb
    m, _, h, w = xb.shape
    px = 2 / w  # one pixel in grid units (the image spans [-1, 1])
    theta = torch.zeros(m, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    if "affine" in kinds:
        r = torch.rand(m, 3, generator=gen) * 2 - 1
        angle = r[:, 0] * math.radians(MAX_ROTATION)
        scale = 1 + MAX_SCALE * r[:, 1]
        shear = MAX_SHEAR * r[:, 2]
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        # output -> input coordinates: rotation/scaling after a horizontal shear x += shear * y
        theta[:, 0, 0], theta[:, 0, 1] = cos, cos * shear - sin
        theta[:, 1, 0], theta[:, 1, 1] = sin, sin * shear + cos
    if "shift" in kinds:
        k = max(1, round(MAX_SHIFT * w / 28))
        theta[:, :, 2] = torch.randint(-k, k + 1, (m, 2), generator=gen).float() * px
    grid = F.affine_grid(theta, list(xb.shape), align_corners=False)
    if "elastic" in kinds:
        noise = torch.rand(m, 2, ELASTIC_GRID, ELASTIC_GRID, generator=gen) * 2 - 1
        field = F.interpolate(noise, size=(h, w), mode="bicubic", align_corners=True)
        rms = field.square().mean(dim=(1, 2, 3), keepdim=True).sqrt().clamp_min(1e-6)
        field = field * (ELASTIC_RMS * w / 28 * px / rms)
        grid = grid + field.permute(0, 2, 3, 1)
    return F.grid_sample(xb, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _thickness(torch, F, xb, gen):
    """Strokes up to 1 px thinner or thicker: each image blended by |t|, t ~ U(-1, 1), towards
    its grey erosion (t < 0) or dilation (t > 0) by a 3x3 square at twice the resolution.

    At full resolution a 3x3 erosion removes a whole pixel on each side and wipes out MNIST's
    2-3 px strokes (up to 93% of the ink); at 2x it takes half a pixel each side (-1 px width).
    """
    up = F.interpolate(xb, scale_factor=2, mode="bilinear", align_corners=False)
    thicker = F.avg_pool2d(F.max_pool2d(up, 3, stride=1, padding=1), 2)
    thinner = F.avg_pool2d(-F.max_pool2d(-up, 3, stride=1, padding=1), 2)
    t = torch.rand(len(xb), 1, 1, 1, generator=gen) * 2 - 1
    return xb + t.clamp_min(0) * (thicker - xb) + (-t).clamp_min(0) * (thinner - xb)
