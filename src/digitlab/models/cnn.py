"""A small convolutional network in PyTorch, as a scikit-learn classifier (skorch-style).

Parameters are stored in ``__init__``; the torch module is built in ``fit``. The fitted weights
live in ``state_dict_`` as plain numpy arrays, so skops saves the estimator without pickle and
loading needs nothing beyond digitlab's type allow-list; the torch module is rebuilt from them on
first use. PyTorch is imported lazily: this module imports without it.

Architecture (default ``channels=(16, 32, 32, 64, 64)``, 5.5 M multiply-adds per image)::

    standardise each image (zero mean, unit variance)
    conv3x3 16 -> maxpool2 -> BN -> ReLU                                     28x28 -> 14x14
    conv3x3 32 -> BN -> ReLU -> conv3x3 32 -> maxpool2 -> BN -> ReLU         14x14 ->  7x7
    [conv3x3 64 -> BN -> ReLU] x 2 -> flatten -> linear                       7x7

trained for 3 epochs in batches of 128 by SGD with Nesterov momentum on a one-cycle schedule
(peak 0.2, warm-up a quarter of the steps), label smoothing 0.1, weight decay on the weights only,
and random shifts and affine distortions drawn afresh for every batch (:mod:`.cnn_augment`).

Why this shape (issue 14 §2; measured on the 2-core AMD EPYC of BENCHMARKS.md):

- Time goes into convolutions, and oneDNN is least efficient on the first one (one input
  channel): a 1→32 convolution at 28x28 cost a quarter of an epoch of the previous 3-block net
  (32/64/128 channels, AdamW, 15 epochs, 99.56% in ~6 min) for 3% of its multiply-adds. Here
  the first layer has 16 channels and the depth sits after pooling, where it is cheap.
- SGD with a high one-cycle peak and label smoothing converges in a fifth of the epochs AdamW
  needed; 0.4 beat 0.1, 0.2 and 0.8 at batch 256 (larger batches were not faster per image).
  Batches of 128 at peak 0.2 (the same peak per image) take twice the steps for ~10% more time
  per epoch and learn more per epoch: 3 epochs reach 99.62% (mean of 3 seeds) where 3 epochs of
  256 reached 99.57% and 5 epochs 99.66%, so the default fits in the 2 minutes issue 14 asks.
- Per-image standardisation makes the network blind to contrast and brightness: mean accuracy
  under :mod:`digitlab.corruptions` rose from 0.84 to 0.93 (contrast 0.31 → 1.00, blur 0.71
  → 0.95, noise 0.75 → 0.86) at the same clean accuracy.
- Channels-last (NHWC) memory (1.1-5x per convolution here) and pooling before batch norm and
  ReLU, which then run on a quarter of the activations.

``cnn-fast`` (channels 16, 32, 64) and ``cnn-best`` (15 epochs of batches of 256), both
predicting from 5 shifted views (``tta_shifts=1``), are the same class in the registry;
``benchmarks/bench_cnn.py`` measures all three over 3 seeds.
"""

from __future__ import annotations

import math
import time
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ..augment import SHIFTS, parse_augment, shift_image
from ._allocator import keep_freed_memory
from .cnn_augment import AugmentKinds, augment_batch

# MNIST centres each digit in a 20x20 box: a shift of more than its 4-pixel margin cuts strokes off
MAX_TTA_SHIFTS = 3
# images per forward pass in predict_proba: a 512-image batch's largest activation (16 x 28 x 28
# floats each, 26 MB) stays below glibc's largest mmap threshold (32 MB), so it can be reused
# rather than page-faulted in afresh; 2048 (103 MB) made cnn-fast's 5-view prediction of the
# 10,000 test digits take 6.4-8.4 s instead of 4.1 s here
PREDICT_BATCH = 512
INSTALL_HINT = "pip install 'digitlab[torch]' (CPU build: pip install torch==2.13.0)"


def _torch():
    try:
        import torch
    except ImportError:
        raise ImportError(f"CNNClassifier needs PyTorch: {INSTALL_HINT}") from None
    return torch


def stages_of(channels):
    """Consecutive convolutions of equal width form a stage: ``(16, 32, 32, 64, 64)`` →
    ``[[16], [32, 32], [64, 64]]``."""
    stages = []
    for c in channels:
        if stages and stages[-1][-1] == c:
            stages[-1].append(int(c))
        else:
            stages.append([int(c)])
    return stages


def _build_module(side, n_classes, stages, dropout, final_pool=False, standardize=False):
    torch = _torch()
    nn = torch.nn
    layers, c_in, s = [], 1, side
    if standardize:
        # each image to zero mean, unit variance (a parameter-free layer norm): contrast and
        # brightness no longer matter
        layers.append(nn.LayerNorm([1, side, side], elementwise_affine=False))
    for i, stage in enumerate(stages):
        for j, c_out in enumerate(stage):
            layers.append(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False))
            if j == len(stage) - 1 and (i < len(stages) - 1 or final_pool) and s >= 2:
                # pooling before BN and ReLU: they then run on a quarter of the activations
                layers.append(nn.MaxPool2d(2))
                s //= 2
            layers += [nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
            c_in = c_out
    layers += [nn.Flatten(), nn.Dropout(dropout), nn.Linear(c_in * s * s, n_classes)]
    # channels-last (NHWC) is what oneDNN's CPU convolutions want: 1.1-5x faster per layer here
    return nn.Sequential(*layers).to(memory_format=torch.channels_last)


class CNNClassifier(ClassifierMixin, BaseEstimator):
    """Convolutional network classifier for square grey-level images.

    Parameters
    ----------
    max_epochs : int, default=3
        Passes over the training set (more on a small one: see ``min_steps``).
    batch_size : int, default=128
    lr : float, default=0.2
        Peak learning rate of the one-cycle schedule (SGD with Nesterov momentum); scale it with
        ``batch_size`` (0.4 for 256).
    weight_decay : float, default=5e-4
        L2 penalty on the convolution and linear weights (not on biases and batch-norm scales).
    channels : tuple of int, default=(16, 32, 32, 64, 64)
        Output channels of the 3x3 convolutions. Consecutive convolutions of equal width form a
        stage, and a 2x2 max-pool between stages halves the image side: the default is
        28 → 14 → 7.
    dropout : float, default=0.0
        Dropout before the final linear layer.
    augment : bool or str, default="shift+affine"
        Random distortions of every training batch, drawn afresh each epoch: kinds from
        ``shift``, ``affine``, ``elastic``, ``thickness`` joined by ``,`` or ``+`` (see
        :mod:`digitlab.augment`); ``True`` means ``"shift"``, ``False`` or ``"none"`` none.
    label_smoothing : float, default=0.1
    standardize : bool, default=True
        Scale each image to zero mean and unit variance before the first convolution, so that
        its contrast and brightness do not matter.
    min_steps : int, default=100
        Least number of optimizer steps: a training set too small for that many batches in
        ``max_epochs`` passes gets more passes (``n_iter_`` says how many). A one-cycle schedule
        of a few dozen steps at this learning rate diverges (the 1,797 8x8 ``digits``: 5 passes
        are 25 steps and ~25% accuracy, 100 steps ~98%). 0 turns it off.
    tta_shifts : int, default=0
        Test-time augmentation: ``predict_proba`` also looks at each image moved 1, ...,
        ``tta_shifts`` pixels left, right, up and down, and averages the probabilities of the
        ``1 + 4 * tta_shifts`` views; prediction costs that many times more. The training
        distortions teach the network that a shifted digit is the same digit, so its views
        disagree only where it is unsure. ``cnn-best`` uses 1: 99.71% against 99.68% from the
        image alone (mean of 3 seeds; per seed +0.08, -0.02, +0.02 points); so does ``cnn-fast``:
        99.53% against 99.49% (+0.07, -0.01, +0.04). At most 3.
    n_threads : int, default=2
        ``torch.set_num_threads`` during fit and predict (restored afterwards).
    random_state : int, default=0
        Seeds weight initialisation, shuffling and augmentation.
    verbose : int, default=0
        1: a rich progress bar per epoch on stderr, and one line per finished epoch.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    state_dict_ : dict of str to ndarray
        The trained weights as numpy arrays (what is saved).
    stages_ : list of list of int
        The convolution widths by stage (from ``channels``): the layout ``state_dict_`` fits.
    image_side_ : int
        Rows are reshaped (zero-padded if needed) to ``image_side_ x image_side_`` images.
    history_ : list of dict
        Per epoch: ``epoch``, ``loss``, ``train_accuracy``, ``seconds``.
    n_iter_ : int
        Epochs run (``max_epochs``, or more to make ``min_steps``).
    """

    _parameter_constraints = {
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "channels": [tuple, list],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "augment": ["boolean", None, AugmentKinds()],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "standardize": ["boolean"],
        "min_steps": [Interval(Integral, 0, None, closed="left")],
        "tta_shifts": [Interval(Integral, 0, MAX_TTA_SHIFTS, closed="both")],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(self, max_epochs=3, batch_size=128, lr=0.2, weight_decay=5e-4, channels=(16, 32, 32, 64, 64),
                 dropout=0.0, augment="shift+affine", label_smoothing=0.1, standardize=True, min_steps=100,
                 tta_shifts=0, n_threads=2, random_state=0, verbose=0):
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.channels = channels
        self.dropout = dropout
        self.augment = augment
        self.label_smoothing = label_smoothing
        self.standardize = standardize
        self.min_steps = min_steps
        self.tta_shifts = tta_shifts
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, X, y):
        """Train the network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Flattened images (``n_features`` a square, e.g. 784; otherwise zero-padded to one),
            ideally scaled to [0, 1] (the registry's pipeline does that).
        y : array-like of shape (n_samples,)

        Returns
        -------
        self : CNNClassifier
        """
        self._validate_params()
        if not self.channels or not all(isinstance(c, Integral) and c >= 1 for c in self.channels):
            raise ValueError(f"channels: expected positive integers, got {self.channels!r}")
        torch = _torch()
        X, y = validate_data(self, X, y, dtype=np.float32, reset=True)
        check_classification_targets(y)
        if len(X) < 2:
            raise ValueError("CNNClassifier needs more than 1 sample (batch normalisation)")
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"CNNClassifier needs samples of at least 2 classes, got one class: "
                             f"{self.classes_.tolist()[0]!r}")
        self.image_side_ = _side_for(X.shape[1])
        self.stages_ = stages_of(self.channels)
        seed = self._seed()
        with _threads(torch, self.n_threads), keep_freed_memory():
            torch.manual_seed(seed)
            module = _build_module(self.image_side_, len(self.classes_), self.stages_, self.dropout,
                                   standardize=self.standardize)
            images = torch.from_numpy(self._images(X))
            targets = torch.from_numpy(y_enc.astype(np.int64))
            self.history_ = self._train(torch, module, images, targets, np.random.default_rng(seed))
        self.module_ = module.eval()
        self.state_dict_ = {k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}
        self.n_iter_ = len(self.history_)
        return self

    def _train(self, torch, module, images, targets, rng):
        n = len(images)
        kinds = parse_augment(self.augment)
        batches_per_epoch = max(1, n // self.batch_size)  # the short tail batch joins the last one
        epochs = max(self.max_epochs, math.ceil(self.min_steps / batches_per_epoch))
        # no weight decay on biases and batch-norm scales: it would only fight the normalisation
        decay = [p for p in module.parameters() if p.ndim > 1]
        no_decay = [p for p in module.parameters() if p.ndim <= 1]
        optimizer = torch.optim.SGD([{"params": decay, "weight_decay": self.weight_decay},
                                     {"params": no_decay, "weight_decay": 0.0}],
                                    lr=self.lr, momentum=0.9, nesterov=True)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=self.lr, pct_start=0.25,
                                                       total_steps=epochs * batches_per_epoch)
        loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=self.label_smoothing)
        gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
        from .._progress import report

        every = max(1, batches_per_epoch // 10)
        history = []
        with _progress(self.verbose) as progress:
            for epoch in range(1, epochs + 1):
                t0 = time.perf_counter()
                module.train()
                order = torch.from_numpy(rng.permutation(n))
                bounds = np.linspace(0, n, batches_per_epoch + 1).astype(int)
                total_loss = correct = 0.0
                task = progress.add_task(f"epoch {epoch}/{epochs}", total=batches_per_epoch, loss=math.nan)
                for b in range(batches_per_epoch):
                    idx = order[bounds[b]:bounds[b + 1]]
                    xb, yb = augment_batch(torch, images[idx], kinds, gen), targets[idx]
                    out = module(xb)
                    loss = loss_fn(out, yb)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    schedule.step()
                    total_loss += float(loss.detach()) * len(idx)
                    correct += float((out.argmax(1) == yb).sum())
                    progress.update(task, advance=1, loss=total_loss / bounds[b + 1])
                    if (b + 1) % every == 0:  # the caller's status line, if it has one (train(progress=True))
                        report(f"epoch {epoch}/{epochs}, {100 * (b + 1) // batches_per_epoch}%, "
                               f"loss {total_loss / bounds[b + 1]:.4f}")
                progress.remove_task(task)
                row = {"epoch": epoch, "loss": total_loss / n, "train_accuracy": correct / n,
                       "seconds": time.perf_counter() - t0}
                history.append(row)
                if self.verbose:
                    progress.console.print(f"epoch {epoch}/{epochs}  loss {row['loss']:.4f}  "
                                           f"train accuracy {row['train_accuracy']:.2%}  {row['seconds']:.1f} s")
        return history

    # -- prediction --------------------------------------------------------------------------
    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes), dtype=float64
        """
        check_is_fitted(self, "state_dict_")
        torch = _torch()
        X = validate_data(self, X, dtype=np.float32, reset=False)
        out = np.zeros((len(X), len(self.classes_)), dtype=np.float64)
        with _threads(torch, self.n_threads), torch.inference_mode():
            module = self._module()
            images = self._images(X)
            for start in range(0, len(X), PREDICT_BATCH):
                stop = start + PREDICT_BATCH
                for view in _views(images[start:stop], self.tta_shifts):
                    logits = module(torch.from_numpy(view))
                    out[start:stop] += torch.softmax(logits.double(), dim=1).numpy()
        return out / (1 + 4 * self.tta_shifts)

    def predict(self, X):
        """Most probable class of each row.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)  # first: it raises NotFittedError before classes_ is read
        return self.classes_[np.argmax(proba, axis=1)]

    # -- helpers -----------------------------------------------------------------------------
    def _images(self, X):
        side = self.image_side_
        if X.shape[1] != side * side:
            X = np.pad(X, ((0, 0), (0, side * side - X.shape[1])))
        # with one channel, the (n, 1, h, w) array is already channels-last in memory
        return np.ascontiguousarray(X, dtype=np.float32).reshape(len(X), 1, side, side)

    def _module(self):
        module = getattr(self, "module_", None)
        if module is None:
            torch = _torch()
            module = self._empty_module()
            module.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in self.state_dict_.items()})
            self.module_ = module.eval()
        return self.module_

    def _empty_module(self):
        """The network in the layout ``state_dict_`` was saved from, before its weights."""
        stages = getattr(self, "stages_", None)
        if stages is None:
            # saved before stages_ existed: one convolution per block, every block pooled
            return _build_module(self.image_side_, len(self.classes_), [[int(c)] for c in self.channels],
                                 self.dropout, final_pool=True)
        return _build_module(self.image_side_, len(self.classes_), stages, self.dropout,
                             standardize=self.standardize)

    def check_fitted_layout(self):
        """Raise ValueError unless the layout a fitted CNN is rebuilt from (``stages_``,
        ``image_side_``, ``classes_``) is the one its ``state_dict_`` fills.

        For a model file from elsewhere: prediction builds the network before loading the weights,
        so a crafted layout could make it allocate gigabytes (a million channels: a 31 GB linear
        layer) that no stored weight accounts for. Layers are counted against the stored
        convolutions first, then the network is built on torch's ``meta`` device (shapes only, no
        memory) and compared weight by weight.
        """
        if self.image_side_ != _side_for(self.n_features_in_):
            raise ValueError(f"image_side_={self.image_side_!r} does not fit {self.n_features_in_!r} features")
        stages = getattr(self, "stages_", None)
        layers = [c for stage in stages for c in stage] if stages is not None else list(self.channels)
        convs = sum(np.ndim(v) == 4 for v in self.state_dict_.values())
        if len(layers) != convs:
            raise ValueError(f"the layout has {len(layers)} convolutions, the stored weights {convs}")
        try:
            import torch
        except ImportError:
            return  # nothing can be built without it: predict says how to install it
        try:
            with torch.device("meta"):
                expected = {k: tuple(v.shape) for k, v in self._empty_module().state_dict().items()}
        except (TypeError, ValueError, RuntimeError) as exc:
            raise ValueError(f"layout {stages or self.channels!r}: {str(exc).splitlines()[0]}") from None
        stored = {k: tuple(np.shape(v)) for k, v in self.state_dict_.items()}
        for key in expected.keys() | stored.keys():
            if expected.get(key) != stored.get(key):
                raise ValueError(f"state_dict_[{key!r}]: the layout needs shape {expected.get(key)}, "
                                 f"the file has {stored.get(key)}")

    def _seed(self):
        rs = self.random_state
        if rs is None:
            return int(np.random.default_rng().integers(2**31))
        if isinstance(rs, np.random.RandomState):
            return int(rs.randint(2**31))
        return int(rs)

    def __getstate__(self):
        # the torch module is not saved: state_dict_ (numpy arrays) rebuilds it on first use. A
        # copy: Python 3.11's default state is the instance's own __dict__, and popping from it
        # would drop the live estimator's module (and a caller's edits would reach the estimator)
        state = dict(super().__getstate__())
        state.pop("module_", None)
        return state

    def __setstate__(self, state):
        # a model saved before these parameters existed was trained without them (get_params()
        # needs every key)
        state = {"min_steps": 0, "standardize": False, "tta_shifts": 0, **state}
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        tags.input_tags.sparse = False
        return tags


def _side_for(n_features):
    """Side of the square image *n_features* pixels are read as (zero-padded up to it; at least 8)."""
    return max(8, math.ceil(math.sqrt(n_features)))


def _views(images, shifts):
    """*images* (n, 1, h, w) as test-time augmentation sees them: as they are, then moved 1 to
    *shifts* pixels in each of the four directions of :data:`~digitlab.augment.SHIFTS`."""
    yield images
    for k in range(1, shifts + 1):
        for dy, dx in SHIFTS:
            yield shift_image(images[:, 0], k * dy, k * dx)[:, None]


class _threads:
    """Set torch's intra-op thread count for a block, then restore it."""

    def __init__(self, torch, n):
        self.torch, self.n = torch, n

    def __enter__(self):
        self.old = self.torch.get_num_threads()
        if self.n:
            self.torch.set_num_threads(self.n)

    def __exit__(self, *exc):
        self.torch.set_num_threads(self.old)


def _progress(verbose):
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("loss {task.fields[loss]:.4f}"), TimeElapsedColumn(),
                    console=Console(stderr=True), disable=not verbose, transient=True)
