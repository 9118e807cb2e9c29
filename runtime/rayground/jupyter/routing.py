"""Worker output under the cell that launched the task, and Ctrl-C that cancels the cell's tasks.

Ray prints worker output in whichever cell happens to run when it arrives. Here each submission
from the kernel's main thread is recorded with the cell running it (its parent message), tasks
submitted by tasks inherit their root's cell (learned from the event stream's `parent`), and each
forwarded line `(prefix, stream, text, task_id)` is written with that cell's parent header. While
the cell runs, that is ordinary stream output (so nbval sees it); once the cell has finished,
JupyterLab no longer routes messages to it, so each cell that submitted tasks ends with an
(empty, text-less) Output widget, and later lines go there.

An interrupt (the stop button: SIGINT to the kernel's process group; the cluster runs in its own
session so it never sees it) raises KeyboardInterrupt in the driver's get/wait; the custom
exception handler then cancels the unfinished tasks that cell submitted and says which.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
from collections import Counter
from typing import Any

from .._core import log_stream, observe

_DONE = ("FINISHED", "FAILED")
_UNRESOLVED_GRACE = 1.0  # seconds a line waits for its task's cell to become known
MAX_TRACKED = 200_000  # tasks whose cell is remembered


class CellRecord:
    __slots__ = ("count", "late", "parent", "pending", "submitted")

    def __init__(self, parent: dict | None, count: int | None) -> None:
        self.parent = parent
        self.count = count
        self.submitted: dict[str, str] = {}  # task id -> name, in submission order
        self.pending: set[str] = set()  # submitted and not yet finished
        self.late: Any = None  # Output widget for lines that arrive after the cell ended


class CellRouter:
    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.kernel = getattr(shell, "kernel", None)
        self.current: CellRecord | None = None
        self.by_task: dict[str, CellRecord] = {}
        self.parent_of: dict[str, str] = {}
        self.by_actor: dict[str, CellRecord] = {}
        self._held: list[tuple[float, tuple]] = []
        self._lock = threading.Lock()
        self._unsubscribe: Any = None
        self._main = threading.main_thread()

    # ------------------------------------------------------------ install
    def attach(self) -> None:
        shell = self.shell
        shell.events.register("pre_run_cell", self.pre_run_cell)
        shell.events.register("post_run_cell", self.post_run_cell)
        shell.set_custom_exc((KeyboardInterrupt,), self._on_interrupt)
        if self.on_submit not in observe.submit_hooks:
            observe.submit_hooks.append(self.on_submit)
        log_stream.driver_sink = self.sink

    def detach(self) -> None:
        shell = self.shell
        for name, fn in (
            ("pre_run_cell", self.pre_run_cell),
            ("post_run_cell", self.post_run_cell),
        ):
            try:
                shell.events.unregister(name, fn)
            except ValueError:
                pass
        shell.set_custom_exc((), None)
        if self.on_submit in observe.submit_hooks:
            observe.submit_hooks.remove(self.on_submit)
        if log_stream.driver_sink == self.sink:
            log_stream.driver_sink = None
        self.follow_events(False)

    def follow_events(self, on: bool = True) -> None:
        """Learn task -> parent and completions from the event stream (through subscription.py)."""
        from . import subscription

        if on and self._unsubscribe is None:
            self._unsubscribe = subscription.add(self.on_events)
        elif not on and self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if on:
            try:
                subscription.refresh()
            except Exception:
                pass

    # ------------------------------------------------------------ cells
    def pre_run_cell(self, info: Any = None) -> None:
        parent = None
        if self.kernel is not None:
            try:
                parent = self.kernel.get_parent("shell")
            except Exception:
                parent = None
        self.current = CellRecord(parent, getattr(self.shell, "execution_count", None))
        if self._unsubscribe is not None:
            from . import subscription

            try:
                subscription.refresh()  # code in the previous cell may have started a new cluster
            except Exception:
                pass

    def post_run_cell(self, result: Any = None) -> None:
        cell = self.current
        if cell is None:
            return
        if cell.submitted:
            self._catch_up()  # parents, completions and lines still on their way arrive now
        self._flush_held(force=False)
        self.current = None
        if not cell.submitted or self.kernel is None:
            return
        # Every cell that submitted tasks ends with a text-less Output widget where lines that
        # arrive after it finished are shown. Always, not only when tasks still run, so that a
        # notebook's stored outputs do not depend on timing (nbval compares them).
        try:
            from IPython.display import display

            from .widgets import LateOutput

            cell.late = LateOutput()
            display(cell.late)
        except Exception:
            cell.late = None
        self._prune()

    def _prune(self) -> None:
        """Forget the oldest tasks' cells past MAX_TRACKED (a long session's memory stays flat)."""
        with self._lock:
            extra = len(self.by_task) - MAX_TRACKED
            if extra > 0:
                for tid in list(itertools.islice(self.by_task, extra)):
                    del self.by_task[tid]
                    self.parent_of.pop(tid, None)

    def _catch_up(self, timeout: float = 0.5) -> None:
        from .._core import context
        from . import subscription

        client = context.current_client(required=False)
        if client is None or not client.alive or self._unsubscribe is None:
            return
        try:
            subscription.catch_up(client.request("status", timeout=2)["event_seq"], timeout=timeout)
        except Exception:
            pass

    def on_submit(self, spec: dict, args: tuple, kwargs: dict) -> None:
        cell = self.current
        if cell is None or threading.current_thread() is not self._main:
            return
        if spec.get("kind") == "actor_create":
            # Its __init__ runs as task "<actor id>-init<n>" (n = restarts): print there too.
            with self._lock:
                self.by_actor[spec["actor_id"]] = cell
            return
        tid = spec["task_id"]
        with self._lock:
            cell.submitted[tid] = spec.get("name", "?")
            cell.pending.add(tid)
            self.by_task[tid] = cell

    def on_events(self, events: list, lost: int) -> None:
        with self._lock:
            for _seq, _t, kind, ident, state, extra in events:
                if kind != "task":
                    continue
                if state == "PENDING_ARGS_AVAIL" and extra and extra.get("parent"):
                    parent = extra["parent"]
                    self.parent_of[ident] = parent
                    root = self._cell_of(parent)
                    if root is not None:
                        self.by_task[ident] = root
                elif state in _DONE:
                    cell = self.by_task.get(ident)
                    if cell is not None:
                        cell.pending.discard(ident)
        self._flush_held(force=False)

    def _cell_of(self, task_id: str | None) -> CellRecord | None:
        if task_id is not None and "-init" in task_id:
            actor_id, _, restarts = task_id.rpartition("-init")
            if restarts.isdigit() and actor_id in self.by_actor:
                return self.by_actor[actor_id]
        seen = 0
        while task_id is not None and seen < 64:
            cell = self.by_task.get(task_id)
            if cell is not None:
                return cell
            task_id = self.parent_of.get(task_id)
            seen += 1
        return None

    # ------------------------------------------------------------ output
    def sink(self, lines: list[tuple]) -> None:
        """Called on the client's I/O thread with forwarded worker lines."""
        now = time.monotonic()
        ready: list[tuple[CellRecord | None, tuple]] = []
        with self._lock:
            for line in lines:
                task_id = line[3] if len(line) > 3 else None
                cell = self._cell_of(task_id)
                if cell is None and task_id is not None and task_id not in self.parent_of:
                    self._held.append((now, line))  # its submit event may still be on the way
                    continue
                ready.append((cell, line))
        self._write(ready)
        self._flush_held(force=False)

    def _flush_held(self, force: bool) -> None:
        if not self._held:
            return
        now = time.monotonic()
        ready = []
        with self._lock:
            keep = []
            for born, line in self._held:
                cell = self._cell_of(line[3])
                if cell is not None or force or now - born > _UNRESOLVED_GRACE:
                    ready.append((cell, line))
                else:
                    keep.append((born, line))
            self._held = keep
        self._write(ready)

    def _write(self, items: list[tuple[CellRecord | None, tuple]]) -> None:
        for cell, (prefix, stream, text, *_rest) in items:
            out = f"{prefix} {text}\n"
            if cell is not None and cell is not self.current and cell.late is not None:
                if stream == "stderr":
                    cell.late.append_stderr(out)
                else:
                    cell.late.append_stdout(out)
                continue
            target = sys.stderr if stream == "stderr" else sys.stdout
            parent = cell.parent if cell is not None else None
            setter = getattr(target, "set_thread_parent", None)
            if parent is not None and setter is not None:
                token = setter(parent)
                try:
                    target.write(out)
                finally:
                    target.reset_thread_parent(token)
            else:
                target.write(out)
        if items:
            sys.stdout.flush()
            sys.stderr.flush()

    # ------------------------------------------------------------ interrupt
    def _on_interrupt(self, shell: Any, etype: type, value: BaseException, tb: Any, tb_offset=None):
        cell = self.current
        cancelled = self.cancel_cell(cell) if cell is not None else Counter()
        # The frames inside rayground (where get() was waiting) say nothing to the learner and
        # cost time to format: show the traceback up to the user's call.
        shell.showtraceback((etype, value, _user_frames(tb)), tb_offset=tb_offset)
        if cancelled:
            total = sum(cancelled.values())
            what = ", ".join(f"{name} x{n}" for name, n in sorted(cancelled.items()))
            print(
                f"Interrupted: cancelled {total} unfinished task(s) this cell submitted ({what})."
            )
        elif cell is not None and cell.submitted:
            print("Interrupted: every task this cell submitted had already finished.")
        return None

    def cancel_cell(self, cell: CellRecord) -> Counter:
        from .._core import context, protocol

        client = context.current_client(required=False)
        if client is None or not client.alive:
            return Counter()
        self._catch_up(0.1)  # do not count tasks that finished just before the interrupt
        with self._lock:
            todo = [(tid, cell.submitted[tid]) for tid in cell.submitted if tid in cell.pending]
        names: Counter = Counter()
        msgs = []
        for tid, name in todo:
            msgs.append((protocol.CANCEL, f"{tid}.0", False, True))
            names[name] += 1
        if msgs:
            try:
                client.send(*msgs)
            except Exception:
                return Counter()
        with self._lock:
            for tid, _ in todo:
                cell.pending.discard(tid)
        return names


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _user_frames(tb: Any) -> Any:
    """The traceback cut before its first frame inside the rayground package."""
    head, prev = tb, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith(_PACKAGE_DIR + os.sep):
            if prev is None:
                return head
            prev.tb_next = None
            break
        prev, tb = tb, tb.tb_next
    return head


_router: CellRouter | None = None


def install(shell: Any) -> CellRouter | None:
    """Route worker output and interrupts for this shell; refollow the current cluster's events."""
    global _router
    if shell is None:
        return None
    if _router is None or _router.shell is not shell:
        if _router is not None:
            _router.detach()
        _router = CellRouter(shell)
        _router.attach()
        # %ray_init itself runs inside a cell: record it as the current one.
        _router.pre_run_cell()
    _router.follow_events(True)
    return _router


def router() -> CellRouter | None:
    return _router
