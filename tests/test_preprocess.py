"""MNIST-style preprocessing of user images: the recipe, and every row of BAD-INPUTS section C."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from _render import font_paths, png_bytes, render_digit
from digitlab.exceptions import DataError
from digitlab.preprocess import (ImageError, ImageTooLargeError, NoDigitError, UnsupportedImageError,
                                 open_image, preprocess, preprocess_file)


@pytest.fixture(scope="module")
def paper_seven():
    """A dark 7 on light paper, 120x160, away from the centre."""
    return render_digit(7, font_paths()[0], font_size=70, canvas=(160, 120),
                        rng=np.random.default_rng(3), noise=0)


def bbox(a):
    rows, cols = np.flatnonzero(a.any(1)), np.flatnonzero(a.any(0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def test_preprocess_mnist_geometry(paper_seven):
    """Check the output is white-on-black uint8 28x28, fitted into 20x20, centred by mass at (14, 14)."""
    res = preprocess(paper_seven)
    assert res.image.shape == (28, 28) and res.image.dtype == np.uint8
    assert res.inverted
    assert res.image[0].max() == 0 and res.image[:, 0].max() == 0  # dark background
    assert max(bbox(res.image)) == 20
    cy, cx = ndimage.center_of_mass(res.image.astype(float))
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
    assert res.image.max() == 255


def test_preprocess_off_centre_same_as_centred():
    """Check that the digit's position on the page does not matter."""
    font = font_paths()[0]
    a = render_digit(3, font, canvas=(200, 200), rng=np.random.default_rng(1), noise=0)
    b = render_digit(3, font, canvas=(200, 200), rng=np.random.default_rng(7), noise=0)
    assert not np.array_equal(a, b)
    assert np.array_equal(preprocess(a).image, preprocess(b).image)


def test_preprocess_huge_and_tiny_images(paper_seven):
    """Check a 3000 px page and an 12x10 thumbnail both give a 20 px high digit."""
    big = np.asarray(Image.fromarray(paper_seven).resize((3000, 2250)))
    tiny = np.asarray(Image.fromarray(paper_seven).resize((16, 12), Image.Resampling.BOX))
    for a in (big, tiny):
        out = preprocess(png_bytes(a)).image
        assert max(bbox(out)) == 20
    # the huge one is the same digit as the original
    same = preprocess(paper_seven).image.astype(int)
    assert np.abs(preprocess(png_bytes(big)).image.astype(int) - same).mean() < 12


def test_preprocess_negative_gives_same_array(paper_seven, digits):
    """Check the property of C11: an image and its negative preprocess to the same array."""
    for a in [paper_seven, *(np.kron(im, np.ones((4, 4), np.uint8)) for im in digits.images[:30])]:
        assert np.array_equal(preprocess(a).image, preprocess(255 - a).image)
    assert preprocess(paper_seven).inverted and not preprocess(255 - paper_seven).inverted


def test_preprocess_mid_grey_paper():
    """Check polarity on grey paper darker than 50%: ink is the extreme farther from the border."""
    a = np.full((80, 60), 100, np.uint8)
    a[10:70, 28:34] = 10  # dark stroke on dark-grey paper
    res = preprocess(a)
    assert res.inverted and max(bbox(res.image)) == 20


@pytest.mark.parametrize("ink", [0, 255], ids=["black-ink", "white-ink"])
def test_preprocess_rgba_ink_on_transparent(paper_seven, ink):
    """Check C6: ink on a fully transparent background is found, whatever its colour."""
    alpha = (255 - paper_seven.astype(int)).clip(0, 255).astype(np.uint8)
    rgba = np.dstack([np.full_like(alpha, ink)] * 3 + [alpha])
    res = preprocess(png_bytes(rgba, "RGBA"))
    ref = preprocess(paper_seven).image.astype(int)
    assert np.abs(res.image.astype(int) - ref).mean() < 8


def test_preprocess_palette_with_transparency(paper_seven):
    """Check C8: a palette image whose background colour is the transparent index."""
    img = Image.fromarray(np.where(paper_seven < 128, 0, 255).astype(np.uint8)).convert("P")
    buf = io.BytesIO()
    img.save(buf, format="PNG", transparency=img.getpixel((0, 0)))
    res = preprocess(buf.getvalue())
    assert max(bbox(res.image)) == 20
    assert np.corrcoef(res.image.ravel(), preprocess(paper_seven).image.ravel())[0, 1] > 0.9


def test_preprocess_16bit_is_scaled_not_clipped(paper_seven):
    """Check C7: a 16-bit grey PNG gives the same digit as its 8-bit version."""
    wide = paper_seven.astype(np.uint16) * 257
    img = Image.fromarray(wide)
    assert img.mode.startswith("I;16")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    opened = open_image(buf.getvalue())
    assert opened.mode.startswith("I")
    assert np.array_equal(preprocess(buf.getvalue()).image, preprocess(paper_seven).image)


def test_preprocess_animated_gif_uses_first_frame(paper_seven):
    """Check C9: frame 0 is used, with a note; frame 1 (a different digit) is ignored."""
    other = render_digit(1, font_paths()[0], font_size=70, canvas=(160, 120), noise=0)
    frames = [Image.fromarray(paper_seven), Image.fromarray(other)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    res = preprocess(buf.getvalue())
    assert res.notes == ["animated image: using first frame"]
    assert np.array_equal(res.image, preprocess(png_bytes(paper_seven, format="GIF")).image)


@pytest.mark.parametrize("orientation,rotate", [(6, 90), (8, 270), (3, 180)])
def test_preprocess_exif_orientation(paper_seven, orientation, rotate):
    """Check C10: a phone photo stored sideways with an EXIF orientation tag comes out upright."""
    stored = Image.fromarray(paper_seven).rotate(rotate, expand=True)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    stored.save(buf, format="JPEG", exif=exif, quality=95)
    res = preprocess(buf.getvalue())
    upright = preprocess(png_bytes(paper_seven, format="JPEG", quality=95)).image
    assert np.abs(res.image.astype(int) - upright.astype(int)).mean() < 6


def test_preprocess_ignores_dust(paper_seven):
    """Check that a speck far from the digit does not change the result."""
    dusty = paper_seven.copy()
    dusty[2:4, 150:152] = 0  # darker than the ink, far from it
    diff = preprocess(dusty).image.astype(int) - preprocess(paper_seven).image
    assert np.abs(diff).mean() < 1.0 and max(bbox(preprocess(dusty).image)) == 20


@pytest.mark.parametrize("value", [0, 128, 255])
def test_preprocess_blank_says_no_digit(value):
    """Check a blank image gives a clear "no digit found", not a guess."""
    with pytest.raises(NoDigitError, match="no digit found"):
        preprocess(png_bytes(np.full((50, 50), value, np.uint8)))
    noisy = np.random.default_rng(0).normal(200, 4, (50, 50)).clip(0, 255).astype(np.uint8)
    with pytest.raises(NoDigitError, match="no digit found"):
        preprocess(noisy)


def test_preprocess_small_sizes(paper_seven, digits):
    """Check the 8x8 recipe fills the field like scikit-learn's digits do."""
    out = preprocess(paper_seven, size=8).image
    assert out.shape == (8, 8)
    assert max(bbox(out)) == 8
    assert max(bbox(digits.images[0])) == 8


def test_preprocess_arrays_by_dtype_and_range(paper_seven):
    """Check uint8, uint16, 0–1 floats and 0–255 floats give the same digit."""
    ref = preprocess(paper_seven).image
    for a in (paper_seven.astype(np.uint16) * 257, paper_seven / 255.0, paper_seven.astype(float)):
        assert np.array_equal(preprocess(a).image, ref)


@pytest.mark.parametrize("a,msg", [
    (np.full((28, 28), np.nan), "NaN or infinite"),
    (np.full((28, 28), -3.0), "minimum of -3"),
    (np.full((28, 28), 300.0), "maximum of 300"),
    (np.zeros((2, 28, 28)), "expected a 2-D image"),
    (np.array([["a"] * 28] * 28), "expected numbers"),
], ids=["nan", "negative", "over-255", "3-d", "strings"])
def test_preprocess_bad_arrays(a, msg):
    with pytest.raises(ImageError, match=msg):
        preprocess(a, name="x.npy")


# ---- BAD-INPUTS C: decoding ------------------------------------------------------------------

def _forged_png(width, height, color_type=0):
    """A valid 1x1 PNG whose IHDR claims width x height (C5); colour type 6 is RGBA."""
    raw = png_bytes(np.zeros((1, 1), np.uint8))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return raw[:8] + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk)) + raw[33:]


@pytest.mark.parametrize("data,exc,msg", [
    (b"", UnsupportedImageError, "empty file"),
    (b"hello, this is text\n" * 10, UnsupportedImageError, r"not a supported image \(PNG/JPEG/GIF/BMP/WEBP\)"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><text>7</text></svg>', UnsupportedImageError,
     "not a supported image"),
    (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n", UnsupportedImageError, "not a supported image"),
    (png_bytes(np.zeros((1, 1), np.uint8)), ImageError, r"image too small \(1×1"),
    (png_bytes(np.zeros((4, 30), np.uint8)), ImageError, r"image too small \(30×4"),
    (_forged_png(20000, 20000), ImageTooLargeError, r"image too large \(20000×20000 pixels"),
], ids=["empty", "text", "svg", "pdf", "1x1", "thin", "forged-header"])
def test_open_image_rejects(data, exc, msg):
    with pytest.raises(exc, match=msg) as info:
        open_image(data, "upload.png")
    assert str(info.value).startswith("upload.png: ")
    assert isinstance(info.value, DataError)


@pytest.mark.parametrize("fmt", ["TIFF", "ICO", "PPM"])
def test_open_image_refuses_formats_outside_allow_list(fmt, paper_seven):
    """Check C12: formats Pillow could read but digitlab does not accept."""
    data = png_bytes(paper_seven[:64, :64], format=fmt)
    with pytest.raises(UnsupportedImageError, match="not a supported image"):
        open_image(data, "x")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_open_image_truncated(fmt, paper_seven):
    """Check C2: a cut file is "image is truncated", not a traceback or a half-decoded guess."""
    noisy = np.random.default_rng(0).integers(0, 255, paper_seven.shape, dtype=np.uint8)
    data = png_bytes(noisy, format=fmt)
    with pytest.raises(ImageError, match="image is truncated") as info:
        open_image(data[: len(data) // 2], "cut")
    assert not isinstance(info.value, UnsupportedImageError)


def test_open_image_png_bomb_rejected_before_decoding():
    """Check C4: a 10000x10000 PNG that compresses to ~100 KB is refused from its header."""
    img = Image.new("1", (10000, 10000))
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    assert len(buf.getvalue()) < 200_000
    with pytest.raises(ImageTooLargeError, match=r"image too large \(10000×10000 pixels; the limit is 40,000,000\)"):
        open_image(buf.getvalue(), "bomb.png")


def test_open_image_big_jpeg_is_drafted(paper_seven):
    """Check a 45 MP JPEG (over the pixel cap) is decoded at reduced scale instead of refused."""
    big = Image.fromarray(paper_seven).resize((8000, 6000))
    buf = io.BytesIO()
    big.save(buf, format="JPEG", quality=50)
    img = open_image(buf.getvalue(), "photo.jpg")
    assert max(img.size) <= 2048
    assert max(bbox(preprocess(img).image)) == 20


def test_preprocess_file_errors_name_the_file(tmp_path):
    """Check missing files, folders and bad content name the path (exit 66 / 65)."""
    from digitlab.exceptions import InputMissingError

    with pytest.raises(InputMissingError, match="nope.png: no such file"):
        preprocess_file(tmp_path / "nope.png")
    with pytest.raises(InputMissingError, match="is a directory"):
        preprocess_file(tmp_path)
    bad = tmp_path / "fake.png"
    bad.write_bytes(b"GIF89a but not really")
    with pytest.raises(UnsupportedImageError, match="fake.png: not a supported image"):
        preprocess_file(bad)


def test_fast_helpers_match_numpy_and_scipy():
    """Check the hand-written percentile and erosion (kept for speed) against numpy and scipy."""
    from digitlab.preprocess import _erode, _percentiles

    rng = np.random.default_rng(1)
    for n in (1, 2, 7, 100, 4900):
        x = np.rint(rng.random(n) * 65535).astype(np.float32)
        assert _percentiles(x, (0.5, 99.5)) == pytest.approx(np.percentile(x, [0.5, 99.5]), rel=1e-9)
    for _ in range(50):
        m = rng.random((rng.integers(3, 40), rng.integers(3, 40))) > 0.3
        assert np.array_equal(_erode(m), ndimage.binary_erosion(m))


# ---- H6 memory: decodes are bounded by a memory budget, not only by a pixel count -----------------

def rgba_png(side, paper_seven):
    """A *side* x *side* RGBA PNG of the 7 (opaque), compressed hard: a few hundred KB at most."""
    big = Image.fromarray(paper_seven).resize((side, side)).convert("RGBA")
    buf = io.BytesIO()
    big.save(buf, format="PNG", compress_level=9)
    return buf.getvalue()


@pytest.mark.parametrize("data,msg", [
    (_forged_png(6300, 6300, color_type=6), r"6300×6300 RGBA PNG needs about 151 MB of memory; the limit is 96 MB"),
    (_forged_png(5100, 5100, color_type=6), r"5100×5100 RGBA PNG needs about 99 MB"),
], ids=["6300-rgba", "5100-rgba"])
def test_h6_decode_over_the_budget_refused_before_decoding(data, msg, monkeypatch):
    """Check H6: an image under the pixel cap whose decode would take more than the memory
    budget is refused from its header (nothing is decoded), as too large (HTTP 413)."""
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("decoded"))
    with pytest.raises(ImageTooLargeError, match=r"bomb.png: image too large to decode \(" + msg) as info:
        preprocess(data, name="bomb.png")
    assert info.value.status == 413


def test_h6_progressive_jpeg_counts_its_full_size_coefficients(paper_seven):
    """Check a progressive JPEG is budgeted at its full-size coefficient buffer (libjpeg keeps
    every coefficient whatever the draft scale), while the baseline version decodes drafted."""
    big = Image.fromarray(paper_seven).resize((8000, 6400))
    for progressive in (False, True):
        buf = io.BytesIO()
        big.save(buf, format="JPEG", quality=50, progressive=progressive)
        if progressive:
            with pytest.raises(ImageTooLargeError, match=r"\(8000×6400 L JPEG needs about 10\d MB"):
                open_image(buf.getvalue(), "photo.jpg")
        else:
            assert max(open_image(buf.getvalue(), "photo.jpg").size) <= 2048


def test_h6_jpeg_scan_layout():
    """Check the marker walk that tells whether libjpeg buffers the whole image."""
    from digitlab._imagemem import jpeg_buffers_whole_image

    a = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    assert not jpeg_buffers_whole_image(png_bytes(a, "RGB", format="JPEG"))
    assert not jpeg_buffers_whole_image(png_bytes(a[..., 0], format="JPEG"))
    assert jpeg_buffers_whole_image(png_bytes(a, "RGB", format="JPEG", progressive=True))
    assert jpeg_buffers_whole_image(b"\xff\xd8\xff")  # cut before any scan: assume the worst


@pytest.mark.parametrize("mode", ["RGBA", "P", "L", "1", "I;16", "RGB", "LA"])
def test_h6_banded_shrink_equals_pillows_resize(paper_seven, mode):
    """Check the reduction done in bands (no full-size copy) gives Pillow's resize pixels exactly."""
    from PIL import Image as PILImage

    from digitlab._imagemem import shrink

    base = PILImage.fromarray(paper_seven).resize((1700, 1300))
    img = base.convert(mode) if mode != "I;16" else PILImage.fromarray(np.asarray(base).astype(np.uint16) * 257)
    if mode == "P":
        img.info["transparency"] = img.getpixel((0, 0))
    size = (1024, round(1300 * 1024 / 1700))
    old = img.convert({"P": "RGBA", "1": "L"}.get(mode, mode)) if mode in ("P", "1") else img
    expected = old.resize(size, PILImage.Resampling.BOX)
    got = shrink(img, 1024)
    assert got.size == size and got.mode == expected.mode
    assert np.array_equal(np.asarray(got), np.asarray(expected))


def test_h6_big_accepted_image_same_digit(paper_seven):
    """Check an image just under the budget (3000x3000 RGBA, 36 MB decoded) is read like the small one."""
    ref = preprocess(paper_seven).image.astype(int)
    res = preprocess(rgba_png(3000, paper_seven))
    assert max(bbox(res.image)) == 20 and np.abs(res.image.astype(int) - ref).mean() < 12


def test_h6_concurrent_decodes_share_one_budget(paper_seven, monkeypatch):
    """Check threads decoding big images together never hold more than the budget's pool, and
    all of them get their answer."""
    from concurrent.futures import ThreadPoolExecutor

    from digitlab import _imagemem, decode

    budget = _imagemem.DecodeBudget(150 * 2**20)
    monkeypatch.setattr(decode, "DECODES", budget)
    data = rgba_png(2000, paper_seven)  # ~60 MB to decode and reduce: two fit in the pool, three do not
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: preprocess(data).image, range(6)))
    assert all(np.array_equal(r, results[0]) for r in results)
    assert 50 * 2**20 < budget.peak <= 150 * 2**20
    assert budget.used == 0 and budget.waiting == 0


def test_h6_too_many_waiting_is_busy(paper_seven, monkeypatch):
    """Check a decode that would wait beyond ``max_waiting`` is refused as busy (HTTP 503)."""
    from digitlab import _imagemem, decode
    from digitlab.preprocess import ImageBusyError

    budget = _imagemem.DecodeBudget(100 * 2**20, max_waiting=0)
    monkeypatch.setattr(decode, "DECODES", budget)
    with budget.reserve(100 * 2**20):  # the pool is full
        with pytest.raises(ImageBusyError, match="big.png: the server is busy decoding other large images") as info:
            preprocess(rgba_png(2000, paper_seven), name="big.png")
    assert info.value.status == 503
    assert preprocess(paper_seven).image.shape == (28, 28)  # a small array needs no reservation


def test_h6_predict_cli_refuses_the_bomb(run_cli, digits_run, tmp_path, paper_seven):
    """Check `digitlab predict` applies the same budget: one line naming the file, exit 65."""
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_forged_png(6300, 6300, color_type=6))
    good = tmp_path / "seven.png"
    good.write_bytes(png_bytes(paper_seven))
    code, out, err = run_cli("predict", digits_run.path, bomb, good)
    assert code == 65 and "Traceback" not in err
    assert f"{bomb}: image too large to decode (6300×6300 RGBA PNG needs about 151 MB" in err
    assert out.startswith(str(good))
