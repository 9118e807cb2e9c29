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


def stop() -> str | None:
    """Shut the cluster down, or leave a joined one: "stopped", "left", or None if none ran."""
    global _current
    for callback in list(on_stop):
        try:
            callback()
        except Exception:
            pass
    backend = current(required=False)
    _current = None
    if backend is None:
        return None
    owned = backend.owns_cluster()
    backend.shutdown()
    return "stopped" if owned else "left"


OPEN_PANEL_COMMAND = "rayground:open-panel"  # extension/src/commands.ts, CommandIDs.openPanel


def open_panel_link() -> str:
    """A link that opens the rayground side panel, for HTML outputs.

    JupyterLab's CommandLinker runs the command of a clicked element carrying
    `data-commandlinker-command`; its sanitizer keeps that attribute only on <button> (for
    untrusted outputs, where the linker asks before running it), so the link is a button styled
    as a link. It is `hidden` until the lab extension marks the page as having the panel
    (extension/style/base.css): Notebook 7, VS Code or a static render show the sentence
    saying where the panel is, and no button that would do nothing.
    """
    return (
        ' <button type="button" class="rayground-open-panel" hidden '
        f'data-commandlinker-command="{OPEN_PANEL_COMMAND}" '
        'title="Show the rayground panel in the left sidebar">Open the panel</button>'
    )


class StatusView:
    """Compact status: HTML for people, a stable plain-text form for nbval.

    `panel_link=False` leaves the open-the-panel link out: inside a widget (%ray_status) the
    CommandLinker does not count the output as trusted and would ask before opening the panel.
    """

    def __init__(self, status: ClusterStatus, note: str = "", panel_link: bool = True) -> None:
        self.status = status
        self.note = note
        self.panel_link = panel_link

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
            f'<div class="rayground-panel-hint" style="color:#666">Live views: %ray_status, '
            f"%ray_dag, %ray_objects, %ray_actors, %ray_timeline; the rayground side panel in "
            f"JupyterLab's left bar shows this cluster too."
            f"{open_panel_link() if self.panel_link else ''}</div></div>"
        )
