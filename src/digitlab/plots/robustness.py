"""Accuracy against corruption severity: one line per corruption, one panel per run."""

from __future__ import annotations

from ._save import new_figure

_MARKERS = "os^vDPX*h<>p"


class RobustnessDisplay:
    """Accuracy under corruption (:func:`digitlab.robustness.robustness`) against severity.

    Each panel shows one result: a line per corruption from its clean accuracy (x = "clean")
    through severities 1 to 3, the mean over corruptions as a thick black line, and the clean
    accuracy on the whole test set as a dashed reference. Several results (runs) are drawn side
    by side on one shared accuracy axis, so models compare at a glance.

    Parameters
    ----------
    results : dict of str to RobustnessResult
        ``{run name: result}``; the names title the panels (an empty name: no run title).
    title : str, default=None
        Figure title above the panels.

    Attributes
    ----------
    lines_ : dict of str to dict of str to matplotlib Line2D
        ``lines_[run][corruption]``: x = 0 (clean) then the severities.
    mean_lines_ : dict of str to matplotlib Line2D
    clean_lines_ : dict of str to matplotlib Line2D
    axes_ : list of matplotlib Axes
        One per result.
    ax_ : matplotlib Axes
        The first panel.
    figure_ : matplotlib Figure
    """

    def __init__(self, results, *, title=None):
        self.results = dict(results)
        self.title = title

    @classmethod
    def from_result(cls, result, *, name="", ax=None, title=None):
        """Draw one :class:`~digitlab.robustness.RobustnessResult` (or its ``to_dict()`` form).

        Parameters
        ----------
        result : RobustnessResult or dict
        name : str, default=""
            Run name shown in the panel title.
        ax : matplotlib Axes, default=None
            Axes object to plot on. If ``None``, a new figure and axes is created.
        title : str, default=None
        """
        return cls({name: _as_result(result)}, title=title).plot(ax=ax)

    @classmethod
    def from_results(cls, results, *, axes=None, title=None):
        """Draw several results side by side: ``{run name: RobustnessResult or dict}``."""
        if not results:
            raise ValueError("RobustnessDisplay.from_results: no results to draw")
        return cls({str(k): _as_result(v) for k, v in results.items()}, title=title).plot(axes=axes)

    def plot(self, ax=None, *, axes=None):
        """Draw the panels; returns ``self``.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            For a single result: the axes to draw on. If ``None`` (and no ``axes``), a new
            figure is created with one panel per result.
        axes : sequence of matplotlib Axes, default=None
            One per result, for several results on existing axes.
        """
        n = len(self.results)
        if ax is not None and axes is not None:
            raise ValueError("RobustnessDisplay.plot: pass ax or axes, not both")
        if ax is not None:
            axes = [ax]
        if axes is None:
            fig = new_figure((2.0 + 4.2 * n, 4.4))
            axes = list(fig.subplots(1, n, sharey=True, squeeze=False)[0])
        axes = list(axes)
        if len(axes) != n:
            raise ValueError(f"RobustnessDisplay.plot: {n} results need {n} axes, got {len(axes)}")
        self.lines_, self.mean_lines_, self.clean_lines_ = {}, {}, {}
        import matplotlib

        colours = matplotlib.colormaps["tab20"].colors
        palette = list(colours[0::2]) + list(colours[1::2])  # the ten strong colours first
        for k, (ax_, (name, r)) in enumerate(zip(axes, self.results.items())):
            xs = [0, *r.severities]
            lines = {}
            for i, corruption in enumerate(r.accuracy):
                ys = [r.baseline[corruption], *r.accuracy[corruption]]
                (lines[corruption],) = ax_.plot(xs, ys, marker=_MARKERS[i % len(_MARKERS)], ms=4, lw=1.3,
                                                color=palette[i % len(palette)], label=corruption)
            self.lines_[name] = lines
            means = r.mean_by_severity()
            (self.mean_lines_[name],) = ax_.plot(xs, [r.clean_accuracy, *means.values()], color="black", lw=3,
                                                 label="mean over corruptions")
            self.clean_lines_[name] = ax_.axhline(r.clean_accuracy, color="grey", ls="--", lw=1,
                                                  label="clean accuracy")
            ax_.set_xticks(xs, ["clean", *map(str, r.severities)])
            ax_.set_xlabel("Severity")
            ax_.set_ylim(0, 1.02)
            ax_.grid(True, alpha=0.3)
            head = f"{name}: " if name else ""
            ax_.set_title(f"{head}clean {r.clean_accuracy:.3f}, mean under corruption {r.mean_accuracy:.3f}",
                          fontsize="medium")
            if k == 0:
                ax_.set_ylabel("Accuracy")
        axes[-1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize="small", frameon=False)
        fig = axes[0].figure
        if self.title:
            fig.suptitle(self.title)
        self.axes_, self.ax_, self.figure_ = axes, axes[0], fig
        return self


def _as_result(result):
    from ..robustness import RobustnessResult

    if isinstance(result, RobustnessResult):
        return result
    if isinstance(result, dict):
        return RobustnessResult.from_dict(result)
    raise TypeError(f"RobustnessDisplay: expected a RobustnessResult or its dict, got {type(result).__name__}")
