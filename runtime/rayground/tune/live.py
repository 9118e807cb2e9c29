"""The live trials view for notebooks: one widget with a table (status, config, iterations,
last and best metric, and *why* a stopped trial stopped) and an SVG plot of each trial's metric
curve, redrawn in place as results arrive (at most every `_REDRAW_S`), instead of Ray Tune's
scrolling text tables.

It is a `Callback`, added by `Tuner.fit()` when it runs inside a Jupyter kernel (and
`RunConfig(verbose=0)` was not asked for); pass `TrialsView(...)` in `RunConfig(callbacks=...)`
to keep a handle. Its text form is one fixed line, so stored notebook outputs do not depend on
timing. The table and plot are built by pure functions (`trial_rows`, `table_html`, `plot_svg`).
"""

from __future__ import annotations

import html
import math
import time
from typing import Any

from .callback import Callback

_REDRAW_S = 0.25
_COLORS = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def _why(trial: Any) -> str:
    if trial.status == "ERROR":
        return f"failed: {trial.error_msg}"
    if trial.stop_reason:
        return str(trial.stop_reason)
    exploits = getattr(trial, "exploits", None)
    if exploits and trial.status in ("PENDING", "RUNNING"):
        return str(exploits[-1])
    if trial.status == "TERMINATED":
        return "finished"
    return ""


def trial_rows(trials: list[Any], metric: str | None, mode: str | None) -> list[dict[str, Any]]:
    """One row per trial: what the table shows."""
    rows = []
    for trial in trials:
        last = trial.last_result.get(metric) if metric else None
        best = None
        if metric and metric in trial.metric_analysis and mode in ("min", "max"):
            best = trial.metric_analysis[metric][mode]
        shown = {k: v for k, v in trial.evaluated_params.items()} or {
            k: v for k, v in trial.config.items() if not isinstance(v, dict)
        }
        rows.append(
            {
                "trial": str(trial),
                "status": trial.status,
                "config": ", ".join(f"{k}={_fmt(v)}" for k, v in shown.items()),
                "iter": trial.last_result.get("training_iteration", 0),
                "last": last,
                "best": best,
                "why": _why(trial),
            }
        )
    return rows


def table_html(rows: list[dict[str, Any]], metric: str | None) -> str:
    name = html.escape(metric or "metric")
    head = "".join(
        f"<th style='text-align:left;padding:2px 8px'>{h}</th>"
        for h in ("trial", "status", "config", "iter", f"last {name}", f"best {name}", "why")
    )
    body = []
    for row in rows:
        cells = [
            row["trial"],
            row["status"],
            row["config"],
            row["iter"],
            row["last"],
            row["best"],
            row["why"],
        ]
        body.append(
            "<tr>"
            + "".join(f"<td style='padding:2px 8px'>{html.escape(_fmt(c))}</td>" for c in cells)
            + "</tr>"
        )
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    summary = ", ".join(f"{n} {s.lower()}" for s, n in sorted(counts.items()))
    return (
        f"<div><b>{len(rows)} trials</b> ({html.escape(summary)})</div>"
        f"<table style='border-collapse:collapse;font-size:12px'><thead><tr>{head}</tr>"
        f"</thead><tbody>{''.join(body)}</tbody></table>"
    )


def plot_svg(
    curves: dict[str, list[tuple[float, float]]],
    metric: str | None,
    width: int = 480,
    height: int = 220,
) -> str:
    """Each trial's metric against its iteration, one polyline per trial."""
    points = [p for c in curves.values() for p in c if math.isfinite(p[1])]
    if not points:
        return ""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y0, y1 = min(ys), max(ys) if max(ys) > min(ys) else min(ys) + 1
    pad = 30

    def sx(x: float) -> float:
        return pad + (x - x0) / (x1 - x0) * (width - 2 * pad)

    def sy(y: float) -> float:
        return height - pad - (y - y0) / (y1 - y0) * (height - 2 * pad)

    lines = []
    for i, (name, curve) in enumerate(sorted(curves.items())):
        pts = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in curve if math.isfinite(y))
        color = _COLORS[i % len(_COLORS)]
        lines.append(
            f"<polyline fill='none' stroke='{color}' stroke-width='1.5' "
            f"points='{pts}'><title>{html.escape(name)}</title></polyline>"
        )
    label = html.escape(metric or "metric")
    return (
        f"<svg width='{width}' height='{height}' style='font-size:10px'>"
        f"<line x1='{pad}' y1='{height - pad}' x2='{width - pad}' y2='{height - pad}' "
        f"stroke='#888'/><line x1='{pad}' y1='{pad}' x2='{pad}' y2='{height - pad}' "
        f"stroke='#888'/>{''.join(lines)}"
        f"<text x='{pad}' y='{pad - 8}'>{label} ({_fmt(y0)} .. {_fmt(y1)})</text>"
        f"<text x='{width - pad - 60}' y='{height - 8}'>iteration {_fmt(x1)}</text></svg>"
    )


class TrialsView(Callback):
    """A live table of trials and a plot of their metric curves (see the module docstring)."""

    def __init__(self, metric: str | None = None, mode: str | None = None) -> None:
        import ipywidgets

        self.metric = metric
        self.mode = mode
        self.curves: dict[str, list[tuple[float, float]]] = {}
        self._trials: list[Any] = []
        self._last_draw = 0.0
        self._table = ipywidgets.HTML()
        self._plot = ipywidgets.HTML()
        self.widget = _text_box([self._table, self._plot])

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def on_trial_result(
        self, iteration: int, trials: list[Any], trial: Any, result: dict[str, Any], **info: Any
    ) -> None:
        self._trials = trials
        if self.metric and isinstance(result.get(self.metric), (int, float)):
            self.curves.setdefault(str(trial), []).append(
                (float(result.get("training_iteration", 0)), float(result[self.metric]))
            )
        self._draw()

    def on_trial_start(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._trials = trials
        self._draw()

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._trials = trials
        self._draw()

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._trials = trials
        self._draw()

    def on_experiment_end(self, trials: list[Any], **info: Any) -> None:
        self._trials = trials
        self._draw(force=True)

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_draw < _REDRAW_S:
            return
        self._last_draw = now
        self._table.value = table_html(
            trial_rows(self._trials, self.metric, self.mode), self.metric
        )
        self._plot.value = plot_svg(self.curves, self.metric)


def _text_box_class() -> type:
    import ipywidgets

    class TextBox(ipywidgets.VBox):
        def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
            bundle = super()._repr_mimebundle_(**kwargs) or {}
            bundle["text/plain"] = "Tune trials (live view)"
            return bundle

    return TextBox


def _text_box(children: list[Any]) -> Any:
    return _text_box_class()(children)


def in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def maybe_live_view(verbose: Any, metric: str | None, mode: str | None) -> TrialsView | None:
    """A displayed TrialsView when running in a Jupyter kernel (unless verbose=0), else None."""
    if verbose == 0 or not in_notebook():
        return None
    try:
        view = TrialsView(metric, mode)
    except ImportError:
        return None
    from IPython.display import display

    display(view.widget)
    return view
