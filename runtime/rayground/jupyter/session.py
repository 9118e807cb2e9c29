"""The kernel's one cluster connection as the magics see it: which backend, started with what.

%ray_init goes through `ensure()`: the same arguments reuse the running cluster, different ones
restart it (after saying so). Views and the run analysis ask `current()` for the backend.
"""

from __future__ import annotations

import html
import sys
from collections.abc import Callable
from dataclasses import dataclass

from .backends import Backend, ClusterStatus, InitArgs, format_bytes, make_backend

_current: Backend | None = None
on_stop: list[Callable[[], None]] = []  # live views stop their threads before a shutdown


@dataclass
class InitOutcome:
    backend: Backend
    action: str  # "started" | "joined" | "reused" | "restarted" | "adopted"
    message: str


def current(required: bool = True) -> Backend | None:
    """The connected backend; adopts a cluster that user code started with `rayground.init()`."""
    global _current
    if _current is not None and _current.connected():
        return _current
    from .backends import RaygroundBackend

    adopted = RaygroundBackend(InitArgs())
    if adopted.connected():
        _current = adopted
        return adopted
    ray = sys.modules.get("ray")  # real Ray, started by the learner's own ray.init()
    if ray is not None and getattr(ray, "is_initialized", lambda: False)():
        from .backends import RayBackend

        _current = RayBackend(InitArgs(backend="ray"))
        return _current
    if required:
        raise RuntimeError("No cluster is running in this kernel: run %ray_init first.")
    return None


def ensure(args: InitArgs) -> InitOutcome:
    global _current
    running = current(required=False)
    message = ""
    if running is not None:
        if running.args == args or (_current is None and args == InitArgs()):
            _current = running
            return InitOutcome(running, "reused", "Reusing the cluster already running.")
        change = running.args.describe_change(args) if _current is running else ""
        message = (
            f"Arguments changed ({change}): restarting the cluster."
            if change
            else "A cluster started by code in this kernel is running: restarting it with "
            "these arguments."
        )
        stop()
    backend = make_backend(args)
    backend.start()
    _current = backend
    if message:
        return InitOutcome(backend, "restarted", message)
    action = "joined" if args.address else "started"
    return InitOutcome(backend, action, "")


def stop() -> bool:
    """Shut the cluster down (or disconnect from a joined one); False if none was running."""
    global _current
    for callback in list(on_stop):
        try:
            callback()
        except Exception:
            pass
    backend = current(required=False)
    _current = None
    if backend is None:
        return False
    backend.shutdown()
    return True


class StatusView:
    """Compact status: HTML for people, a stable plain-text form for nbval."""

    def __init__(self, status: ClusterStatus, note: str = "") -> None:
        self.status = status
        self.note = note

    def __repr__(self) -> str:
        text = self.status.text()
        return f"{self.note}\n{text}" if self.note else text

    def _repr_pretty_(self, p, cycle: bool) -> None:  # IPython's text/plain
        p.text(repr(self))

    def _repr_html_(self) -> str:
        s = self.status
        frac = s.store_used / s.store_capacity if s.store_capacity else 0.0
        origin = "started by this kernel" if s.started_here else "joined"
        note = f"<div>{html.escape(self.note)}</div>" if self.note else ""
        custom = "".join(
            f"<td><b>{html.escape(k)}</b> {v:g}</td>" for k, v in sorted(s.custom.items())
        )
        return (
            f'{note}<div class="rayground-status" style="font-family:var(--jp-ui-font-family,'
            f'sans-serif);font-size:13px">'
            f"<b>{html.escape(s.backend)}</b> cluster ({origin})"
            f"<table><tr><td><b>nodes</b> {s.nodes}</td>"
            f"<td><b>CPUs</b> {s.cpus:g} ({s.cpus_free:g} free)</td>"
            f"<td><b>GPUs</b> {s.gpus:g} ({s.gpus_free:g} free)</td>{custom}</tr></table>"
            f'<div title="object store">object store {format_bytes(s.store_used)} of '
            f"{format_bytes(s.store_capacity)}"
            f'<div style="width:240px;height:8px;background:#ddd;border-radius:4px">'
            f'<div style="width:{min(frac, 1.0) * 100:.1f}%;height:8px;background:#2a7ae2;'
            f'border-radius:4px"></div></div></div>'
            f'<div style="color:#666">Live views: %ray_status, %ray_dag, %ray_objects, '
            f"%ray_actors, %ray_timeline; the rayground side panel (left bar) shows this "
            f"cluster too.</div></div>"
        )
