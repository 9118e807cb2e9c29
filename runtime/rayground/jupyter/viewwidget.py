"""The notebook widget that draws the DAG and the task stream with the JupyterLab extension's own
views (extension/src/dagview.ts, streamview.ts), bundled for anywidget into static/views.js.

Why anywidget and not a layout computed in Python: the panel lays the DAG out with dagre, and a
Python copy of dagre's crossing reduction and coordinate assignment would be a second layout
that drifts from the first (the state names had already drifted between two hand-rolled ones).
With the same bundled code, the widget and the panel draw one model the same way, and anywidget
speaks the plain ipywidgets protocol, so the widget also works in Notebook 7, VS Code and other
front ends, with or without the JupyterLab extension.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import anywidget
import ipywidgets
import traitlets

STATIC = Path(__file__).parent / "static"
BUNDLE = STATIC / "views.js"
NOT_BUILT = (
    "The interactive view needs the extension's front end, which is not built in this "
    "checkout ({bundle} is missing): run `bash scripts/setup.sh`, or `cd extension && jlpm "
    "install && jlpm build`. Until then it shows its text form."
)


class ViewWidget(anywidget.AnyWidget):
    """`kind` is "dag" (data: dag.Graph.model()) or "stream" (data: stream.model())."""

    kind = traitlets.Unicode("dag").tag(sync=True)
    data = traitlets.Dict().tag(sync=True)
    height = traitlets.Int(360).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        if not BUNDLE.is_file():
            raise FileNotFoundError(NOT_BUILT.format(bundle=BUNDLE))
        super().__init__(_esm=BUNDLE.read_text(), _css=(STATIC / "views.css").read_text(), **kwargs)


class TextView(ipywidgets.HTML):
    """Where the bundle is not built (a source checkout run with PYTHONPATH): the view's text
    form, kept live, under a note saying how to get the interactive one. Notebooks and their
    stored text outputs work the same either way."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.show("")

    def show(self, text: str) -> None:
        self.value = (
            f'<div style="color:#888;font-size:12px">{html.escape(NOT_BUILT.format(bundle=BUNDLE))}'
            f"</div><pre>{html.escape(text)}</pre>"
        )


def view_widget(kind: str, height: int) -> ViewWidget | TextView:
    """The interactive widget, or its text stand-in where the front end is not built."""
    if BUNDLE.is_file():
        return ViewWidget(kind=kind, height=height)
    return TextView()
