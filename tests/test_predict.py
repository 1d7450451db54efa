"""`digitlab predict` and digitlab.predicting: real-world accuracy, inputs, output, bad files."""

import json

import numpy as np
import pytest
from PIL import Image

from _render import font_paths, png_bytes, render_digit, rendered_set
from digitlab import training
from digitlab.datasets import write_idx
from digitlab.exceptions import DataError, InputMissingError, ModelError
from digitlab.predicting import SOFTMAX, Predictor, predict_files
from digitlab.preprocess import UnsupportedImageError


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def mnist_run(mnist, runs_root):
    """logreg on the same 3,000 images as `mnist_small` (no evaluation: that is another module's job)."""
    return training.train(mnist, "logreg", limit=3000, seed=0, evaluate=False, runs_dir=runs_root)


@pytest.fixture(scope="module")
def detector_run(digits, runs_root):
    """An SGD "is it a 5?" detector on the 8x8 digits: binary, no predict_proba."""
    return training.train(digits, "sgd", detect=5, test_size=0.25, evaluate=False, runs_dir=runs_root)


@pytest.fixture(scope="module")
def clear_digits(tmp_path_factory):
    """PNG files of a dark 0, 3 and 7 on light paper (digits the small logreg reads reliably)."""
    d = tmp_path_factory.mktemp("clear")
    font = font_paths()[0]
    for k in (0, 3, 7):
        (d / f"digit{k}.png").write_bytes(png_bytes(render_digit(k, font, font_size=60, canvas=(140, 110),
                                                                 rng=np.random.default_rng(k))))
    return d


def naive_28(a):
    """What you get without digitlab's preprocessing: resize the page, invert it to white-on-black."""
    return 255 - np.asarray(Image.fromarray(a).resize((28, 28), Image.Resampling.LANCZOS))


def _real_world_scores(model, n_per_digit=4):
    images, y = rendered_set(n_per_digit, seed=0)
    pred = Predictor(model)
    prepared = np.stack([pred.prepare(a).image for a in images]).reshape(len(images), -1)
    naive = np.stack([naive_28(a) for a in images]).reshape(len(images), -1)
    return (model.predict(prepared) == y).mean(), (model.predict(naive) == y).mean(), len(y)


def test_real_world_accuracy_logreg(mnist_small):
    """Check rendered font digits on paper are read well above chance, and far better than unprocessed."""
    from digitlab.models import make_model

    model = make_model("logreg").fit(mnist_small.X_train, mnist_small.y_train)
    acc, naive, n = _real_world_scores(model)
    assert n == 10 * 4 * len(font_paths()) and len(font_paths()) >= 6
    assert acc >= 0.55, acc  # chance is 0.10
    assert naive <= 0.25, naive
    assert acc - naive >= 0.35


@pytest.mark.slow
def test_real_world_accuracy_full_mnist_knn(mnist):
    """Check the best cheap model (k-NN on all 60,000 training digits) on the rendered digits."""
    from digitlab.models import make_model

    split = mnist.train_test()
    model = make_model("knn").fit(split.X_train, split.y_train)
    acc, naive, _ = _real_world_scores(model, n_per_digit=3)
    assert acc >= 0.7, acc
    assert acc - naive >= 0.5


def test_predict_cli_lines(run_cli, mnist_run, clear_digits):
    """Check one line per file: digit, probability, runner-up."""
    code, out, err = run_cli("predict", mnist_run.path, *sorted(clear_digits.iterdir()), "--top", "2")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 3
    for line, k in zip(lines, (0, 3, 7)):
        assert line.startswith(f"{clear_digits / f'digit{k}.png'}: {k} (")
        assert ", runner-up " in line and ", then" not in line


def test_predict_file_name_with_newline_prints_one_line(run_cli, mnist_run, clear_digits, tmp_path):
    """H11: a newline or ESC in a file name is escaped: one output line per file, no terminal codes."""
    odd = tmp_path / "a\nforged: 9 (100.0%).png"
    odd.write_bytes((clear_digits / "digit3.png").read_bytes())
    esc = tmp_path / "\x1b[2Jwipe.png"
    esc.write_bytes(b"not an image")
    code, out, err = run_cli("predict", mnist_run.path, odd, clear_digits / "digit7.png", esc)
    assert code == 65
    lines = out.splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"{tmp_path}/a\\nforged: 9 (100.0%).png: 3 (")
    assert lines[1].startswith(f"{clear_digits / 'digit7.png'}: 7 (")
    assert err == f"digitlab: error: {tmp_path}/\\x1b[2Jwipe.png: not a supported image (PNG/JPEG/GIF/BMP/WEBP)\n"
    assert "\x1b" not in out + err
    code, out, _ = run_cli("predict", mnist_run.path, odd, "--json")  # JSON escapes by itself
    assert json.loads(out)[0]["file"] == str(odd)


def test_predict_png_piped_to_stdin(mnist_run, clear_digits, tmp_path):
    """A PNG piped in as `-` or /dev/stdin (a real pipe) is predicted like the file (was "empty file")."""
    import os
    import subprocess
    import sys

    png = (clear_digits / "digit3.png").read_bytes()
    for name in ("-", "/dev/stdin"):
        p = subprocess.run([sys.executable, "-m", "digitlab", "predict", str(mnist_run.path), name],
                           input=png, capture_output=True, timeout=300, env={**os.environ, "MPLBACKEND": "Agg"})
        assert p.returncode == 0, p.stderr
        assert p.stdout.decode().startswith(f"{name}: 3 (")


def test_predict_stdin_arrays_and_cap(run_cli, mnist_run, mnist_small, monkeypatch):
    """`-` also takes a .npy stack or an IDX file; more than the image cap is refused (65)."""
    import io

    from digitlab.datasets.idx import idx_bytes
    from digitlab.preprocess import MAX_FILE_BYTES, ImageTooLargeError

    images = mnist_small.test.images[:3]
    buf = io.BytesIO()
    np.save(buf, images)
    for data in (buf.getvalue(), idx_bytes(images)):
        code, out, err = run_cli("predict", mnist_run.path, "-", "--raw", "--json", input=data)
        assert code == 0, err
        assert [r["file"] for r in json.loads(out)] == ["-[0]", "-[1]", "-[2]"]
    code, out, err = run_cli("predict", mnist_run.path, "-", input=b"\0" * (MAX_FILE_BYTES + 1))
    assert code == 65 and err == "digitlab: error: -: image too large (file over 64 MB)\n"
    import types

    monkeypatch.setattr("sys.stdin", types.SimpleNamespace(buffer=io.BytesIO(b"\0" * (MAX_FILE_BYTES + 1))))
    with pytest.raises(ImageTooLargeError):
        predict_files(mnist_run, ["-"])


def test_predict_cli_json_top(run_cli, mnist_run, clear_digits):
    """Check --json: file, prediction, probability and the top k, consistent with the model."""
    files = sorted(clear_digits.iterdir())
    code, out, err = run_cli("predict", mnist_run.path, *files, "--json", "--top", "4")
    assert code == 0, err
    rows = json.loads(out)
    assert [r["file"] for r in rows] == [str(f) for f in files]
    model = mnist_run.load_model()
    pred = Predictor.from_run(mnist_run)
    for r, f in zip(rows, files):
        assert set(r) == {"file", "prediction", "probability", "top", "run", "run_reason"}
        assert len(r["top"]) == 4
        probs = [t["probability"] for t in r["top"]]
        assert probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-6
        assert r["prediction"] == r["top"][0]["class"] and r["probability"] == probs[0]
        x = pred.prepare(f.read_bytes()).image.reshape(1, -1)
        assert r["prediction"] == str(model.predict(x)[0])


def test_predict_folder_npy_idx_raw_matches_model(run_cli, mnist_run, mnist_small, tmp_path):
    """Check .npy stacks, flat rows and IDX files; with --raw they reproduce model.predict exactly."""
    images = mnist_small.test.images[:6]
    np.save(tmp_path / "stack.npy", images)
    np.save(tmp_path / "flat.npy", images.reshape(6, -1))
    write_idx(tmp_path / "t10k-images-idx3-ubyte", images)
    expected = [str(c) for c in mnist_run.load_model().predict(images.reshape(6, -1))]
    for name in ("stack.npy", "flat.npy", "t10k-images-idx3-ubyte"):
        code, out, err = run_cli("predict", mnist_run.path, tmp_path / name, "--raw", "--json")
        assert code == 0, err
        rows = json.loads(out)
        assert [r["file"] for r in rows] == [f"{tmp_path / name}[{i}]" for i in range(6)]
        assert [r["prediction"] for r in rows] == expected
    # without --raw the MNIST digits are preprocessed again and still mostly agree
    preds = predict_files(mnist_run, tmp_path / "stack.npy")
    assert sum(p.prediction == e for p, e in zip(preds, expected)) >= 5


def test_predict_folder_and_2d_npy(mnist_run, clear_digits, tmp_path):
    """Check a folder is walked in order and a 2-D .npy of any size is one image."""
    page = render_digit(7, font_paths()[0], font_size=60, canvas=(140, 110))
    np.save(tmp_path / "page.npy", page)
    preds = predict_files(mnist_run.path, [clear_digits, tmp_path / "page.npy"])
    assert [p.file.rsplit("/", 1)[-1] for p in preds] == ["digit0.png", "digit3.png", "digit7.png", "page.npy"]
    assert [p.prediction for p in preds] == ["0", "3", "7", "7"]
    assert all(p.image.shape == (28, 28) and p.inverted for p in preds)


def test_predict_bad_file_among_good(run_cli, mnist_run, clear_digits, tmp_path):
    """Check a bad file gets its own error line, the others are predicted, exit 65 at the end."""
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    blank = tmp_path / "blank.png"
    blank.write_bytes(png_bytes(np.full((40, 40), 240, np.uint8)))
    good = clear_digits / "digit3.png"
    code, out, err = run_cli("predict", mnist_run.path, bad, good, blank)
    assert code == 65
    assert out.strip().splitlines() == [l for l in out.strip().splitlines() if l.startswith(str(good))]
    assert len(out.strip().splitlines()) == 1
    assert f"digitlab: error: {bad}: not a supported image (PNG/JPEG/GIF/BMP/WEBP)" in err
    assert f"digitlab: error: {blank}: no digit found" in err
    assert "Traceback" not in err
    # --json keeps the failed files, with their error
    code, out, _ = run_cli("predict", mnist_run.path, bad, good, "--json")
    rows = json.loads(out)
    assert code == 65 and rows[0]["prediction"] is None and "not a supported image" in rows[0]["error"]
    assert rows[1]["prediction"] == "3"


def test_predict_missing_file_and_run(run_cli, mnist_run, clear_digits, tmp_path, runs_root):
    """Check exit 66 for a missing file (others still predicted) and for an unknown run."""
    code, out, err = run_cli("predict", mnist_run.path, tmp_path / "nope.png", clear_digits / "digit0.png")
    assert code == 66 and f"{tmp_path / 'nope.png'}: no such file" in err
    assert out.startswith(str(clear_digits / "digit0.png"))
    code, out, err = run_cli("predict", "no-such-run", clear_digits / "digit0.png", "--runs-dir", runs_root)
    assert code == 66 and "no-such-run: no such run" in err and out == ""
    code, _, err = run_cli("predict", mnist_run.path, tmp_path / "empty-dir-does-not-exist" / "x.npy")
    assert code == 66


def test_predict_api_raises_typed_errors(mnist_run, tmp_path):
    """Check the Python API raises the typed exception by default and collects on request."""
    bad = tmp_path / "bad.gif"
    bad.write_bytes(b"GIF89a\x00")
    with pytest.raises(UnsupportedImageError, match="bad.gif: not a supported image"):
        predict_files(mnist_run, [bad])
    with pytest.raises(InputMissingError, match="missing.png: no such file"):
        predict_files(mnist_run, [tmp_path / "missing.png"])
    arr = tmp_path / "obj.npy"
    np.save(arr, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="obj.npy: not a numpy .npy array"):
        predict_files(mnist_run, [arr])
    out = predict_files(mnist_run, [bad, arr], errors="collect")
    assert [type(p.error) for p in out] == [UnsupportedImageError, DataError]


def test_predict_show_input(run_cli, mnist_run, clear_digits, tmp_path):
    """Check --show-input saves a PNG of the model's inputs."""
    out_png = tmp_path / "seen.png"
    code, _, err = run_cli("predict", mnist_run.path, clear_digits, "--show-input", out_png)
    assert code == 0, err
    img = Image.open(out_png)
    assert img.format == "PNG" and img.size[0] > img.size[1] > 50
    assert [p.name for p in tmp_path.iterdir()] == ["seen.png"]  # no temp files left


def test_predict_detector_softmax(run_cli, detector_run, tmp_path):
    """Check a binary SGD detector answers "5"/"not 5" at 8x8, with softmax scores said so."""
    test = detector_run.load_split().test
    idx = np.r_[np.flatnonzero(test.labels == 5)[:15], np.flatnonzero(test.labels != 5)[:15]]
    files = []
    for i in idx:  # dark-on-light, 6x bigger than the model's input: preprocessing must undo both
        files.append(tmp_path / f"test{i:04d}.png")
        files[-1].write_bytes(png_bytes(255 - np.kron(test.images[i], np.ones((6, 6), np.uint8))))
    code, out, err = run_cli("predict", detector_run.path, *files, "--json")
    assert code == 0, err
    rows = json.loads(out)
    got = np.array([r["prediction"] == "5" for r in rows])
    assert {r["prediction"] for r in rows} == {"5", "not 5"}
    assert (got == (test.labels[idx] == 5)).mean() >= 0.85
    assert all(r["scores"] == SOFTMAX and {t["class"] for t in r["top"]} == {"5", "not 5"} for r in rows)
    assert f"probabilities are a {SOFTMAX}" in err
    assert Predictor.from_run(detector_run).shape == (8, 8)


def test_predict_refuses_tampered_model(run_cli, mnist_run, clear_digits, tmp_path):
    """Check D2/D5: a modified model file is refused (exit 65), nothing is predicted."""
    import shutil

    copy = tmp_path / mnist_run.id
    shutil.copytree(mnist_run.path, copy)
    data = bytearray((copy / "model.skops").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / "model.skops").write_bytes(bytes(data))
    code, out, err = run_cli("predict", copy, clear_digits / "digit0.png")
    assert code == 65 and out == ""
    assert "model file corrupted or modified" in err
    (copy / "model.skops").write_bytes(b"\x80\x04random pickle-ish bytes")
    with pytest.raises(ModelError):
        predict_files(copy, [clear_digits / "digit0.png"])
