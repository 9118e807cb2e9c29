"""The Jupyter server extension behind the JupyterLab panel (extension/).

It lists the clusters on this machine, follows each one's event stream as an observer and pushes
updates to the browser over a WebSocket (/rayground/feed); it also starts and stops a local
cluster and serves the course's lessons and the learner's progress. Handlers: `handlers.py`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["_jupyter_labextension_paths", "_jupyter_server_extension_points"]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    # Used by `jupyter labextension develop`; installs use the wheel's shared-data instead.
    return [{"src": "labextension", "dest": "@rayground/lab"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "rayground.lab"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from .handlers import setup_handlers

    setup_handlers(serverapp)
