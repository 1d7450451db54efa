"""skops is imported without torch, and still trusts exactly the estimators it would otherwise."""

import json
import subprocess
import sys

import pytest

LIST = "from skops.io import _trusted_types as t; import json, sys; " \
       "print(json.dumps([sorted(t.SKLEARN_ESTIMATOR_TYPE_NAMES), 'torch' in sys.modules, " \
       "'sklearn.externals.array_api_compat.torch' in sys.modules]))"


def _run(code: str):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_skops_io_skips_torch_but_lists_the_same_estimators():
    pytest.importorskip("torch")
    ours, torch_loaded, placeholder_left = _run("from digitlab.persist import skops_io; skops_io(); " + LIST)
    plain, plain_torch, _ = _run("import skops.io; " + LIST)
    assert plain_torch  # the cost being avoided is real here
    assert not torch_loaded and not placeholder_left
    assert ours == plain and len(ours) > 100
