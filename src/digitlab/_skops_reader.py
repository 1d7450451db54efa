"""Read a skops model file as data: exact class names, a closed set of node kinds, no code.

A skops file is a zip of ``schema.json`` (a JSON tree of typed nodes) and ``.npy`` arrays. skops'
own loader resolves the module and name each node spells and, for reduce-style nodes, *calls*
them; a dict's key types are called on its keys. Its safety therefore rests on the trusted list
being exactly right, and scikit-learn's namespace re-exports standard-library functions
(``sklearn.utils._testing.check_output`` is ``subprocess.check_output``). It also trusts objects
such as scikit-learn's ``Tree``, whose node arrays are indexed without bounds checks.

This reader (written here rather than delegating to ``skops.io.load``, for the reasons above and
because it spares every load the ~1.7 s import of skops) accepts only:

- objects of the exact classes in :data:`ALLOWED` (what digitlab's model registry can produce),
  built as ``cls.__new__(cls)`` then ``__setstate__(state)`` — never ``__init__`` or ``__reduce__``;
- arrays through ``np.load(allow_pickle=False)``, after checking the header against the member size;
- JSON primitives, lists, tuples and dicts (key types str/int/float/bool only);
- three Cython objects through reconstructors written here that check their arguments: a tree
  (node arrays bounds-checked, children after their parent so there is no cycle), an SGD loss
  (numeric arguments only) and a ``RandomState``. k-d/ball trees are not read: they are rebuilt
  from the neighbours' training data.

Anything else — a function, method, type, partial, operator function, bytes, slice, sparse
matrix, object array or an unknown node kind — refuses the file before anything is constructed.
Modules are imported only by the names in :data:`ALLOWED`, never by a name taken from the file.
"""

from __future__ import annotations

import importlib
import io
import json
import zipfile

import numpy as np

from ._files import read_npy_header
from .exceptions import ModelError

SKOPS_PROTOCOL = 2  # the skops format this reader understands (skops 0.10 to 0.16 write it)
MAX_SCHEMA_BYTES = 64 * 2**20  # a 100-tree forest's schema is ~3 MB
MAX_DEPTH = 60  # node nesting; digitlab models nest about 12 deep
MAX_NODES = 2_000_000

# Exactly the classes digitlab's registry builds (tests/test_model_reader.py fits every model and
# checks the list is neither short nor long).
ALLOWED = frozenset({
    "sklearn.pipeline.Pipeline",
    "digitlab.models.scaling.PixelScaler",
    "digitlab.models.deskew.Deskewer",
    "digitlab.models.fast_logreg.FastLogisticRegression",
    "digitlab.models.cnn.CNNClassifier",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.linear_model._stochastic_gradient.SGDClassifier",
    "sklearn.dummy.DummyClassifier",
    "sklearn.neighbors._classification.KNeighborsClassifier",
    "sklearn.decomposition._pca.PCA",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.svm._classes.SVC",
    "sklearn.neural_network._multilayer_perceptron.MLPClassifier",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn.preprocessing._label.LabelBinarizer",
})
# SGDClassifier's loss objects (its ``loss=`` choices), rebuilt from numeric arguments
LOSSES = frozenset({
    "sklearn.linear_model._sgd_fast.Hinge", "sklearn.linear_model._sgd_fast.ModifiedHuber",
    "sklearn.linear_model._sgd_fast.SquaredHinge", "sklearn.linear_model._sgd_fast.EpsilonInsensitive",
    "sklearn.linear_model._sgd_fast.SquaredEpsilonInsensitive", "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn._loss._loss.CyHalfSquaredError", "sklearn._loss._loss.CyHuberLoss",
})
TREE = "sklearn.tree._tree.Tree"
RANDOM_STATE = "numpy.random.mtrand.RandomState"
NEIGHBOUR_TREES = frozenset({"sklearn.neighbors._kd_tree.KDTree", "sklearn.neighbors._ball_tree.BallTree"})
NUMPY_SCALARS = frozenset(f"numpy.{t}" for t in (
    "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
    "uint64", "bool_", "bool"))
KEY_TYPES = {"builtins.str": str, "builtins.int": int, "builtins.float": float,
             "builtins.bool": lambda key: {"true": True, "false": False}[key.lower()]}
PRIMITIVES = frozenset({"str", "int", "float", "bool", "NoneType"})


class _Refused(Exception):
    """A node this reader does not construct; carries the name shown to the user."""


class _Rebuild:
    """Stands in for a neighbour search tree until its estimator rebuilds it from its own data."""


def read_model(zf: zipfile.ZipFile, *, where: str):
    """The object stored in an open skops zip, or :class:`ModelError`.

    Untrusted names are collected over the whole tree first, so the error lists all of them and
    nothing is constructed from a file that names any.
    """
    schema = _audited_schema(zf, where)
    try:
        return _Builder(zf).build(schema)
    except Warning:
        raise  # InconsistentVersionWarning escalated by the caller
    except ModelError as exc:
        raise ModelError(f"{where}: model file corrupted or modified ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - a structure the audit let through but can't be built
        raise ModelError(f"{where}: model file corrupted or modified ({type(exc).__name__}: {exc})") from None


def read_light(zf: zipfile.ZipFile, *, where: str, sklearn_version: str):
    """A numpy-only :class:`~digitlab._light.LinearPipeline` for a linear model file, or None
    (then :func:`read_model` loads it in full). Audited exactly as :func:`read_model`; nothing
    is constructed but arrays and plain values, and scikit-learn is not imported."""
    from ._light import linear_pipeline

    schema = _audited_schema(zf, where)
    try:
        plain = _PlainBuilder(zf).build(schema)
    except _NotLight:
        return None
    except ModelError as exc:
        raise ModelError(f"{where}: model file corrupted or modified ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - as in read_model
        raise ModelError(f"{where}: model file corrupted or modified ({type(exc).__name__}: {exc})") from None
    return linear_pipeline(plain, sklearn_version)


def _audited_schema(zf: zipfile.ZipFile, where: str) -> dict:
    """schema.json with every node's kind and type name checked; untrusted names are collected
    over the whole tree first, so the error lists all of them."""
    schema = _schema(zf, where)
    bad: set[str] = set()
    try:
        _audit(schema, bad, depth=0, count=[0])
    except _Refused as exc:
        raise ModelError(f"{where}: model file corrupted or modified ({exc})") from None
    if bad:
        raise ModelError(f"{where}: model contains untrusted types {sorted(bad)}")
    return schema


def _schema(zf: zipfile.ZipFile, where: str) -> dict:
    try:
        info = zf.getinfo("schema.json")
    except KeyError:
        raise ModelError(f"{where}: not a digitlab model (skops zip): no schema.json") from None
    if info.file_size > MAX_SCHEMA_BYTES:
        raise ModelError(f"{where}: not a digitlab model (schema.json is {info.file_size:,} bytes)")
    try:
        schema = json.loads(zf.read(info))
    except (ValueError, RecursionError, zipfile.BadZipFile, OSError) as exc:
        raise ModelError(f"{where}: model file corrupted or modified (schema.json: "
                         f"{type(exc).__name__})") from None
    if not isinstance(schema, dict):
        raise ModelError(f"{where}: model file corrupted or modified (schema.json is not an object)")
    protocol = schema.get("protocol")
    if type(protocol) is not int or protocol != SKOPS_PROTOCOL:
        raise ModelError(f"{where}: not a model format this digitlab reads (skops protocol {protocol!r}, "
                         f"expected {SKOPS_PROTOCOL})")
    return schema


def _name(node: dict) -> str:
    module, cls = node.get("__module__"), node.get("__class__")
    if not isinstance(module, str) or not isinstance(cls, str):
        raise _Refused("a node without a type name")
    return f"{module}.{cls}"


def _audit(node, bad: set, *, depth: int, count: list) -> None:
    """Check every node's kind and type name; add refused names to *bad*."""
    if not isinstance(node, dict):
        raise _Refused(f"expected a node, got {type(node).__name__}")
    count[0] += 1
    if depth > MAX_DEPTH or count[0] > MAX_NODES:
        raise _Refused("nested too deep or too many nodes")
    kind, name = node.get("__loader__"), _name(node)
    sub = dict(bad=bad, depth=depth + 1, count=count)
    if kind == "ObjectNode":
        if name in NEIGHBOUR_TREES:
            return  # not read: rebuilt from the estimator's data
        if name not in ALLOWED:
            bad.add(name)
        if node.get("content") is not None:
            content = node["content"]
            if not isinstance(content, dict) or content.get("__loader__") != "DictNode":
                raise _Refused(f"{name}: state is not a dict")
            _audit(content, **sub)
    elif kind == "DictNode":
        if name != "builtins.dict":
            bad.add(name)
        content, keys = node.get("content"), node.get("key_types")
        if not isinstance(content, dict) or not isinstance(keys, dict) or keys.get("__loader__") != "ListNode":
            raise _Refused("malformed dict")
        key_nodes = keys.get("content")
        if not isinstance(key_nodes, list) or len(key_nodes) != len(content):
            raise _Refused("malformed dict keys")
        for k in key_nodes:
            kname = _name(k) if isinstance(k, dict) else "?"
            if not isinstance(k, dict) or k.get("__loader__") != "TypeNode" or kname not in KEY_TYPES:
                bad.add(kname)  # a key type is called on the key: only plain types
        for v in content.values():
            _audit(v, **sub)
    elif kind in ("ListNode", "TupleNode"):
        if name != ("builtins.list" if kind == "ListNode" else "builtins.tuple"):
            bad.add(name)
        items = node.get("content")
        if not isinstance(items, list):
            raise _Refused(f"malformed {kind}")
        for v in items:
            _audit(v, **sub)
    elif kind == "JsonNode":
        if node.get("__module__") != "builtins" or node.get("__class__") not in PRIMITIVES:
            bad.add(name)
        if not isinstance(node.get("content"), str):
            raise _Refused("malformed JSON value")
    elif kind == "NdArrayNode":
        if node.get("type") != "numpy":
            bad.add(f"{name}[object]")
        elif name != "numpy.ndarray" and name not in NUMPY_SCALARS:
            bad.add(name)
        if not isinstance(node.get("file"), str):
            raise _Refused("array without a file")
    elif kind == "DTypeNode":
        if name != "numpy.dtype" and not name.startswith("numpy.dtypes."):
            bad.add(name)
        _audit(node.get("content"), **sub)
    elif kind == "RandomStateNode":
        if name != RANDOM_STATE:
            bad.add(name)
        _audit(node.get("content"), **sub)
    elif kind in ("LossNode", "TreeNode"):
        if name not in (LOSSES if kind == "LossNode" else {TREE}):
            bad.add(name)
        reduce = node.get("__reduce__")
        if not isinstance(reduce, dict):
            raise _Refused(f"malformed {kind}")
        _audit(reduce.get("args"), **sub)
        _audit(node.get("content"), **sub)
    else:
        # FunctionNode, MethodNode, TypeNode, PartialNode, OperatorFuncNode, ConstructorFromReduceNode,
        # ReduceNode, BytesNode, SliceNode, SparseMatrixNode, ...: code or data digitlab never stores
        bad.add(name)


class _Builder:
    """Constructs an audited tree."""

    def __init__(self, zf: zipfile.ZipFile):
        self.zf = zf

    def build(self, node):
        kind = node["__loader__"]
        return getattr(self, "_" + kind)(node)

    def _ObjectNode(self, node):
        name = _name(node)
        if name in NEIGHBOUR_TREES:
            return _Rebuild()
        cls = _resolve(name)
        obj = cls.__new__(cls)
        if node.get("content") is not None:
            state = self.build(node["content"])
            if hasattr(obj, "__setstate__"):
                obj.__setstate__(state)
            else:
                obj.__dict__.update(state)
        check = _AFTER_BUILD.get(name)
        if check is not None:
            check(obj)
        return obj

    def _DictNode(self, node):
        out = {}
        for k, (key, value) in zip(node["key_types"]["content"], node["content"].items()):
            out[KEY_TYPES[_name(k)](key)] = self.build(value)
        return out

    def _ListNode(self, node):
        return [self.build(v) for v in node["content"]]

    def _TupleNode(self, node):
        return tuple(self.build(v) for v in node["content"])

    def _JsonNode(self, node):
        value = json.loads(node["content"])
        if value is not None and not isinstance(value, (str, int, float, bool)):
            raise ModelError(f"a JSON value of type {type(value).__name__}")
        return value

    def _NdArrayNode(self, node):
        array = self._array(node["file"])
        name = _name(node)
        if name != "numpy.ndarray":
            return getattr(np, node["__class__"])(array)
        return array

    def _DTypeNode(self, node):
        dtype = self.build(node["content"]).dtype
        if dtype.hasobject:
            raise ModelError("an object dtype")
        return dtype

    def _RandomStateNode(self, node):
        state = self.build(node["content"])
        if not isinstance(state, dict) or state.get("bit_generator") != "MT19937":
            raise ModelError("a random state that is not MT19937")
        rs = np.random.RandomState()
        rs.set_state(state)  # numpy checks the key array's shape and the position
        return rs

    def _LossNode(self, node):
        args = self.build(node["__reduce__"]["args"])
        state = self.build(node["content"])
        if len(args) > 2 or not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args):
            raise ModelError("an SGD loss with non-numeric arguments")
        if state:
            raise ModelError("an SGD loss with a state")
        return _resolve(_name(node))(*args)

    def _TreeNode(self, node):
        args = self.build(node["__reduce__"]["args"])
        state = self.build(node["content"])
        return _tree(args, state)

    def _array(self, member: str) -> np.ndarray:
        try:
            info = self.zf.getinfo(member)
        except KeyError:
            raise ModelError(f"array member {member!r} is missing") from None
        with self.zf.open(info) as fh:
            try:
                shape, _, dtype = read_npy_header(fh, info.file_size)
            except ValueError as exc:
                raise ModelError(f"{member}: {exc}") from None
            count = int(np.prod(shape, dtype=object))
            # a header claiming more data than the member holds would make numpy allocate it first
            if count * dtype.itemsize > info.file_size:
                raise ModelError(f"{member}: header claims {count * dtype.itemsize:,} bytes, member has "
                                 f"{info.file_size:,}")
        return np.load(io.BytesIO(self.zf.read(info)), allow_pickle=False)


class _NotLight(Exception):
    """The model holds something :mod:`digitlab._light` does not predict with."""


class _PlainBuilder(_Builder):
    """Builds an audited tree into :class:`~digitlab._light.Plain` states (no class is imported)
    for the classes :mod:`digitlab._light` knows; anything else stops with :class:`_NotLight`."""

    def _ObjectNode(self, node):
        from ._light import LIGHT, Plain

        name = _name(node)
        if name not in LIGHT:
            raise _NotLight(name)
        state = self.build(node["content"]) if node.get("content") is not None else {}
        if not isinstance(state, dict):
            raise ModelError(f"{name}: state is not a dict")
        return Plain(name, state)

    def _LossNode(self, node):  # SGD's training loss: not needed to predict
        return None

    def _TreeNode(self, node):
        raise _NotLight("tree")


def _resolve(name: str):
    """The class for an allow-listed name, imported by *our* spelling of its module."""
    if name not in ALLOWED and name not in LOSSES and name != TREE:
        raise ModelError(f"untrusted type {name}")  # unreachable after the audit; kept as a backstop
    module, _, cls = name.rpartition(".")
    return getattr(importlib.import_module(module), cls)


def _int(value, lo: int, hi: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise ModelError(f"tree {what} {value!r} out of range")
    return int(value)


def _tree(args, state):
    """A scikit-learn Tree whose arrays cannot send prediction out of bounds or round in a loop."""
    from sklearn.tree._tree import NODE_DTYPE, Tree

    if not isinstance(args, tuple) or len(args) != 3 or not isinstance(state, dict):
        raise ModelError("malformed tree")
    n_features = _int(args[0], 1, 10**7, "n_features")
    n_classes = np.asarray(args[1])
    n_outputs = _int(args[2], 1, 1000, "n_outputs")
    if n_classes.dtype.kind not in "iu" or n_classes.shape != (n_outputs,) or not (
            (n_classes >= 1) & (n_classes <= 10**6)).all():
        raise ModelError("tree n_classes out of range")
    nodes, values = state.get("nodes"), state.get("values")
    count = _int(state.get("node_count"), 1, 10**9, "node_count")
    _int(state.get("max_depth"), 0, 10**6, "max_depth")
    if not isinstance(nodes, np.ndarray) or nodes.dtype != NODE_DTYPE or nodes.shape != (count,):
        raise ModelError("tree nodes array has the wrong type or length")
    if not isinstance(values, np.ndarray) or values.dtype != np.float64 or values.shape != (
            count, n_outputs, int(n_classes.max())):
        raise ModelError("tree values array has the wrong type or shape")
    left, right, feature = nodes["left_child"], nodes["right_child"], nodes["feature"]
    index = np.arange(count)
    leaf = left == -1
    inner = ~leaf
    ok = (right[leaf] == -1).all()
    # children come after their parent (every builder numbers them so): in range and no cycles
    ok &= ((left[inner] > index[inner]) & (left[inner] < count)).all()
    ok &= ((right[inner] > index[inner]) & (right[inner] < count)).all()
    ok &= ((feature[inner] >= 0) & (feature[inner] < n_features)).all()
    if not ok:
        raise ModelError("tree node arrays point outside the tree")
    tree = Tree(n_features, n_classes.astype(np.intp), n_outputs)
    tree.__setstate__(state)
    return tree


def _check_svc(svc) -> None:
    """libsvm reads these arrays by the counts in ``_n_support``: they must agree."""
    n_support = np.asarray(getattr(svc, "_n_support", []))
    sv = getattr(svc, "support_vectors_", None)
    dual = getattr(svc, "_dual_coef_", None)
    if not isinstance(sv, np.ndarray) or not isinstance(dual, np.ndarray) or n_support.ndim != 1:
        raise ModelError("SVC without support vectors")
    n_class, n_sv = len(n_support), int(n_support.sum()) if n_support.size else 0
    pairs = n_class * (n_class - 1) // 2
    ok = n_support.dtype.kind in "iu" and (n_support >= 0).all() and sv.ndim == 2 and sv.shape[0] == n_sv
    ok = ok and dual.shape == (max(n_class - 1, 1), n_sv) and len(getattr(svc, "support_", [])) == n_sv
    ok = ok and len(np.atleast_1d(getattr(svc, "_intercept_", []))) == max(pairs, 1)
    ok = ok and all(len(np.atleast_1d(getattr(svc, a, []))) in (0, max(pairs, 1)) for a in ("_probA", "_probB"))
    if not ok:
        raise ModelError("SVC arrays disagree with its support counts")


def _rebuild_neighbour_tree(knn) -> None:
    """A k-d or ball tree is rebuilt from the training data rather than read from the file."""
    if not isinstance(getattr(knn, "_tree", None), _Rebuild):
        return
    from sklearn.neighbors import BallTree, KDTree

    method = getattr(knn, "_fit_method", None)
    tree_cls = {"kd_tree": KDTree, "ball_tree": BallTree}.get(method)
    if tree_cls is None:
        raise ModelError(f"neighbour search {method!r} with a stored tree")
    knn._tree = tree_cls(knn._fit_X, knn.leaf_size, metric=knn.effective_metric_,
                         **(knn.effective_metric_params_ or {}))


def _check_cnn(cnn) -> None:
    """The CNN's parameters drive prediction (``tta_shifts`` is a number of views) and its
    fitted layout decides how much memory the rebuilt network takes: out of range, or a layout
    its stored weights do not fill, the file is refused."""
    try:
        cnn._validate_params()
        cnn.check_fitted_layout()
    except (ValueError, TypeError) as exc:
        raise ModelError(f"{type(cnn).__name__}: {str(exc).splitlines()[0]}") from None


_AFTER_BUILD = {
    "digitlab.models.cnn.CNNClassifier": _check_cnn,
    "sklearn.svm._classes.SVC": _check_svc,
    "sklearn.neighbors._classification.KNeighborsClassifier": _rebuild_neighbour_tree,
}
