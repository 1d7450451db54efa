"""Real-world-looking digits made by the tests: fonts rendered onto light paper.

Used by the preprocessing, predict, web and browser tests (and benchmarks/bench_web.py). The
fonts are the DejaVu, STIX and Computer Modern faces matplotlib ships, so no download is needed.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

FONT_NAMES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf",
              "DejaVuSans-Oblique.ttf", "STIXGeneral.ttf", "cmss10.ttf", "DejaVuSerif-Bold.ttf")


def font_paths() -> list[Path]:
    import matplotlib

    root = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return [root / n for n in FONT_NAMES if (root / n).exists()]


def render_digit(digit: int, font: Path, *, font_size: int = 64, canvas=(160, 120), rng=None,
                 paper: int = 235, ink: int = 30, noise: float = 6.0) -> np.ndarray:
    """Dark digit on light, slightly noisy paper at a random position: uint8 (h, w)."""
    from PIL import Image, ImageDraw, ImageFont

    rng = rng or np.random.default_rng(0)
    w, h = canvas
    img = Image.new("L", (w, h), paper)
    draw = ImageDraw.Draw(img)
    f = ImageFont.truetype(str(font), font_size)
    left, top, right, bottom = draw.textbbox((0, 0), str(digit), font=f)
    tw, th = right - left, bottom - top
    x = int(rng.integers(0, max(1, w - tw))) - left
    y = int(rng.integers(0, max(1, h - th))) - top
    draw.text((x, y), str(digit), fill=ink, font=f)
    a = np.asarray(img, dtype=np.float64) + rng.normal(0, noise, size=(h, w))
    return np.clip(a, 0, 255).astype(np.uint8)


def rendered_set(n_per_digit: int = 4, seed: int = 0):
    """Digits 0–9 in every font at several sizes and positions: (list of arrays, labels)."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for font in font_paths():
        for digit in range(10):
            for _ in range(n_per_digit):
                size = int(rng.integers(28, 90))
                canvas = (int(rng.integers(size + 10, size * 3)), int(rng.integers(size + 30, size * 3)))
                images.append(render_digit(digit, font, font_size=size, canvas=canvas, rng=rng))
                labels.append(digit)
    return images, np.array(labels)


def png_bytes(a: np.ndarray, mode: str | None = None, **save) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(a, mode).save(buf, format=save.pop("format", "PNG"), **save)
    return buf.getvalue()
