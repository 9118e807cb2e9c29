"""Live views (ipywidgets): status, task DAG, object store, actors, timeline.

Each view is a widget plus a stable plain-text form (the display's text/plain, which nbval
compares). A view refreshes on its own background thread: on rayground it wakes on the event stream
(through subscription.py) and re-reads the state tables at most every `MIN_INTERVAL`; on Ray it
polls `ray.util.state`. The kernel is never blocked, and widget updates reach the browser while a
cell is still running. Only the newest `KEEP_LIVE` views of each kind stay live; older ones keep
their last picture.
"""

from __future__ import annotations

import html
import threading
import time
from collections import Counter
from typing import Any, ClassVar

import ipywidgets as w

from . import dag, session, timeline
from .backends import Backend, format_bytes
from .viewwidget import TextView, view_widget

MIN_INTERVAL = 0.25  # seconds between two refreshes of one view
POLL_INTERVAL = 1.0  # Ray (no event stream): seconds between polls
IDLE_POLL = 5.0  # rayground: re-read this often even without events (store use, workers)
KEEP_LIVE = 3
MAX_SHARE_FACTOR = 4  # wait at least this many times a refresh's duration before the next

_views: dict[str, list[LiveView]] = {}
last_static: LiveView | None = None  # the newest view shown with --static
_views_lock = threading.Lock()


class LiveView:
    kind: ClassVar[str] = ""
    events: ClassVar[tuple[str, ...]] = ("task", "object", "actor", "worker", "node")

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.widget = self.build()
        self.data: Any = None
        self.renders = 0
        self.error: str | None = None
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._remove_listener: Any = None
        self.refresh()
        self._thread = threading.Thread(
            target=self._loop, name=f"rayground-{self.kind}", daemon=True
        )

    # -- to implement
    def build(self) -> w.Widget:
        raise NotImplementedError

    def snapshot(self) -> Any:
        raise NotImplementedError

    def render(self, data: Any) -> None:
        raise NotImplementedError

    def text_of(self, data: Any) -> str:
        raise NotImplementedError

    # -- live updating
    def start(self) -> LiveView:
        if self.backend.name == "rayground":
            from . import subscription

            self._remove_listener = subscription.add(self._on_events)
        with _views_lock:
            mine = _views.setdefault(self.kind, [])
            mine.append(self)
            old = mine[:-KEEP_LIVE]
            del mine[:-KEEP_LIVE]
        for view in old:
            view.stop()
        self._thread.start()
        return self

    def stop(self, note: str = "") -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._wake.set()
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None
        if note:
            self.show_note(note)

    @property
    def live(self) -> bool:
        return not self._stopped.is_set()

    def _on_events(self, events: list[tuple], lost: int) -> None:
        if lost or any(e[2] in self.events for e in events):
            self._wake.set()

    def _loop(self) -> None:
        last = time.monotonic()
        gap = MIN_INTERVAL
        poll = POLL_INTERVAL if self.backend.name != "rayground" else IDLE_POLL
        while not self._stopped.is_set():
            self._wake.wait(poll)
            if self._stopped.is_set():
                return
            wait = gap - (time.monotonic() - last)
            if wait > 0:
                time.sleep(wait)  # gather a burst of events into one refresh
            self._wake.clear()
            if not self.backend.connected():
                self.stop("The cluster stopped; this view shows its last state.")
                return
            began = time.monotonic()
            self.refresh()
            last = time.monotonic()
            # A refresh holds the GIL the kernel's own threads need: keep it to a fifth of the
            # time, so a big DAG refreshes less often instead of slowing the work it shows.
            gap = max(MIN_INTERVAL, MAX_SHARE_FACTOR * (last - began))

    def refresh(self) -> None:
        try:
            data = self.snapshot()
        except Exception as exc:  # a view must never raise into the kernel's threads
            self.error = f"{type(exc).__name__}: {exc}"
            return
        self.data = data
        self.error = None
        self.render(data)
        self.renders += 1

    def show_note(self, note: str) -> None:
        self.note.value = f'<div style="color:#666;font-size:12px">{html.escape(note)}</div>'

    # -- display
    def text(self) -> str:
        return self.text_of(self.data) if self.data is not None else f"{self.kind}: {self.error}"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = self.widget._repr_mimebundle_(**kwargs) or {}
        bundle["text/plain"] = self.text()
        return bundle

    def __repr__(self) -> str:
        return self.text()

    def box(self, *children: w.Widget) -> w.VBox:
        self.note = w.HTML("")
        return w.VBox([*children, self.note])


def task_rows(backend: Backend) -> list[dict[str, Any]]:
    """All task rows: on rayground from the event-fed model (no table read per refresh)."""
    if backend.name == "rayground":
        from .model import model

        return model.tasks(backend)
    return backend.tasks()


def last(kind: str) -> LiveView | None:
    """The newest view of this kind (tests and the course read its `text()`)."""
    with _views_lock:
        mine = _views.get(kind) or []
        return mine[-1] if mine else None


def stop_all() -> None:
    with _views_lock:
        views = [v for mine in _views.values() for v in mine]
        _views.clear()
    for view in views:
        view.stop("The cluster was shut down; this view shows its last state.")


session.on_stop.append(stop_all)


# ---------------------------------------------------------------------------- status
class StatusLive(LiveView):
    kind = "status"

    def build(self) -> w.Widget:
        self.html = w.HTML()
        return self.box(self.html)

    def snapshot(self) -> Any:
        board: dict[str, Any] = {}
        if self.backend.name == "rayground":
            from ..util.library_status import read

            try:
                board = read(timeout=5.0)
            except Exception:  # the libraries' section is extra: never lose the status for it
                board = {}
        return self.backend.status(), board

    def render(self, data: Any) -> None:
        from . import libraries
        from .session import StatusView

        status, board = data
        self.html.value = (
            StatusView(status, panel_link=False)._repr_html_()
            + f'<div style="font-size:12px">{html.escape(status.activity_text().strip())}</div>'
            + libraries.html(board)
        )

    def text_of(self, data: Any) -> str:
        from . import libraries

        status, board = data
        lines = libraries.text(board)
        return status.text() + "\n" + status.activity_text() + ("\n" + lines if lines else "")


# ---------------------------------------------------------------------------- DAG
class DagLive(LiveView):
    kind = "dag"
    events = ("task",)

    def __init__(self, backend: Backend, limit: int = 100_000) -> None:
        self.limit = limit
        super().__init__(backend)

    def build(self) -> w.Widget:
        self.header = w.HTML()
        self.graph = view_widget("dag", height=380)
        if not isinstance(self.graph, TextView):
            self.graph.on_msg(self._on_message)
        limits = "".join(
            f'<div style="color:#666;font-size:12px">{html.escape(t)}</div>'
            for t in self.backend.limits[:1]
        )
        return self.box(self.header, w.HTML(limits), self.graph)

    def snapshot(self) -> Any:
        rows = task_rows(self.backend)[-self.limit :]
        rows.sort(key=lambda r: r.get("creation_time_ms") or 0)
        return dag.build([dag.compact_task(r) for r in rows])

    def render(self, graph: dag.Graph) -> None:
        mode = "grouped by function" if graph.grouped else "one node per task"
        self.header.value = (
            f"<b>Task graph</b>: {graph.total_tasks} task(s), {mode}"
            '<span style="color:#888"> (live; drag to pan, wheel to zoom, click a node)</span>'
        )
        if isinstance(self.graph, TextView):  # the front end is not built: the text form
            self.graph.show(graph.text())
        else:
            self.graph.data = graph.model()

    def text_of(self, graph: dag.Graph) -> str:
        return graph.text()

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        """A click on a finished task: send a preview of its (first) result."""
        if not isinstance(content, dict) or content.get("type") != "preview":
            return
        task_id = str(content.get("task", ""))
        self.graph.send({"type": "preview", "task": task_id, "text": self.preview(task_id)})

    def preview(self, task_id: str) -> str:
        if self.backend.name != "rayground":
            return "(previews need rayground; Ray's state API gives no result ids)"
        try:
            value = self.backend.value(f"{task_id}.0", timeout=1.0)
        except Exception as exc:  # freed, failed, or too slow: say which, never raise
            return f"not available ({type(exc).__name__}: {str(exc)[:80]})"
        text, shape, dtype = describe(value)
        return " ".join(x for x in (text, shape, dtype) if x)


# ---------------------------------------------------------------------------- objects
MAX_OBJECT_ROWS = 50
# id, type / preview, shape, dtype, size, where, owner, held by, "show"
OBJECT_COLUMNS = (
    "max-content minmax(140px, 2fr) max-content max-content max-content "
    "minmax(60px, 1fr) minmax(70px, 1fr) minmax(100px, 1.5fr) max-content"
)


class ObjectsLive(LiveView):
    kind = "objects"
    events = ("object",)

    def __init__(self, backend: Backend) -> None:
        self._previews: dict[str, tuple[str, str, str]] = {}
        super().__init__(backend)

    def build(self) -> w.Widget:
        self.fill = w.FloatProgress(min=0.0, max=1.0, description="store", bar_style="info")
        self.fill_text = w.HTML()
        self.table = w.VBox()
        self.value_out = w.Output(layout=w.Layout(max_height="300px", overflow="auto"))
        self.memory_note = w.HTML()
        return self.box(
            w.HBox([self.fill, self.fill_text]), self.memory_note, self.table, self.value_out
        )

    def snapshot(self) -> Any:
        status = self.backend.status()
        rows = sorted(self.backend.objects(), key=lambda r: r.get("created") or 0)
        names = self._holder_names()
        live = {r["object_id"] for r in rows}
        for oid in [o for o in self._previews if o not in live]:
            del self._previews[oid]
        for row in rows[-MAX_OBJECT_ROWS:]:
            row["preview"], row["shape"], row["dtype"] = self._preview(row)
            row["held_by"] = self._held_by(row, names)
            owner = row.get("owner")
            row["owner_name"] = names.get(owner, "another process") if owner else ""
        return status, rows

    def _holder_names(self) -> dict[str, str]:
        names: dict[str, str] = {}
        if self.backend.name != "rayground":
            return names
        from .._core import context

        client = context.current_client(required=False)
        if client is not None:
            names[client.client_id] = "this kernel"
        try:
            for wk in self.backend._request("list_workers"):
                if wk.get("client_id"):
                    names[wk["client_id"]] = f"worker pid={wk['pid']}"
        except Exception:
            pass
        return names

    @staticmethod
    def _held_by(row: dict, names: dict[str, str]) -> str:
        parts = []
        for holder in row.get("holders") or ():
            if holder.startswith("task:"):
                parts.append("a pending task's arguments")
            else:
                parts.append(names.get(holder, "another process"))
        pins = row.get("pins") or 0
        if pins > 0:
            parts.append(f"pinned by {pins} task(s) that use it")
        return ", ".join(sorted(set(parts))) or "nobody (being freed)"

    def _preview(self, row: dict) -> tuple[str, str, str]:
        oid = row["object_id"]
        if oid in self._previews:
            return self._previews[oid]
        if oid.endswith(".h"):  # the object every handle of an actor holds
            return ("actor handle (keeps its actor alive)", "", "")
        if row.get("status") not in ("READY", "FINISHED"):
            return ("(not ready)", "", "")
        try:
            value = self.backend.value(oid, timeout=1.0)
        except Exception as exc:
            out = (f"error: {type(exc).__name__}", "", "")
        else:
            out = describe(value)
        self._previews[oid] = out
        return out

    def render(self, data: Any) -> None:
        status, rows = data
        frac = status.store_used / status.store_capacity if status.store_capacity else 0.0
        self.fill.value = min(frac, 1.0)
        self.fill.bar_style = "danger" if frac > 0.9 else "warning" if frac > 0.7 else "info"
        self.fill_text.value = (
            f"{format_bytes(status.store_used)} of {format_bytes(status.store_capacity)} "
            f"({frac:.0%}), {len(rows)} object(s)"
            + (f", {format_bytes(status.spilled)} spilled" if status.spilled else "")
        )
        note = memory_note(rows, status.store_used + (status.spilled or 0))
        self.memory_note.value = (
            f'<div style="border-left:3px solid #e8a317;padding:4px 8px;font-size:12px">'
            f"{html.escape(note)}</div>"
            if note
            else ""
        )
        header = ["id", "type / preview", "shape", "dtype", "size", "where", "owner", "held by", ""]
        cells: list[w.Widget] = [w.HTML(f"<b>{h}</b>") for h in header]
        for row in rows[-MAX_OBJECT_ROWS:]:
            button = w.Button(description="show", layout=w.Layout(width="60px"))
            button.on_click(lambda _b, oid=row["object_id"]: self.show_value(oid))
            where = "spilled to disk" if row.get("spilled") else row.get("where", "")
            cells.extend(
                [
                    w.HTML(f"<code>{html.escape(row['object_id'][-10:])}</code>"),
                    w.HTML(html.escape(row.get("preview", ""))),
                    w.HTML(html.escape(row.get("shape", ""))),
                    w.HTML(html.escape(row.get("dtype", ""))),
                    w.HTML(format_bytes(row.get("object_size") or 0)),
                    w.HTML(html.escape(where)),
                    w.HTML(html.escape(row.get("owner_name", ""))),
                    w.HTML(html.escape(row.get("held_by", ""))),
                    button,
                ]
            )
        self.table.children = [
            w.GridBox(
                cells,
                layout=w.Layout(
                    # Fixed widths (1,100 px) overflowed Notebook 7's output area and
                    # JupyterLab's beside an open sidebar: short columns take their content's
                    # width, preview and holders share the rest and wrap.
                    grid_template_columns=OBJECT_COLUMNS,
                    grid_gap="2px 8px",
                ),
            )
        ]

    def show_value(self, oid: str) -> None:
        """The "show" button: the value itself, set as the Output widget's state (not captured
        by the frontend), so it works from a click's callback and from any thread."""
        out = self.value_out
        out.outputs = ()
        try:
            value = self.backend.value(oid, timeout=5.0)
        except Exception as exc:
            out.append_stderr(f"{oid}: {type(exc).__name__}: {exc}\n")
            return
        out.append_stdout(f"{oid}:\n")
        out.append_display_data(value)

    def text_of(self, data: Any) -> str:
        status, rows = data
        lines = [
            f"object store: {len(rows)} object(s), {format_bytes(status.store_used)} of "
            f"{format_bytes(status.store_capacity)} used"
        ]
        for row in rows[-MAX_OBJECT_ROWS:]:
            extra = " ".join(x for x in (row.get("shape", ""), row.get("dtype", "")) if x)
            lines.append(
                f"  {row['object_id']}  {row.get('preview', '')}"
                + (f"  {extra}" if extra else "")
                + f"  {format_bytes(row.get('object_size') or 0)}"
                + f"  {'spilled' if row.get('spilled') else row.get('where', '')}"
            )
        return "\n".join(lines)


def memory_note(rows: list[dict], used: int) -> str | None:
    """Why the store's memory is not going down, when objects something still refers to hold
    most of it (extension/src/objects.ts memoryNote says the same in the panel)."""
    held = [
        r
        for r in rows
        if r.get("where") != "inline" and (r.get("holders") or (r.get("pins") or 0) > 0)
    ]
    size = sum(int(r.get("object_size") or 0) for r in held)
    if used <= 0 or size < used / 2:
        return None
    return (
        f"Why is memory not going down? {len(held)} object(s) ({format_bytes(size)}) are still "
        "referenced. The store frees an object only when nothing refers to it: not an "
        "ObjectRef kept in a variable or a list of results, not a NumPy array returned by get "
        "(it reads the store without copying), not a pending task that takes it as an "
        "argument. `del` those (or let them go out of scope) and the memory comes back."
    )


def describe(value: Any) -> tuple[str, str, str]:
    """(type and short preview, shape, dtype) of a stored value."""
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    kind = type(value).__name__
    try:
        text = repr(value)
    except Exception:
        text = object.__repr__(value)
    text = " ".join(text.split())
    if len(text) > 40:
        text = text[:39] + "…"
    return (
        f"{kind}: {text}",
        str(tuple(shape)) if isinstance(shape, tuple) else "",
        str(dtype) if dtype is not None else "",
    )


# ---------------------------------------------------------------------------- actors
class ActorsLive(LiveView):
    kind = "actors"
    events = ("actor", "task")

    def build(self) -> w.Widget:
        self.html = w.HTML()
        return self.box(self.html)

    def snapshot(self) -> Any:
        rows = self.backend.actors()
        if rows and rows[0].get("calls_done") is None:  # Ray: count calls from the task table
            done: Counter = Counter()
            queued: Counter = Counter()
            for t in self.backend.tasks():
                if t.get("actor_id") and t.get("type") == "ACTOR_TASK":
                    (done if t["state"] in ("FINISHED", "FAILED") else queued)[t["actor_id"]] += 1
            for r in rows:
                r["calls_done"] = done[r["actor_id"]]
                r["calls_queued"] = queued[r["actor_id"]]
        return sorted(rows, key=lambda r: (r.get("start_time") or 0, r["actor_id"]))

    def render(self, rows: list[dict]) -> None:
        color = {"ALIVE": "#3aa35c", "DEAD": "#d9463e", "RESTARTING": "#f2b134"}
        body = "".join(
            "<tr>"
            f"<td>{html.escape(r['class_name'])}</td><td>{html.escape(r.get('name') or '')}</td>"
            f'<td style="color:{color.get(r["state"], "#666")}">{r["state"]}</td>'
            f"<td>{r.get('pid') or ''}</td><td>{r.get('calls_done')}</td>"
            f"<td>{r.get('calls_queued')}</td><td>{r.get('num_restarts', 0)}</td>"
            f"<td>{html.escape((r.get('death_cause') or '')[:80])}</td></tr>"
            for r in rows
        )
        self.html.value = (
            f"<b>Actors</b>: {len(rows)}<table><tr><th>class</th><th>name</th><th>state</th>"
            f"<th>pid</th><th>calls done</th><th>queued</th><th>restarts</th><th>cause</th></tr>"
            f"{body}</table>"
        )

    def text_of(self, rows: list[dict]) -> str:
        states = Counter(r["state"] for r in rows)
        lines = [
            f"actors: {len(rows)}"
            + (" (" + ", ".join(f"{n} {s.lower()}" for s, n in sorted(states.items())) + ")")
            * bool(rows)
        ]
        for r in rows:
            name = f" {r['name']!r}" if r.get("name") else ""
            lines.append(
                f"  {r['class_name']}{name}: {r['state']}, pid={r.get('pid')}, "
                f"{r.get('calls_done')} call(s) done, {r.get('calls_queued')} queued"
            )
        return "\n".join(lines)


# ---------------------------------------------------------------------------- timeline
MAX_STREAM_TASKS = 5_000  # the newest runs the widget gets (the text form counts them all)


class TimelineLive(LiveView):
    """%ray_timeline: the task stream, one lane per worker grouped by node."""

    kind = "timeline"
    events = ("task", "worker")

    def __init__(self, backend: Backend) -> None:
        self._node_of: dict[str, str] = {}  # worker pid -> node id, kept after a worker exits
        self._copies: dict[str, dict[str, Any]] = {}  # task results copied between nodes
        super().__init__(backend)

    def build(self) -> w.Widget:
        self.header = w.HTML()
        self.stream = view_widget("stream", height=320)
        return self.box(self.header, self.stream)

    def snapshot(self) -> Any:
        rows = [r for r in task_rows(self.backend) if r.get("type") != "ACTOR_CREATION_TASK"]
        return rows, time.time(), self._nodes(), self._results()

    def _results(self) -> dict[str, int]:
        """Task id -> bytes of its results still in the store (the hover details say it)."""
        out: dict[str, int] = {}
        if self.backend.name != "rayground":
            return out
        objects = self.backend.objects()
        timeline.absorb_copies(self._copies, objects)
        for obj in objects:
            if obj.get("task_id"):
                out[obj["task_id"]] = out.get(obj["task_id"], 0) + int(obj.get("object_size") or 0)
        return out

    def _nodes(self) -> dict[str, str]:
        """Node id -> its IP (the head's marked); fills `_node_of` from the live workers."""
        if self.backend.name != "rayground":
            return {}
        for wk in self.backend._request("list_workers"):
            self._node_of[str(wk["pid"])] = wk["node_id"]
        return {
            n["node_id"]: n["node_ip"] + (" (head)" if n.get("is_head_node") else "")
            for n in self.backend._request("list_nodes")
        }

    def render(self, data: Any) -> None:
        rows, now, nodes, results = data
        ran = [r for r in rows if r.get("start_time_ms")]
        shown = ran[-MAX_STREAM_TASKS:]
        self.header.value = (
            f"<b>Task stream</b>: {len(ran)} task run(s)"
            + (f", the newest {len(shown)} shown" if len(shown) < len(ran) else "")
            + '<span style="color:#888"> (live; wheel to zoom in time, drag to pan, hover a bar;'
            " hatched: worker idle, striped: blocked in get)</span>"
        )
        if isinstance(self.stream, TextView):  # the front end is not built: the text form
            self.stream.show(timeline.text(rows, now))
            return
        self.stream.data = {
            "tasks": [dag.compact_task(r) for r in shown],
            "workers": dict(self._node_of),
            "nodes": nodes,
            "nowMs": now * 1000,
            "results": {
                r["task_id"]: results[r["task_id"]] for r in shown if r["task_id"] in results
            },
            "copies": list(self._copies.values()),
        }

    def text_of(self, data: Any) -> str:
        rows, now, _nodes, _results = data
        return timeline.text(rows, now)


VIEWS = {
    "status": StatusLive,
    "dag": DagLive,
    "objects": ObjectsLive,
    "actors": ActorsLive,
    "timeline": TimelineLive,
}


def open_view(kind: str, live: bool = True) -> LiveView:
    backend = session.current(required=True)
    view = VIEWS[kind](backend)
    if live:
        view.start()
    return view
