"""One live progress display per execution, in a notebook: an ipywidget showing each operator's
tasks, blocks, rows and throughput, updated in place (at most every `MIN_INTERVAL` seconds), so a
long pipeline does not flood the cell's output. Outside a kernel (scripts, tests) it shows
nothing. Its text form names the operators only, so stored notebook outputs stay stable.

Turned off with `DataContext.get_current().enable_progress_bars = False`.
"""

from __future__ import annotations

import html
import time
from typing import Any

from .context import DataContext
from .stats import OpStats

MIN_INTERVAL = 0.25


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class ProgressWidget:
    """The widget itself (an `ipywidgets.HTML` inside), rendered from the operators' stats."""

    def __init__(self, ops: list[OpStats]) -> None:
        import ipywidgets

        self.ops = ops
        self.started = time.perf_counter()
        self.done = False
        self.widget = ipywidgets.HTML(self.html())

    def text(self) -> str:
        return "Dataset execution: " + " -> ".join(op.name for op in self.ops)

    def html(self) -> str:
        elapsed = time.perf_counter() - self.started
        state = "finished" if self.done else "running"
        rows = []
        for op in self.ops:
            rate = op.rows / op.elapsed if op.elapsed > 0 else 0.0
            rows.append(
                f"<tr><td>{html.escape(op.name)}</td><td>{op.tasks}</td><td>{op.blocks}</td>"
                f"<td>{op.rows:,}</td><td>{rate:,.0f}</td></tr>"
            )
        return (
            f'<div style="font-family:monospace;font-size:12px">'
            f"<b>Dataset {state}</b> in {elapsed:.1f}s"
            "<table><tr><th align=left>operator</th><th>tasks</th><th>blocks</th>"
            f"<th>rows</th><th>rows/s</th></tr>{''.join(rows)}</table></div>"
        )

    def refresh(self) -> None:
        self.widget.value = self.html()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = self.widget._repr_mimebundle_(**kwargs) or {}
        bundle["text/plain"] = self.text()
        return bundle

    def __repr__(self) -> str:
        return self.text()


class ProgressReporter:
    def __init__(self, widget: ProgressWidget | None) -> None:
        self.widget = widget
        self.last = 0.0

    @classmethod
    def start(cls, ops: list[OpStats], enabled: bool = True) -> ProgressReporter:
        if not (enabled and DataContext.get_current().enable_progress_bars and _in_kernel()):
            return cls(None)
        try:
            widget = ProgressWidget(ops)
            from IPython.display import display

            display(widget)
        except Exception:  # no ipywidgets: run without a display rather than fail the work
            return cls(None)
        return cls(widget)

    def update(self) -> None:
        if self.widget is None:
            return
        now = time.perf_counter()
        if now - self.last >= MIN_INTERVAL:
            self.last = now
            self.widget.refresh()

    def close(self) -> None:
        if self.widget is not None:
            self.widget.done = True
            self.widget.refresh()
