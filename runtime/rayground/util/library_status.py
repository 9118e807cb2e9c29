"""What the libraries (Data, Tune, Serve) are doing, for the live views: a named status board.

A rayground extra (Ray shows the same on its dashboard, which reads Ray's own named actors).

    library code (kernel: Data, Tune; the Serve controller actor)
        Publisher.publish(library, key, entry)   at most every MIN_INTERVAL_S per key, and
            --> board.publish.remote(...)        always for a final (finished) entry
                 (fire-and-forget; the publisher keeps only the newest call's result alive)
    LibraryStatusBoard (named actor BOARD_NAME in namespace NAMESPACE, num_cpus=0)
        keeps the newest entry per (library, key); `publish` returns the whole board
    readers
        %ray_status (kernel, a driver):   read() --> board.snapshot.remote()
        the lab panel (Jupyter server, an observer of the cluster, which cannot call actors):
            follows the task events, takes the newest finished `publish` or `drop` call
            (BOARD_CALLS) and reads its result object (rayground/lab/libraries.py); when the
            board actor is dead, there is nothing to show

Why a named actor and the returned board: the libraries may use only Core's public API, and the
panel runs in another process (the Jupyter server), often of another job or none, so the state
has to live in the cluster. The state tables name actors and tasks but hold no library
figures (rows, metrics, request rates); an actor holds them, and the result object of its newest
call is readable by any client of the cluster, including an observer that may not submit work.

Board format (plain data, JSON-able):
    {"data": {key: entry}, "tune": {key: entry}, "serve": {key: entry}}
    entry: {"key", "title", "state" ("RUNNING", "FINISHED", "FAILED", ...), "updated" (epoch s),
            and per library: data "operators"; tune "metric", "mode", "trials", "counts", "best";
            serve "applications"} (see each library's `status.py`)

Publishing never raises into the library's work: a failure turns this process's publisher off.
The board's own calls are hidden from the task views (`is_board_task`).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import rayground

BOARD_NAME = "rayground_library_status"
NAMESPACE = "_rayground"
BOARD_CLASS = "LibraryStatusBoard"
LIBRARIES = ("data", "tune", "serve")
MIN_INTERVAL_S = 0.5
# Finished entries kept per library (newest first); a running one is never dropped.
KEEP_PER_LIBRARY = 20


BOARD_CALLS = (f"{BOARD_CLASS}.publish", f"{BOARD_CLASS}.drop")  # their results are the board


def is_board_task(name: str | None) -> bool:
    """Whether a task row (by name) is a call on the board, which the task views leave out."""
    return bool(name) and str(name).startswith(BOARD_CLASS + ".")


class LibraryStatusBoard:
    """The actor: the newest entry per (library, key)."""

    def __init__(self) -> None:
        self.board: dict[str, dict[str, Any]] = {lib: {} for lib in LIBRARIES}

    def publish(self, library: str, key: str, entry: dict[str, Any]) -> dict[str, Any]:
        entries = self.board.setdefault(library, {})
        entries[key] = {**entry, "key": key, "updated": time.time()}
        ended = [k for k, e in entries.items() if e.get("state") != "RUNNING"]
        ended.sort(key=lambda k: entries[k]["updated"], reverse=True)
        for old in ended[KEEP_PER_LIBRARY:]:
            del entries[old]
        return self.snapshot()

    def drop(self, library: str, key: str) -> dict[str, Any]:
        """Forget an entry (Serve shut down); returns the board, as `publish` does."""
        self.board.get(library, {}).pop(key, None)
        return self.snapshot()

    def snapshot(self) -> dict[str, Any]:
        return {lib: dict(entries) for lib, entries in self.board.items()}


_Board = rayground.remote(num_cpus=0, max_restarts=0)(LibraryStatusBoard)


def _board(create: bool) -> Any:
    if create:
        return _Board.options(name=BOARD_NAME, namespace=NAMESPACE, get_if_exists=True).remote()
    try:
        return rayground.get_actor(BOARD_NAME, namespace=NAMESPACE)
    except ValueError:
        return None


class Publisher:
    """One per process and library user; see the module docstring. Thread-safe."""

    def __init__(self, library: str) -> None:
        if library not in LIBRARIES:
            raise ValueError(f"library must be one of {LIBRARIES}, got {library!r}")
        self.library = library
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._board: Any = None
        self._latest: Any = None  # the newest publish call's result: what the panel reads
        self._off = False
        self._cluster: str | None = None

    def publish(self, key: str, entry: dict[str, Any], final: bool = False) -> bool:
        """Send `entry` unless one for `key` left under MIN_INTERVAL_S ago (a final one always
        goes); returns whether it was sent."""
        if self._off or not rayground.is_initialized():
            return False
        now = time.monotonic()
        with self._lock:
            if not final and now - self._last.get(key, -1e9) < MIN_INTERVAL_S:
                return False
            self._last[key] = now
            try:
                self._forget_stale_board()
                if self._board is None:
                    self._board = _board(create=True)
                self._latest = self._board.publish.remote(self.library, key, entry)
            except Exception:  # never break the user's work for a view: stop publishing
                self._off = True
                return False
        return True

    def _forget_stale_board(self) -> None:
        # A handle from an earlier cluster (shutdown, then init), or to a board that ended (a
        # library shut down and took it along): make a new board instead of publishing to it.
        cluster = rayground.get_runtime_context().get_node_id()
        if cluster != self._cluster:
            self._cluster, self._board, self._latest = cluster, None, None
            return
        latest = self._latest
        if latest is not None and rayground.wait([latest], timeout=0)[0]:
            try:
                rayground.get(latest, timeout=0)
            except rayground.exceptions.RayActorError:
                self._board = self._latest = None

    def drop(self, key: str) -> None:
        """Forget `key` on the board, and end the board when nothing is left on it (so a
        library that shut down leaves no actor behind). Waits for both."""
        if self._off or not rayground.is_initialized():
            return
        with self._lock:
            board = self._board or _board(create=False)
            self._board = self._latest = None
            self._last.pop(key, None)
        if board is None:
            return
        try:
            ref = board.drop.remote(self.library, key)
            left = sum(len(entries) for entries in rayground.get(ref, timeout=30).values())
            if left:
                with self._lock:
                    self._latest = ref  # the panel reads the newest call's result
            else:
                rayground.kill(board)
                # A call sent after the kill fails once the board is gone (handled in order).
                rayground.get(board.snapshot.remote(), timeout=30)
        except Exception:  # already gone, or killed meanwhile: nothing left to do
            return


def read(timeout: float = 10.0) -> dict[str, Any]:
    """The board now ({} when no library has published on this cluster)."""
    if not rayground.is_initialized():
        return {}
    board = _board(create=False)
    if board is None:
        return {}
    try:
        return dict(rayground.get(board.snapshot.remote(), timeout=timeout))
    except rayground.exceptions.RayActorError:
        return {}  # ended meanwhile (a library shut down)
