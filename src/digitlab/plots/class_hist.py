"""Class distribution of train and test side by side."""

from __future__ import annotations

import numpy as np

from ._save import new_figure


class ClassDistributionDisplay:
    """Bar chart of the share of each class in train and test.

    Parameters
    ----------
    counts : dict of str to ndarray of shape (n_classes,)
        ``{"train": counts, "test": counts}``.
    classes : sequence of str
    """

    def __init__(self, counts, classes, *, title=None):
        self.counts = counts
        self.classes = list(classes)
        self.title = title

    @classmethod
    def from_split(cls, split, title=None):
        return cls({"train": split.train.class_counts(), "test": split.test.class_counts()},
                   split.train.classes, title=title)

    def plot(self, *, ax=None):
        if ax is None:
            fig = new_figure((8, 3.6))
            ax = fig.subplots()
        x = np.arange(len(self.classes))
        width = 0.8 / len(self.counts)
        for k, (name, c) in enumerate(self.counts.items()):
            share = 100 * np.asarray(c) / max(1, np.sum(c))
            ax.bar(x + (k - (len(self.counts) - 1) / 2) * width, share, width,
                   label=f"{name} (n={int(np.sum(c)):,})")
        ax.set_xticks(x, self.classes, rotation=30 if max(map(len, self.classes)) > 2 else 0)
        ax.set_xlabel("Class")
        ax.set_ylabel("Share of images (%)")
        ax.set_title(self.title or "Class distribution")
        ax.legend()
        self.ax_, self.figure_ = ax, ax.figure
        return self
