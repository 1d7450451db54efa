"""The CNN's batch augmentation: each kind does what it says, is seeded, and is new every epoch."""

import numpy as np
import pytest

from digitlab.augment import KINDS, shift_image

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from digitlab.models.cnn_augment import augment_batch


def _batch(mnist_small, n=64):
    images = mnist_small.train.images[:n].astype(np.float32) / 255
    return torch.from_numpy(images.reshape(n, 1, 28, 28).copy())


def test_registry_refuses_unknown_kind_before_fitting():
    """Check `--param augment=afine` is a ParameterError at model construction, not after data loading."""
    from digitlab.exceptions import ParameterError
    from digitlab.models import make_model

    with pytest.raises(ParameterError, match="augment"):
        make_model("cnn", {"augment": "afine"})
    assert make_model("cnn", {"augment": "elastic+thickness"})[-1].augment == "elastic+thickness"
    assert make_model("cnn", {"augment": "thickness,shift"})[-1].augment == "thickness,shift"
    assert make_model("cnn", {"augment": "false"})[-1].augment is False


def test_no_kinds_is_identity(mnist_small):
    """Check augment=() returns the batch itself."""
    xb = _batch(mnist_small)
    assert augment_batch(torch, xb, (), torch.Generator().manual_seed(0)) is xb


def test_shift_is_a_whole_pixel_shift(mnist_small):
    """Check every 'shift' image equals its original shifted by whole pixels, at most 2 each way."""
    xb = _batch(mnist_small)
    out = augment_batch(torch, xb, ("shift",), torch.Generator().manual_seed(1)).numpy()[:, 0]
    images = xb.numpy()[:, 0]
    seen = set()
    for img, got in zip(images, out):
        match = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                 if np.allclose(got, shift_image(img[None], dy, dx)[0], atol=1e-5)]
        assert match, "not a whole-pixel shift of at most 2 px"
        seen.add(match[0])
    assert len(seen) > 5  # the shifts vary across the batch


@pytest.mark.parametrize("kinds, min_cosine", [(("affine",), 0.5), (("elastic",), 0.5), (("thickness",), 0.8),
                                               (KINDS, None)])
def test_kinds_distort_but_keep_the_digit(mnist_small, kinds, min_cosine):
    """Check each kind changes (nearly) every image: values stay in [0, 1], ink mass does not
    vanish or explode, and every distorted image still overlaps its original (cosine of the
    pixel vectors; a 2 px shift alone brings it down to ~0.5, so not for all kinds together)."""
    xb = _batch(mnist_small)
    out = augment_batch(torch, xb, kinds, torch.Generator().manual_seed(2))
    assert out.shape == xb.shape and out.dtype == xb.dtype
    a, b = xb.numpy().reshape(len(xb), -1), out.numpy().reshape(len(xb), -1)
    assert b.min() >= -1e-6 and b.max() <= 1 + 1e-6
    assert (np.abs(a - b).sum(axis=1) > 1).mean() > 0.9  # thickness draws ~0 for a few
    ratio = b.sum(axis=1) / a.sum(axis=1)
    assert ((ratio > 0.3) & (ratio < 3)).all()
    cosine = (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert min_cosine is None or cosine.min() > min_cosine


def test_thickness_goes_both_ways(mnist_small):
    """Check 'thickness' thickens some strokes and thins others (ink mass up and down)."""
    xb = _batch(mnist_small)
    out = augment_batch(torch, xb, ("thickness",), torch.Generator().manual_seed(3))
    ratio = out.sum(dim=(1, 2, 3)) / xb.sum(dim=(1, 2, 3))
    assert (ratio > 1.1).any() and (ratio < 0.9).any()


def test_same_generator_state_same_batch(mnist_small):
    """Check the generator is the only randomness: equal seeds give equal batches, and the next
    call with the same generator gives a different one."""
    xb = _batch(mnist_small)
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    first = augment_batch(torch, xb, KINDS, g1)
    torch.testing.assert_close(first, augment_batch(torch, xb, KINDS, g2), rtol=0, atol=0)
    assert not torch.equal(first, augment_batch(torch, xb, KINDS, g1))


def test_cnn_draws_augmentation_afresh_every_epoch(mnist_small, monkeypatch):
    """Check the CNN distorts the same training image differently in each epoch (no fixed copies)."""
    from digitlab.models import cnn

    seen = []  # per call: {original image bytes: distorted image}
    real = cnn.augment_batch

    def spy(torch_, xb, kinds, gen):
        out = real(torch_, xb, kinds, gen)
        seen.append({x.numpy().tobytes(): o.numpy().copy() for x, o in zip(xb, out)})
        return out

    monkeypatch.setattr(cnn, "augment_batch", spy)
    X = mnist_small.X_train[:64].astype(np.float32) / 255
    cnn.CNNClassifier(max_epochs=3, min_steps=0, batch_size=64, channels=(4,), n_threads=1,
                      lr=0.01).fit(X, mnist_small.y_train[:64])
    assert len(seen) == 3  # one batch per epoch
    for key in seen[0]:
        versions = [epoch[key] for epoch in seen]
        assert not np.array_equal(versions[0], versions[1]) and not np.array_equal(versions[1], versions[2])
