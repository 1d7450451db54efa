"""``SearchParamDisplay``: a search's mean CV score against one searched parameter."""

from __future__ import annotations

from ._save import new_figure


class SearchParamDisplay:
    """Mean cross-validation score against one parameter, with ±1 standard deviation bars.

    Parameters
    ----------
    values : list
        Parameter values, one per point (numbers, or labels for a categorical parameter).
    means, stds : list of float
        Mean and standard deviation of the CV score at each value.
    param : str
        The parameter's short name (``"C"``).
    scoring : str, default="accuracy"
    """

    def __init__(self, values, means, stds, *, param: str, scoring: str = "accuracy"):
        self.values, self.means, self.stds = list(values), list(means), list(stds)
        self.param, self.scoring = param, scoring

    @classmethod
    def from_results(cls, table: dict, param: str, *, scoring: str = "accuracy", ax=None) -> "SearchParamDisplay":
        """From a search's results table (``search.json``'s ``cv_results``).

        With repeated values (a grid), each point is the best candidate having that value (the
        other parameters at their best); with continuous values (random search) every candidate
        is a point. Successive halving shows the candidates of its last rung.
        """
        rows = range(len(table["params"]))
        if "iter" in table:
            last = max(table["iter"])
            rows = [i for i in rows if table["iter"][i] == last]
        pts = [(table["params"][i].get(param), table["mean_test_score"][i], table["std_test_score"][i])
               for i in rows if table["mean_test_score"][i] is not None]
        values = [p[0] for p in pts]
        if len(set(map(repr, values))) < len(values):  # a grid: best candidate per value
            best: dict = {}
            for v, m, s in pts:
                if repr(v) not in best or m > best[repr(v)][1]:
                    best[repr(v)] = (v, m, s)
            pts = list(best.values())
        if all(_is_number(v) for v, _, _ in pts):
            pts.sort(key=lambda p: p[0])
        return cls([p[0] for p in pts], [p[1] for p in pts], [p[2] for p in pts], param=param,
                   scoring=scoring).plot(ax=ax)

    def plot(self, *, ax=None) -> "SearchParamDisplay":
        """Draw; returns ``self``.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes object to plot on. If ``None``, a new figure and axes is created.
        """
        if ax is None:
            ax = new_figure((5.2, 3.6)).add_subplot()
        numeric = all(_is_number(v) for v in self.values)
        xs = self.values if numeric else list(range(len(self.values)))
        if not numeric:
            ax.set_xticks(xs, [str(v) for v in self.values])
        self.errorbar_ = ax.errorbar(xs, self.means, yerr=self.stds, fmt="o-" if len(xs) < 30 else "o",
                                     capsize=3, ms=4, lw=1)
        if numeric and xs and min(xs) > 0 and max(xs) / min(xs) >= 100:
            ax.set_xscale("log")
        ax.set_xlabel(self.param)
        ax.set_ylabel(f"mean CV {self.scoring} (±1 std)")
        ax.set_title(f"{self.scoring} vs {self.param}")
        ax.grid(alpha=0.3)
        self.ax_, self.figure_ = ax, ax.figure
        return self


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)
