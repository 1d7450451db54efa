"""Make the frozen "wild digits" test set: ``python -m benchmarks.make_wild_digits [--check] [--sheet PNG]``.

Real-world-style digits that no digitlab model or preprocessing choice was tuned on (issue 13 §5),
written once to ``src/digitlab/datasets/data/wild-digits.npz`` and loaded with
``datasets.load("wild-digits")``. The file is what counts: it is committed with a checksum, so
later runs do not depend on font versions; this script records how it was made and can rebuild
it (``--check`` rebuilds in memory and compares with the committed file).

Two sources, 75 images per digit each (1,500 images):

- **fonts** that neither the tests nor matplotlib use (tests/_render.py draws DejaVu, STIX and
  Computer Modern): Debian's handwriting-style fonts (Humor Sans, dkg-handwriting, Breip, the six
  "Because We Had To" hands, Dancing Script, Écolier, Femke Klaver, Kristi, Comic Neue, Rufscript,
  Kaushan Script) and print faces (URW base35, GNU FreeFont, Liberation, Courier
  Prime, GNU Typewriter). Install them with::

      apt-get install fonts-humor-sans fonts-dkg-handwriting fonts-breip fonts-bwht \\
          fonts-dancingscript fonts-ecolier-court fonts-femkeklaver fonts-kristi fonts-comic-neue \\
          fonts-rufscript fonts-kaushanscript fonts-urw-base35 \\
          fonts-freefont-ttf fonts-liberation fonts-courier-prime fonts-gnutypewriter

- **strokes**: a pen-stroke generator. Each digit has one to three hand-made skeletons (polylines
  and arcs in a unit box); every sample jitters the points, slants, rotates and squashes the
  shape and draws it with a random pen width, so no two are alike.

Both are drawn as a user would photograph them: dark ink (pen grey) on paper of random tone with
uneven light, at a random place and size on a canvas, with sensor noise, defocus and (half the
time) JPEG compression, then encoded as PNG/JPEG bytes and passed through
:func:`digitlab.preprocess.preprocess`, exactly as ``digitlab predict`` and the web app do.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "digitlab" / "datasets" / "data" / "wild-digits.npz"
SEED = 20261122
PER_DIGIT = {"fonts": 75, "strokes": 75}
FONT_DIRS = ("/usr/share/fonts/truetype", "/usr/share/fonts/opentype")
# fonts whose "digits" are not digits, or that the tests already use
EXCLUDE = ("dejavu", "StandardSymbols", "D050000L", "CabinSketch")
HANDWRITING = ("humor-sans", "fifthhorseman", "breip", "bwht", "dancingscript", "ecolier-court",
               "femkeklaver", "kristi", "comic-neue", "rufscript", "kaushanscript")


def font_files() -> tuple[list[Path], list[Path]]:
    """(handwriting fonts, print fonts) installed here, sorted for reproducibility."""
    files = sorted(p for d in FONT_DIRS if Path(d).is_dir() for p in Path(d).rglob("*")
                   if p.suffix.lower() in (".ttf", ".otf") and not any(e.lower() in str(p).lower() for e in EXCLUDE))
    hand = [p for p in files if any(h in str(p) for h in HANDWRITING)]
    return hand, [p for p in files if p not in hand]


# ---- pen strokes: skeletons in a unit box, x to the right, y down

def _arc(cx, cy, rx, ry, a0, a1, n=24):
    t = np.radians(np.linspace(a0, a1, n))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], 1)


def _line(*pts):
    return np.asarray(pts, dtype=float)


def _skeletons(d: int, rng) -> list[np.ndarray]:
    """One way of writing digit *d*: a list of strokes (arrays of points in [0, 1]^2)."""
    v = int(rng.integers(0, 3))
    if d == 0:
        return [_arc(0.5, 0.5, 0.32, 0.47, -100, 265 + 15 * v)]
    if d == 1:
        s = [_line((0.55, 0.03), (0.5, 0.97))]
        if v >= 1:
            s.append(_line((0.3, 0.25), (0.55, 0.03)))
        if v == 2:
            s.append(_line((0.3, 0.97), (0.72, 0.97)))
        return s
    if d == 2:
        top = _arc(0.5, 0.3, 0.3, 0.27, 190, 385)
        if v == 2:  # a loop at the bottom left
            return [np.vstack([top, _line((0.2, 0.9)), _arc(0.26, 0.86, 0.08, 0.08, -90, 180)[::-1][:1],
                               _line((0.85, 0.95))])]
        return [np.vstack([top, _line((0.15, 0.96), (0.86, 0.96))])]
    if d == 3:
        if v == 2:  # flat top
            return [_line((0.18, 0.05), (0.8, 0.05), (0.45, 0.42)), _arc(0.48, 0.68, 0.34, 0.28, -80, 160)]
        return [_arc(0.48, 0.27, 0.28, 0.23, 200, 450), _arc(0.48, 0.72, 0.33, 0.25, -90, 165)]
    if d == 4:
        if v == 0:  # open top
            return [_line((0.2, 0.03), (0.12, 0.62), (0.88, 0.62)), _line((0.68, 0.2), (0.68, 0.98))]
        return [_line((0.68, 0.97), (0.68, 0.03), (0.1, 0.65), (0.9, 0.65))]
    if d == 5:
        return [_line((0.8, 0.04), (0.28, 0.04), (0.24, 0.45)), _arc(0.48, 0.68, 0.33, 0.28, -150, 150)]
    if d == 6:
        lead = _arc(0.78, 0.62, 0.58, 0.6, 235, 180)[::-1] if v else _line((0.7, 0.02), (0.25, 0.6))
        return [np.vstack([lead[::-1] if v else lead, _arc(0.5, 0.72, 0.3, 0.25, 180, 540)])]
    if d == 7:
        s = [_line((0.12, 0.05), (0.88, 0.05), (0.42, 0.97))]
        if v == 2:  # continental crossbar
            s.append(_line((0.38, 0.52), (0.8, 0.5)))
        return s
    if d == 8:
        if v == 2:  # two circles
            return [_arc(0.5, 0.27, 0.24, 0.23, 0, 360), _arc(0.5, 0.73, 0.3, 0.25, -90, 270)]
        t = np.linspace(0, 2 * np.pi, 60)  # one stroke: a figure of eight
        return [np.stack([0.5 + 0.3 * np.sin(2 * t) * (0.8 + 0.2 * np.sign(np.sin(t))) / 1.0,
                          0.5 - 0.47 * np.cos(t)], 1)]
    if d == 9:
        loop = _arc(0.48, 0.3, 0.3, 0.26, 0, 360)
        tail = _line((0.78, 0.3), (0.72, 0.97)) if v < 2 else _arc(0.1, 0.3, 0.68, 0.66, 0, 80)
        return [loop, tail]
    raise ValueError(d)


def _wobble(n: int, rng) -> np.ndarray:
    """Offsets for a stroke's n points: each corner of a polyline moves on its own; a curve bends
    smoothly (noise smoothed along the stroke), never zig-zags point to point."""
    from scipy.ndimage import gaussian_filter1d

    if n <= 6:
        return rng.normal(0, 0.025, size=(n, 2))
    bend = gaussian_filter1d(rng.normal(0, 0.1, size=(n, 2)), sigma=n / 8, axis=0, mode="nearest")
    return bend + rng.normal(0, 0.012, size=(1, 2))


def render_strokes(d: int, rng, side: int) -> np.ndarray:
    """A pen-drawn digit: float array (side, side) of ink coverage in [0, 1]."""
    from PIL import Image, ImageDraw

    strokes = _skeletons(d, rng)
    slant, angle = rng.uniform(-0.35, 0.25), np.radians(rng.uniform(-10, 10))
    sx = rng.uniform(0.55, 1.0)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    big = 4 * side  # drawn 4x larger, then reduced: smooth edges
    img = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(img)
    width = max(2, int(rng.uniform(0.05, 0.14) * big * 0.8))
    for s in strokes:
        p = s + _wobble(len(s), rng)  # the hand is not steady
        p = p - 0.5
        p[:, 0] = p[:, 0] * sx - slant * p[:, 1]
        p = p @ rot.T
        p = (p * 0.8 + 0.5) * big
        pts = [tuple(q) for q in p]
        draw.line(pts, fill=255, width=width, joint="curve")
        r = width / 2
        for x, y in (pts[0], pts[-1]):  # round pen ends
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return np.asarray(img.resize((side, side), Image.Resampling.BOX), dtype=np.float32) / 255.0


def render_font(d: int, font: Path, rng, side: int) -> np.ndarray:
    """A digit typed in *font*: float array (side, side) of ink coverage in [0, 1]."""
    from PIL import Image, ImageDraw, ImageFont

    big = 4 * side
    f = ImageFont.truetype(str(font), int(big * 0.7))
    img = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(img)
    left, top, right, bottom = draw.textbbox((0, 0), str(d), font=f)
    draw.text(((big - (right - left)) / 2 - left, (big - (bottom - top)) / 2 - top), str(d), fill=255, font=f)
    angle = rng.uniform(-8, 8)
    img = img.rotate(angle, resample=Image.Resampling.BILINEAR)
    if rng.random() < 0.5:  # a bolder pen: grey dilation by a few pixels at 4x
        from PIL import ImageFilter

        img = img.filter(ImageFilter.MaxFilter(int(rng.choice([3, 5, 7]))))
    return np.asarray(img.resize((side, side), Image.Resampling.BOX), dtype=np.float32) / 255.0


def photograph(ink: np.ndarray, rng) -> bytes:
    """Put *ink* on paper in a larger canvas and take a "photo": encoded PNG or JPEG bytes."""
    from PIL import Image
    from scipy import ndimage

    side = ink.shape[0]
    h = side + int(rng.integers(side // 4, side))
    w = side + int(rng.integers(side // 4, side))
    top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    cover = np.zeros((h, w), np.float32)
    cover[top: top + side, left: left + side] = ink
    paper = rng.uniform(175, 250)
    pen = rng.uniform(10, 90)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    light = 1 + rng.uniform(-0.15, 0.15) * (xx - 0.5) + rng.uniform(-0.15, 0.15) * (yy - 0.5)
    img = (paper * (1 - cover) + pen * cover) * light
    img = ndimage.gaussian_filter(img, rng.uniform(0, 1.2))  # focus
    img += rng.normal(0, rng.uniform(1, 9), size=img.shape)  # sensor noise
    pil = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    if rng.random() < 0.5:
        pil.save(buf, format="JPEG", quality=int(rng.integers(25, 90)))
    else:
        pil.save(buf, format="PNG")
    return buf.getvalue()


def make(seed: int = SEED):
    """Images (n, 28, 28) uint8, labels (n,) uint8 and a source name per image."""
    from digitlab.preprocess import NoDigitError, preprocess

    hand, printed = font_files()
    if len(hand) < 20 or len(printed) < 20:
        sys.exit("make_wild_digits: the Debian font packages named in this script's docstring are missing")
    rng = np.random.default_rng(seed)
    images, labels, sources = [], [], []

    def shoot(draw, source):
        # a photo in which preprocessing finds no digit is taken again, as a user would
        for _ in range(10):
            try:
                return preprocess(photograph(draw(), rng), name=source).image
            except NoDigitError:
                continue
        raise RuntimeError(f"{source}: no readable photo in 10 tries")

    for d in range(10):
        for k in range(PER_DIGIT["fonts"]):
            # two handwriting-style fonts for every print font
            pool = hand if k % 3 else printed
            font = pool[int(rng.integers(0, len(pool)))]
            images.append(shoot(lambda d=d, font=font: render_font(d, font, rng, int(rng.integers(40, 140))),
                                font.stem))
            labels.append(d)
            sources.append(font.stem)
        for _ in range(PER_DIGIT["strokes"]):
            images.append(shoot(lambda d=d: render_strokes(d, rng, int(rng.integers(40, 140))), "strokes"))
            labels.append(d)
            sources.append("strokes")
    order = rng.permutation(len(images))  # digits interleaved, so any prefix is balanced-ish
    return (np.stack(images)[order], np.asarray(labels, np.uint8)[order],
            np.asarray(sources, dtype="<U40")[order])


def checksum(images: np.ndarray, labels: np.ndarray) -> str:
    """sha256 of the pixels and labels (the npz container's bytes vary with zip timestamps)."""
    return hashlib.sha256(np.ascontiguousarray(images).tobytes() + np.ascontiguousarray(labels).tobytes()).hexdigest()


def contact_sheet(images, labels, path, per_digit=20):
    from PIL import Image

    rows = [np.hstack(list(images[labels == d][:per_digit])) for d in range(10)]
    sheet = np.vstack(rows)
    Image.fromarray(sheet).resize((sheet.shape[1] * 2, sheet.shape[0] * 2), Image.Resampling.NEAREST).save(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.make_wild_digits", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="rebuild in memory and compare with the committed file")
    parser.add_argument("--sheet", type=Path, help="also write a contact sheet (20 images per digit) here")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write (default: {OUT.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    images, labels, sources = make()
    digest = checksum(images, labels)
    if args.sheet:
        contact_sheet(images, labels, args.sheet)
    if args.check:
        with np.load(args.out, allow_pickle=False) as z:
            same = checksum(z["images"], z["labels"]) == digest
        print(f"{'same as' if same else 'DIFFERENT from'} {args.out} (sha256 {digest})")
        return 0 if same else 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, images=images, labels=labels, sources=sources)
    tmp.replace(args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes, {len(images)} images); sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
