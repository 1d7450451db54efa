"""A corpus of hostile model files built from real runs (BAD-INPUTS H1, issue 10 §1).

Each entry takes a real, working ``model.skops`` and hides one payload node in its ``schema.json``
(the file format skops writes: a JSON tree of nodes plus ``.npy`` members). A payload names a
callable reachable under a name an allow-list by prefix would accept (``sklearn.``, ``numpy.``,
``scipy.``, ``digitlab.``), a ``builtins`` function, ``numpy.load`` with pickles allowed, or an
operator/functools indirection; the position is an extra Pipeline attribute, a list, a dict key's
type, an estimator parameter, deep nesting, or the constructor of an SGD loss or a tree. Every
payload, if it ran, would leave an *effect* the tests can see: a marker file created, or a victim
file or folder deleted.

Besides code, a few entries carry memory-unsafe data for trusted types: scikit-learn's ``Tree``
indexes its node arrays without bounds checks, so a child index out of range or a cycle would read
wild memory or loop forever at predict time.

Used by ``tests/hostile/test_model_corpus.py`` and ``benchmarks/bench_reliability.py``.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

# Standard-library callables that scikit-learn, NumPy and SciPy modules re-export (found by walking
# their namespaces with sklearn 1.9 / numpy 2.4 / scipy 1.16): names an allow-list by prefix trusts.
REEXPORTS = {
    "check_output": ("sklearn.utils._testing", "check_output"),  # subprocess.check_output
    "remove": ("sklearn.datasets._lfw", "remove"),  # os.remove
    "rmtree": ("scipy._lib._tmpdirs", "rmtree"),  # shutil.rmtree
    "io_open": ("numpy.lib._datasource", "_open"),  # io.open
    "import_module": ("sklearn.utils.discovery", "import_module"),  # importlib.import_module
    "write_text": ("digitlab._atomic", "write_text"),  # digitlab's own file writer
}


# --- skops node builders -------------------------------------------------------------------------

def json_node(value) -> dict:
    return {"__class__": type(value).__name__, "__module__": "builtins", "__loader__": "JsonNode",
            "content": json.dumps(value), "is_json": True}


def str_type() -> dict:
    return {"__class__": "str", "__module__": "builtins", "__loader__": "TypeNode"}


def tuple_node(*items) -> dict:
    return {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode",
            "content": [i if isinstance(i, dict) and "__loader__" in i else json_node(i) for i in items]}


def list_node(*items) -> dict:
    node = tuple_node(*items)
    node.update(__class__="list", __loader__="ListNode")
    return node


def dict_node(content: dict, key_types=None) -> dict:
    return {"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode",
            "content": content, "key_types": list_node(*(key_types or [str_type() for _ in content]))}


def call(module: str, name: str, *args) -> dict:
    """skops' ConstructorFromReduceNode: loading calls ``module.name(*args)``."""
    return {"__class__": name, "__module__": module, "__loader__": "ConstructorFromReduceNode",
            "content": tuple_node(*args)}


def function(module: str, name: str) -> dict:
    """skops' FunctionNode: loading resolves ``module.name`` and stores the callable."""
    return {"__class__": name, "__module__": module, "__loader__": "FunctionNode", "content": {}}


def partial(func: dict, *args) -> dict:
    return {"__class__": "partial", "__module__": "functools", "__loader__": "PartialNode",
            "content": {"func": func, "args": tuple_node(*args), "kwds": dict_node({}),
                        "namespace": json_node(None)}}


def method(module: str, cls: str, func: str, obj: dict) -> dict:
    return {"__class__": cls, "__module__": module, "__loader__": "MethodNode",
            "content": {"func": func, "obj": obj}}


def loss(module: str, name: str, *args) -> dict:
    """skops' LossNode: loading calls ``module.name(*args)`` (meant for SGD's Cython losses)."""
    return {"__class__": name, "__module__": module, "__loader__": "LossNode",
            "__reduce__": {"args": tuple_node(*args)}, "content": dict_node({})}


def operator_func(name: str, *attrs) -> dict:
    return {"__class__": name, "__module__": "operator", "__loader__": "OperatorFuncNode",
            "attrs": tuple_node(*attrs)}


# --- the effects a payload would have --------------------------------------------------------------

@dataclass
class Effect:
    """What running the payload would do in *home*; ``happened()`` tells whether it did."""

    home: Path

    @property
    def marker(self) -> Path:
        return self.home / "pwned"

    @property
    def victim(self) -> Path:
        return self.home / "victim.txt"

    @property
    def victim_dir(self) -> Path:
        return self.home / "victim-dir"

    @property
    def evil_pickle(self) -> Path:
        return self.home / "evil.npy"

    def arm(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.victim.write_text("keep me")
        self.victim_dir.mkdir(exist_ok=True)
        (self.victim_dir / "f").write_text("keep me too")
        self.evil_pickle.write_bytes(pickle.dumps(_Touch(str(self.marker))))

    def happened(self) -> bool:
        return self.marker.exists() or not self.victim.exists() or not self.victim_dir.exists()


class _Touch:
    """Unpickling this creates the marker (what ``numpy.load(..., allow_pickle=True)`` would run)."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


# --- payloads: name -> builder(effect) -> node ------------------------------------------------------

def _sh(effect: Effect) -> list:
    return ["touch", str(effect.marker)]


PAYLOADS: dict[str, Callable[[Effect], dict]] = {
    # standard-library callables re-exported under trusted-looking names, called at load
    "sklearn.check_output": lambda e: call(*REEXPORTS["check_output"], list_node(*_sh(e))),
    "sklearn.os.remove": lambda e: call(*REEXPORTS["remove"], str(e.victim)),
    "scipy.shutil.rmtree": lambda e: call(*REEXPORTS["rmtree"], str(e.victim_dir)),
    "numpy.io.open": lambda e: call(*REEXPORTS["io_open"], str(e.marker), "w"),
    "sklearn.import_module": lambda e: call(*REEXPORTS["import_module"], "this"),
    "digitlab.write_text": lambda e: call(*REEXPORTS["write_text"], str(e.marker), "x"),
    # builtins
    "builtins.eval": lambda e: call("builtins", "eval", f"open({str(e.marker)!r}, 'w')"),
    "builtins.exec": lambda e: call("builtins", "exec", f"open({str(e.marker)!r}, 'w').close()"),
    "builtins.getattr": lambda e: call("builtins", "getattr", call("builtins", "__import__", "os"), "system"),
    "builtins.__import__": lambda e: call("builtins", "__import__", "os"),
    # numpy.load with pickles allowed: (file, mmap_mode, allow_pickle)
    "numpy.load-pickle": lambda e: call("numpy", "load", str(e.evil_pickle), None, True),
    # operator / functools indirections around a callable the file names
    "functools.reduce-exec": lambda e: call("functools", "reduce", function("builtins", "exec"),
                                            list_node(f"open({str(e.marker)!r}, 'w').close()", dict_node({}))),
    "operator.call-exec": lambda e: call("operator", "call", function("builtins", "exec"),
                                         f"open({str(e.marker)!r}, 'w').close()"),
    "functools.partial-system": lambda e: partial(function("os", "system"), f"touch {e.marker}"),
    "operator.methodcaller": lambda e: operator_func("methodcaller", "system", f"touch {e.marker}"),
    # a callable stored (not called) is code too: refused as such
    "function.sklearn-check_output": lambda e: function(*REEXPORTS["check_output"]),
    "function.numpy-ufunc-like": lambda e: function("numpy", "load"),
    "method.bound": lambda e: method("os", "DirEntry", "unlink", json_node(0)),
    # an object of a class that is not on the list (constructed by __new__ + state)
    "object.subprocess-Popen": lambda e: {"__class__": "Popen", "__module__": "subprocess",
                                          "__loader__": "ObjectNode", "content": dict_node({})},
}


# --- positions: where the payload hides in a real Pipeline's schema --------------------------------

def _objects(node, out=None):
    """Every ObjectNode in the tree, outermost first."""
    out = [] if out is None else out
    if isinstance(node, dict):
        if node.get("__loader__") == "ObjectNode":
            out.append(node)
        for v in node.values():
            _objects(v, out)
    elif isinstance(node, list):
        for v in node:
            _objects(v, out)
    return out


def _set_attr(obj_node: dict, key: str, value: dict) -> None:
    attrs = obj_node["content"]
    attrs["content"][key] = value
    attrs["key_types"]["content"].append(str_type())


def _pipeline(schema):
    return _objects(schema)[0]


def _clf(schema):
    """The Pipeline's last step (the classifier)."""
    steps = _pipeline(schema)["content"]["content"]["steps"]["content"]
    return steps[-1]["content"][1]


def hide_in_pipeline_attr(schema, node):
    """An extra attribute of the Pipeline: the model still predicts normally."""
    _set_attr(_pipeline(schema), "memory_hint", node)


def hide_in_list(schema, node):
    _set_attr(_pipeline(schema), "notes", list_node(1, "two", node))


def hide_in_param(schema, node):
    """Replaces a parameter of the classifier (its ``tol``)."""
    attrs = _clf(schema)["content"]["content"]
    key = "tol" if "tol" in attrs else sorted(attrs)[0]
    attrs[key] = node


def hide_deep(schema, node):
    """Inside a tuple inside a dict inside a list, in the scaling step's state."""
    inner = dict_node({"a": tuple_node(1.0, list_node(node))})
    _set_attr(_objects(schema)[1], "extra", list_node(inner))


POSITIONS: dict[str, Callable[[dict, dict], None]] = {
    "pipeline-attr": hide_in_pipeline_attr,
    "list": hide_in_list,
    "param": hide_in_param,
    "deep": hide_deep,
}


def dict_key_payloads(effect: Effect) -> dict[str, Callable[[dict], None]]:
    """A dict whose key type is a callable: skops converts each key by calling its type on it."""

    def key_type(module, name, key):
        def inject(schema):
            d = dict_node({key: json_node(1)}, key_types=[{"__class__": name, "__module__": module,
                                                            "__loader__": "TypeNode"}])
            _set_attr(_pipeline(schema), "lookup", d)
        return inject

    return {
        "dict-key.sklearn-os.remove": key_type(*REEXPORTS["remove"], str(effect.victim)),
        "dict-key.scipy-rmtree": key_type(*REEXPORTS["rmtree"], str(effect.victim_dir)),
        "dict-key.builtins-eval": key_type("builtins", "eval", f"open({str(effect.marker)!r}, 'w')"),
        "dict-key.numpy-io.open": key_type(*REEXPORTS["io_open"], str(effect.marker)),
    }


def constructor_payloads(effect: Effect) -> dict[str, Callable[[dict], None]]:
    """Reduce/constructor nodes whose constructor is not an allowed type (a loss or tree node)."""

    def as_loss(schema):
        _set_attr(_pipeline(schema), "_loss_function_", loss(*REEXPORTS["check_output"], list_node(*_sh(effect))))

    def as_tree(schema):
        node = loss(*REEXPORTS["write_text"], str(effect.marker), "x")
        node["__loader__"] = "TreeNode"
        _set_attr(_pipeline(schema), "tree_", node)

    def as_reduce_ctor(schema):
        _set_attr(_pipeline(schema), "ctor", call("subprocess", "Popen", list_node(*_sh(effect))))

    return {"loss-node.check_output": as_loss, "tree-node.write_text": as_tree,
            "reduce-ctor.subprocess-Popen": as_reduce_ctor}


# --- building and installing a hostile file --------------------------------------------------------

def read_members(model: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(model) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def write_members(model: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(model, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, b in members.items():
            zf.writestr(n, b)


def install(run_dir: Path, mutate: Callable[[dict], None]) -> None:
    """Rewrite ``run_dir/model.skops`` with *mutate* applied to its schema, and record its new
    SHA-256 in run.json as an attacker sharing the folder would."""
    model = run_dir / "model.skops"
    members = read_members(model)
    schema = json.loads(members["schema.json"])
    mutate(schema)
    members["schema.json"] = json.dumps(schema).encode()
    write_members(model, members)
    meta = json.loads((run_dir / "run.json").read_text())
    meta["model"]["sha256"] = hashlib.sha256(model.read_bytes()).hexdigest()
    (run_dir / "run.json").write_text(json.dumps(meta))


def corpus(effect: Effect) -> dict[str, Callable[[dict], None]]:
    """``{entry id: mutate(schema)}``: every payload at every position, plus the special ones."""
    out = {}
    for pname, build in PAYLOADS.items():
        for where, hide in POSITIONS.items():
            out[f"{pname}@{where}"] = (lambda b, h: lambda schema: h(schema, b(effect)))(build, hide)
    out.update(dict_key_payloads(effect))
    out.update(constructor_payloads(effect))
    return out


def copy_run(src: Path, dst_root: Path, name: str) -> Path:
    dst = dst_root / name
    shutil.copytree(src, dst)
    return dst


# --- trusted types with memory-unsafe content (a forest's Tree node arrays) ---------------------

def _tree_nodes(schema):
    """(nodes .npy member name, node_count JsonNode) of every Tree in the schema."""
    found = []

    def walk(n):
        if isinstance(n, dict):
            if n.get("__loader__") == "TreeNode":
                c = n["content"]["content"]
                found.append((c["nodes"]["file"], c["node_count"]))
            for v in n.values():
                walk(v)
        elif isinstance(n, list):
            for v in n:
                walk(v)
    walk(schema)
    return found


def tree_payloads() -> dict[str, Callable[[dict[str, bytes]], None]]:
    """Mutations of a forest model's members: node arrays a Tree would index without checks."""
    import io

    import numpy as np

    def edit_nodes(fn):
        def mutate(members):
            schema = json.loads(members["schema.json"])
            file, _ = _tree_nodes(schema)[0]
            nodes = np.load(io.BytesIO(members[file]), allow_pickle=False)
            fn(nodes)
            buf = io.BytesIO()
            np.save(buf, nodes, allow_pickle=False)
            members[file] = buf.getvalue()
        return mutate

    def child_out_of_range(nodes):
        nodes["left_child"][0] = 10**9

    def cycle(nodes):
        inner = np.flatnonzero(nodes["left_child"] >= 0)
        nodes["left_child"][inner[-1]] = 0  # back to the root: predict would loop forever

    def feature_out_of_range(nodes):
        nodes["feature"][0] = 10**6

    def count_mismatch(members):
        schema = json.loads(members["schema.json"])
        _, count = _tree_nodes(schema)[0]
        count["content"] = json.dumps(json.loads(count["content"]) * 1000)
        members["schema.json"] = json.dumps(schema).encode()

    return {"tree.child-out-of-range": edit_nodes(child_out_of_range), "tree.cycle": edit_nodes(cycle),
            "tree.feature-out-of-range": edit_nodes(feature_out_of_range), "tree.node-count": count_mismatch}


def install_members(run_dir: Path, mutate: Callable[[dict[str, bytes]], None]) -> None:
    model = run_dir / "model.skops"
    members = read_members(model)
    mutate(members)
    write_members(model, members)
    meta = json.loads((run_dir / "run.json").read_text())
    meta["model"]["sha256"] = hashlib.sha256(model.read_bytes()).hexdigest()
    (run_dir / "run.json").write_text(json.dumps(meta))
