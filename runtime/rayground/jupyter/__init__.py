"""rayground in Jupyter: `%load_ext rayground` registers the magics (magics.py): %ray_init and
%ray_shutdown, the live views (views.py), %%ray_explain over the run analysis (analysis.py), and
worker output routed to the cell that launched the task (routing.py)."""

from __future__ import annotations

from typing import Any


def load_ipython_extension(ipython: Any) -> None:
    from . import magics, routing

    magics.register(ipython)
    routing.install(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from . import routing

    r = routing.router()
    if r is not None and r.shell is ipython:
        r.detach()
