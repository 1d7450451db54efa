"""Hostile model files (BAD-INPUTS D1–D8): refused with a typed error and exit 65/66, never executed.

Each file is tried through ``persist.load_model``, through ``Run.load_model`` (run.json's SHA-256,
version and shape checks) and through the CLI command that loads models (``digitlab evaluate``).
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from digitlab.exceptions import DataError, InputMissingError, ModelError
from digitlab.persist import file_sha256, load_model, save_model
from digitlab.runs import read_run

SENTINEL_NAME = "pwned"


@pytest.fixture(scope="module")
def good_run(tmp_path_factory, digits):
    from digitlab import train

    return train(digits, "logreg", test_size=0.25, evaluate=False, runs_dir=tmp_path_factory.mktemp("runs"))


@pytest.fixture
def run_dir(good_run, tmp_path):
    """A fresh copy of a valid run folder to tamper with."""
    dst = tmp_path / "runs" / good_run.id
    shutil.copytree(good_run.path, dst)
    return dst


@pytest.fixture
def sentinel(tmp_path):
    path = tmp_path / SENTINEL_NAME
    yield path
    assert not path.exists(), "loading the model ran code"


class _Evil:
    """Unpickling this creates the sentinel file (a stand-in for any code execution)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


class EvilEstimator:
    """A class outside the allow-list; its __setstate__ would create the sentinel."""

    def __init__(self, path=None):
        self.path = str(path)

    def __setstate__(self, state):
        open(state["path"], "w").close()


def _set_run_meta(run_dir: Path, **changes):
    p = run_dir / "run.json"
    meta = json.loads(p.read_text())
    for dotted, value in changes.items():
        node = meta
        *parents, leaf = dotted.split(".")
        for k in parents:
            node = node[k]
        node[leaf] = value
    p.write_text(json.dumps(meta))


def _cli_evaluate(run_cli, run_dir, *extra):
    return run_cli("evaluate", run_dir, "--cv", "0", "--no-figures", *extra)


def _one_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("digitlab: error:") and "Traceback" not in err, err
    return lines[0]


def test_d1_missing_model(run_dir, run_cli):
    """D1: exit 66, with the path and what to do."""
    (run_dir / "model.skops").unlink()
    with pytest.raises(InputMissingError, match="model not found.*train"):
        read_run(run_dir).load_model()
    code, _, err = _cli_evaluate(run_cli, run_dir)
    assert code == 66 and "model.skops" in _one_line(err)


@pytest.mark.parametrize("content", [
    os.urandom(4096), b"", b"PK\x03\x04" + os.urandom(100),
], ids=["random-bytes", "empty", "zip-magic-then-garbage"])
def test_d2_not_a_zip(run_dir, run_cli, content):
    """D2: random bytes, empty file → "not a digitlab model (skops zip)", exit 65."""
    (run_dir / "model.skops").write_bytes(content)
    _set_run_meta(run_dir, **{"model.sha256": file_sha256(run_dir / "model.skops")})
    with pytest.raises(ModelError, match=r"not a digitlab model \(skops zip\)"):
        read_run(run_dir).load_model()
    code, _, err = _cli_evaluate(run_cli, run_dir)
    assert code == 65 and "not a digitlab model" in _one_line(err)


def test_d2_truncated_zip(run_dir, run_cli):
    """D2: the first half of a real model file."""
    data = (run_dir / "model.skops").read_bytes()
    (run_dir / "model.skops").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="not a digitlab model"):
        load_model(run_dir / "model.skops")
    with pytest.raises(ModelError):
        read_run(run_dir).load_model()
    code, _, err = _cli_evaluate(run_cli, run_dir)
    assert code == 65 and "model.skops" in _one_line(err)


@pytest.mark.parametrize("name", ["model.skops", "model.pkl"])
def test_d3_pickle_is_never_unpickled(run_dir, run_cli, sentinel, name):
    """D3: a pickle whose loading creates a file, as .skops (content check) or .pkl (extension)."""
    payload = pickle.dumps(_Evil(sentinel))
    target = run_dir / name
    target.write_bytes(payload)
    match = "pickle files are never loaded" if name.endswith(".pkl") else "not a digitlab model"
    with pytest.raises(ModelError, match=match):
        load_model(target)
    if name == "model.skops":
        with pytest.raises(ModelError):
            read_run(run_dir).load_model()
        code, _, err = _cli_evaluate(run_cli, run_dir)
        assert code == 65
        _one_line(err)


def test_d3_sentinel_payload_is_real(tmp_path):
    """Guard for D3: the crafted pickle does create the sentinel when unpickled (so its absence means something)."""
    probe = tmp_path / "probe"
    pickle.loads(pickle.dumps(_Evil(probe))).close()
    assert probe.exists()


@pytest.mark.parametrize("make, types", [
    (lambda p: {"f": os.system}, ["posix.system"]),
    (lambda p: EvilEstimator(p), [f"{__name__}.EvilEstimator"]),
], ids=["posix.system", "unknown-class"])
def test_d4_untrusted_types(run_dir, run_cli, sentinel, make, types):
    """D4: a skops file naming os.system or a custom class: refused, nothing constructed."""
    import skops.io as sio

    target = run_dir / "model.skops"
    sio.dump(make(sentinel), target)
    _set_run_meta(run_dir, **{"model.sha256": file_sha256(target)})
    msg = f"model contains untrusted types {types}"
    with pytest.raises(ModelError) as info:
        load_model(target)
    assert msg in str(info.value)
    with pytest.raises(ModelError, match="untrusted types"):
        read_run(run_dir).load_model()
    code, _, err = _cli_evaluate(run_cli, run_dir)
    assert code == 65 and msg in _one_line(err)


def _flip_member_bytes(path: Path, member_suffix: str):
    """Flip bytes inside one member's compressed data, leaving the zip structure valid."""
    with zipfile.ZipFile(path) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith(member_suffix))
    data = bytearray(path.read_bytes())
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26: info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    mid = start + info.compress_size // 2
    for i in range(mid, mid + 4):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("member", [".npy", "schema.json"])
def test_d5_tampered_member(run_dir, run_cli, member):
    """D5: flipped bytes in one member → "corrupted or modified" (SHA-256 in a run, CRC otherwise)."""
    target = run_dir / "model.skops"
    _flip_member_bytes(target, member)
    with pytest.raises(ModelError, match="corrupted or modified"):
        read_run(run_dir).load_model()
    with pytest.raises(ModelError, match="corrupted or modified"):
        load_model(target)
    code, _, err = _cli_evaluate(run_cli, run_dir)
    assert code == 65 and "corrupted or modified" in _one_line(err)


def test_d6_version_recorded_in_run(run_dir, run_cli):
    """D6: run.json says another scikit-learn: refused unless --allow-version-mismatch."""
    _set_run_meta(run_dir, **{"versions.sklearn": "0.20.0"})
    with pytest.raises(ModelError, match="saved with scikit-learn 0.20.0, running 1.9"):
        read_run(run_dir).load_model()
    assert read_run(run_dir).load_model(allow_version_mismatch=True).predict(np.zeros((1, 64), "uint8")).shape == (1,)
    code, _, err = _cli_evaluate(run_cli, run_dir)
    assert code == 65 and "--allow-version-mismatch" in _one_line(err)


def test_d6_version_inside_the_file(tmp_path, digits):
    """D6: an estimator whose pickled state says scikit-learn 0.20.0 (InconsistentVersionWarning → error)."""
    from digitlab.models import make_model

    target = tmp_path / "old.skops"
    save_model(make_model("logreg").fit(digits.X[:200], digits.y[:200]), target)
    with zipfile.ZipFile(target) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    schema = json.loads(members["schema.json"])
    _replace_sklearn_version(schema, "0.20.0")
    members["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, b in members.items():
            zf.writestr(n, b)
    with pytest.raises(ModelError, match="saved with scikit-learn 0.20.0, running 1.9"):
        load_model(target)
    from sklearn.exceptions import InconsistentVersionWarning

    with pytest.warns(InconsistentVersionWarning):
        assert load_model(target, allow_version_mismatch=True) is not None


def _replace_sklearn_version(node, version):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "_sklearn_version" and isinstance(v, dict):
                v["content"] = json.dumps(version)
            else:
                _replace_sklearn_version(v, version)
    elif isinstance(node, list):
        for v in node:
            _replace_sklearn_version(v, version)


@pytest.mark.parametrize("kind, match", [
    ("regressor", r"untrusted types \['sklearn\.linear_model\._base\.LinearRegression'\]"), ("features", "expects 10 features, run.json says 64"),
    ("classes", "has 3 classes, run.json says 10"),
], ids=["regressor", "n_features", "classes"])
def test_d7_valid_skops_wrong_content(run_dir, run_cli, digits, kind, match):
    """D7: a trusted, intact file whose model does not fit the run's data."""
    from sklearn.linear_model import LinearRegression

    from digitlab.models import make_model

    if kind == "regressor":
        model = LinearRegression().fit(digits.X[:100], digits.y[:100])
    elif kind == "features":
        model = make_model("logreg").fit(digits.X[:200, :10], digits.y[:200])
    else:
        keep = digits.y < 3
        model = make_model("logreg").fit(digits.X[keep], digits.y[keep])
    target = run_dir / "model.skops"
    _set_run_meta(run_dir, **{"model.sha256": save_model(model, target)})
    with pytest.raises(ModelError, match=match):
        read_run(run_dir).load_model()
    code, _, err = _cli_evaluate(run_cli, run_dir)
    assert code == 65 and re.search(match.split(",")[0], _one_line(err))


@pytest.mark.parametrize("key", ["model.sha256", "versions"])
@pytest.mark.parametrize("how", ["missing", "null"])
def test_h2_incomplete_run_description(run_dir, run_cli, key, how):
    """H2: run.json without the model's SHA-256 or the library versions is an error, not a skipped check."""
    p = run_dir / "run.json"
    meta = json.loads(p.read_text())
    section, _, leaf = key.rpartition(".")
    node = meta[section] if section else meta
    if how == "missing":
        del node[leaf]
    else:
        node[leaf] = None
    p.write_text(json.dumps(meta))
    # a null section is already a type error in run.json; a missing key is caught by load_model
    phrase = r"(incomplete|invalid) run description.*(model\.sha256|versions)"
    with pytest.raises(DataError, match=phrase) as info:
        read_run(run_dir).load_model()
    assert info.value.exit_code == 65
    code, _, err = _cli_evaluate(run_cli, run_dir)
    assert code == 65 and re.search(phrase, _one_line(err))


def _patch_claimed_size(path: Path, member: str, size: int):
    """Make the central directory claim *size* bytes for *member* (a zip bomb's header)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
    pos = 0
    while True:
        pos = data.find(b"PK\x01\x02", pos)
        name_len = struct.unpack("<H", data[pos + 28: pos + 30])[0]
        if data[pos + 46: pos + 46 + name_len].decode() == info.filename:
            data[pos + 24: pos + 28] = struct.pack("<I", size)
            break
        pos += 4
    path.write_bytes(bytes(data))


def test_d8_zip_bomb_member(run_dir, run_cli):
    """D8: schema.json claiming 4 GB is refused from the header, before anything is inflated."""
    target = run_dir / "model.skops"
    _patch_claimed_size(target, "schema.json", 0xFFFFFFF0)
    _set_run_meta(run_dir, **{"model.sha256": file_sha256(target)})
    with pytest.raises(ModelError, match="member schema.json claims 4,294,967,280 bytes"):
        load_model(target)
    code, _, err = _cli_evaluate(run_cli, run_dir)
    assert code == 65 and "claims" in _one_line(err)


def test_d8_real_bomb_under_member_cap(tmp_path, monkeypatch):
    """D8: many real members each under the cap but too big together are refused too."""
    import digitlab.persist as persist

    monkeypatch.setattr(persist, "MAX_MEMBER_BYTES", 2**20)
    monkeypatch.setattr(persist, "MAX_TOTAL_BYTES", 4 * 2**20)
    target = tmp_path / "bomb.skops"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("schema.json", b"{}")
        for i in range(5):
            zf.writestr(f"{i}.npy", bytes(2**20 - 1))
    assert target.stat().st_size < 50_000
    with pytest.raises(ModelError, match="members claim 5,242,877 bytes in all"):
        load_model(target)
    with zipfile.ZipFile(target, "a") as zf:
        zf.writestr("big.npy", bytes(2**20 + 1))
    with pytest.raises(ModelError, match="member big.npy claims 1,048,577 bytes"):
        load_model(target)
