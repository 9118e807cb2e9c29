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

from pathlib import Path
from typing import Any

import anywidget
import traitlets

STATIC = Path(__file__).parent / "static"
BUNDLE = STATIC / "views.js"


class ViewWidget(anywidget.AnyWidget):
    """`kind` is "dag" (data: dag.Graph.model()) or "stream" (data: stream.model())."""

    kind = traitlets.Unicode("dag").tag(sync=True)
    data = traitlets.Dict().tag(sync=True)
    height = traitlets.Int(360).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        if not BUNDLE.is_file():
            raise FileNotFoundError(
                f"the views' front end is not built ({BUNDLE} is missing): run "
                "`bash scripts/setup.sh`, or `cd extension && jlpm install && jlpm build`"
            )
        super().__init__(_esm=BUNDLE.read_text(), _css=(STATIC / "views.css").read_text(), **kwargs)
