"""Evidence that an answer did the distributed work, gathered the same way on rayground and Ray.

A check runs the learner's code with *twins*: for the length of the check, the lesson's helpers
that the answer calls by name (``slow_square``, ``make_block``, ``Worker`` ...) are replaced in
the answer's globals by check-owned remote functions and actors that do the same work and return
*traced* values. A traced value is an int, float, str, list, tuple, dict or NumPy array of a
subclass that compares equal to the plain value and carries *marks*: one per task whose result
went into it (this check's secret, the twin's name, the worker's pid and the worker's own start
and end times). A twin's result carries the marks of the traced arguments it was given, so the
final value's marks describe the whole graph that made it.

From the marks the check knows, whatever the backend:

* whether the value the answer returned came from the tasks' results: a value computed or typed
  in the notebook has no marks, and adding a notebook value to a traced one drops them;
* how many tasks of each twin fed it, in which processes, and when each ran by the worker's own
  clock (so overlap is measured where the work ran, not inferred from event timestamps);
* whether data that must stay in the cluster was fetched into the notebook: a traced value
  unpickled in the driver's process (``home``) is logged in ``_FETCHED``;
* how often the driver serialized an input the check handed over: once for ``put``, once per
  task when passed by value (``_PICKLED``).

Marks are not a security boundary: code that digs the twin out of its closure can forge them.
They stop the shortcuts a learner takes, not an attacker.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

# (secret, twin name, worker pid, start, end, unique id): one per twin call.
Mark = tuple[str, str, int, float, float, str]

_FETCHED: list[Mark] = []  # own marks of traced values unpickled in their home (driver) process
_PICKLED: Counter = Counter()  # (secret, label) -> times an input was pickled in its home
_MAIN = threading.main_thread()
_MAX_ITEMS = 10_000  # containers bigger than this are traced shallowly


@dataclass(frozen=True)
class TaskRun:
    """One twin call, as the worker that ran it recorded it."""

    name: str
    pid: int
    start: float
    end: float

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)


class _Traced:
    marks: frozenset  # every task whose result went into this value
    home: int  # the driver's pid
    own: Mark | None  # the task that returned this value (None for sums made in the driver)

    def _tag(self, marks: frozenset, home: int, own: Mark | None) -> _Traced:
        self.marks, self.home, self.own = marks, home, own
        return self

    def _reduce(self, kind: str, raw: Any) -> tuple:
        if os.getpid() == self.home:
            # An input counts as sent when the input itself is pickled; a task's result made
            # from it (and sent on by the driver) carries its mark but is not the input.
            is_input = all(m[5] == "input" for m in self.marks)
            for key in {(m[0], m[1]) for m in self.marks if is_input or m[5] != "input"}:
                _PICKLED[key] += 1
        return (_revive, (kind, raw, self.marks, self.home, self.own))


def _add(a: _Traced, b: Any, raw: Any) -> Any:
    """A sum keeps its marks only when every part was traced (0 starts `sum()`)."""
    if isinstance(b, _Traced):
        return trace(raw, a.marks | b.marks, a.home, deep=False)
    if type(b) in (int, float) and b == 0:
        return trace(raw, a.marks, a.home, own=a.own, deep=False)
    return raw


class _TracedNumber(_Traced):
    """Addition keeps the marks (see `_add`); first in the bases, so it wins over int's."""

    _plain_type: type

    def __reduce__(self) -> tuple:
        return self._reduce(self._plain_type.__name__, self._plain_type(self))

    def __add__(self, other: Any) -> Any:
        raw = self._plain_type(self) + other
        return raw if raw is NotImplemented else _add(self, other, _plain(raw))

    __radd__ = __add__


class TracedInt(_TracedNumber, int):
    _plain_type = int


class TracedFloat(_TracedNumber, float):
    _plain_type = float


class TracedStr(str, _Traced):
    def __reduce__(self) -> tuple:
        return self._reduce("str", str(self))


class TracedList(list, _Traced):
    def __reduce__(self) -> tuple:
        return self._reduce("list", list(self))


class TracedTuple(tuple, _Traced):
    def __reduce__(self) -> tuple:
        return self._reduce("tuple", tuple(self))


class TracedDict(dict, _Traced):
    def __reduce__(self) -> tuple:
        return self._reduce("dict", dict(self))


def _array_class() -> type:
    import numpy as np

    class TracedArray(np.ndarray, _Traced):
        def __array_finalize__(self, obj: Any) -> None:
            self.marks = getattr(obj, "marks", frozenset())
            self.home = getattr(obj, "home", 0)
            self.own = getattr(obj, "own", None)

        def __reduce_ex__(self, protocol: Any) -> tuple:  # numpy pickles through this
            return self._reduce("array", np.asarray(self))

    TracedArray.__module__ = __name__
    TracedArray.__qualname__ = "TracedArray"
    return TracedArray


TracedArray: Any = None
try:
    TracedArray = _array_class()
except ImportError:  # NumPy is optional for the runtime; the lessons that use arrays need it
    pass


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, float) else int(value)


def trace(
    value: Any, marks: frozenset, home: int, own: Mark | None = None, deep: bool = True
) -> Any:
    """`value` as a traced value carrying `marks` (and `own`, the mark of the task that returned
    it); containers trace their items too."""
    kind = type(value)
    if kind is bool or value is None:
        return value
    if isinstance(value, _Traced):
        marks = marks | value.marks
    if isinstance(value, int):
        return TracedInt(int(value))._tag(marks, home, own)
    if isinstance(value, float):
        return TracedFloat(float(value))._tag(marks, home, own)
    if isinstance(value, str):
        return TracedStr(str(value))._tag(marks, home, own)
    small = deep and _sized(value) <= _MAX_ITEMS
    if isinstance(value, list):
        items = [trace(v, marks, home, own) for v in value] if small else list(value)
        return TracedList(items)._tag(marks, home, own)
    if isinstance(value, tuple):
        items = tuple(trace(v, marks, home, own) for v in value) if small else tuple(value)
        return TracedTuple(items)._tag(marks, home, own)
    if isinstance(value, dict):
        items = {k: trace(v, marks, home, own) for k, v in value.items()} if small else dict(value)
        return TracedDict(items)._tag(marks, home, own)
    if TracedArray is not None and _is_array(value):
        out = value.view(TracedArray)
        out.marks, out.home, out.own = marks, home, own
        return out
    return value  # other types travel untraced


def _is_array(value: Any) -> bool:
    import numpy as np

    return isinstance(value, np.ndarray)


def _sized(value: Any) -> int:
    try:
        return len(value)
    except TypeError:
        return 0


def _revive(kind: str, raw: Any, marks: frozenset, home: int, own: Mark | None) -> Any:
    # Only the notebook's own code counts: the live views peek at objects from other threads.
    if own is not None and os.getpid() == home and threading.current_thread() is _MAIN:
        _FETCHED.append(own)
    return trace(raw, marks, home, own, deep=False)


def marks_of(value: Any, depth: int = 0) -> frozenset:
    """Every mark in `value`, looking through lists, tuples, dicts and sets of traced values."""
    found = value.marks if isinstance(value, _Traced) else frozenset()
    if depth >= 4 or _sized(value) > _MAX_ITEMS or isinstance(value, str):
        return found
    if isinstance(value, dict):
        parts = list(value.values()) + list(value)
    elif isinstance(value, list | tuple | set | frozenset):
        parts = list(value)
    else:
        return found
    for part in parts:
        found = found | marks_of(part, depth + 1)
    return found


def unmarked(value: Any) -> list[Any]:
    """The items of `value` (or `value` itself) that carry no marks: made in the notebook."""
    if isinstance(value, dict):
        items = list(value.values())
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        items = [value]
    return [v for v in items if not marks_of(v)]


# ------------------------------------------------------------------------------------- twins
class Twins:
    """The twins of one check, sharing its secret; `runs()` reads the marks they left."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.secret = uuid.uuid4().hex[:12]
        self.home = os.getpid()
        self._fetched_from = len(_FETCHED)

    def function(self, name: str, body: Callable[..., Any], **options: Any) -> Any:
        """A remote function named `name` that runs `body` and returns its result traced."""
        secret, home = self.secret, self.home
        if inspect.isgeneratorfunction(body):
            return self._generator(name, body, **options)

        def twin(*args: Any, **kwargs: Any) -> Any:
            start = time.time()
            value = body(*args, **kwargs)
            end = time.time()
            inherited = marks_of(list(args) + list(kwargs.values()))
            mark = (secret, name, os.getpid(), start, end, uuid.uuid4().hex[:8])
            return trace(value, inherited | {mark}, home, mark)

        twin.__name__ = twin.__qualname__ = name
        twin.__module__ = "__twin__"  # never importable: cloudpickle ships it by value
        remote = self.api.remote
        return remote(**options)(twin) if options else remote(twin)

    def _generator(self, name: str, body: Callable[..., Any], **options: Any) -> Any:
        """A generator task named `name`: each item it yields is traced with a mark of its own,
        timed from the previous yield (so a consumer's marks show which items it took)."""
        secret, home = self.secret, self.home

        def twin(*args: Any, **kwargs: Any) -> Any:
            inherited = marks_of(list(args) + list(kwargs.values()))
            start = time.time()
            for value in body(*args, **kwargs):
                mark = (secret, name, os.getpid(), start, time.time(), uuid.uuid4().hex[:8])
                yield trace(value, inherited | {mark}, home, mark)
                start = time.time()

        twin.__name__ = twin.__qualname__ = name
        twin.__module__ = "__twin__"
        remote = self.api.remote
        return remote(**options)(twin) if options else remote(twin)

    def actor(self, name: str, cls: type, **options: Any) -> Any:
        """An actor class named `name` whose public methods return traced results."""
        secret, home = self.secret, self.home
        members: dict[str, Any] = {"__module__": "__twin__"}
        for attr, method in vars(cls).items():
            if attr.startswith("_") or not callable(method):
                members[attr] = method
                continue
            members[attr] = _traced_method(method, f"{name}.{attr}", secret, home)
        twin = type(name, (cls,), members)
        twin.__qualname__ = name
        remote = self.api.remote
        return remote(**options)(twin) if options else remote(twin)

    def input(self, value: Any, label: str) -> Any:
        """`value` traced as an input the check hands over, to count how often it is pickled."""
        mark = (self.secret, label, self.home, 0.0, 0.0, "input")
        return trace(value, frozenset({mark}), self.home, deep=False)

    def pickled(self, label: str) -> int:
        return _PICKLED[(self.secret, label)]

    # -- reading marks
    def runs(self, value: Any, name: str | None = None) -> list[TaskRun]:
        """The twin calls that fed `value` (of twin `name`, or all), earliest first."""
        out = {
            m[5]: TaskRun(m[1], m[2], m[3], m[4])
            for m in marks_of(value)
            if m[0] == self.secret and m[5] != "input" and (name is None or m[1] == name)
        }
        return sorted(out.values(), key=lambda r: r.start)

    def fetched(self, name: str) -> int:
        """How many results of twin `name` were unpickled in the notebook since this started."""
        return self.fetched_since(self._fetched_from, name)

    def mark_point(self) -> int:
        """Where the log of fetched values stands now (for `fetched_since`)."""
        return len(_FETCHED)

    def fetched_since(self, point: int, name: str) -> int:
        ids = {m[5] for m in _FETCHED[point:] if m[0] == self.secret and m[1] == name}
        return len(ids)


def _traced_method(method: Callable, name: str, secret: str, home: int) -> Callable:
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.time()
        value = method(self, *args, **kwargs)
        end = time.time()
        mark = (secret, name, os.getpid(), start, end, uuid.uuid4().hex[:8])
        return trace(value, marks_of(list(args)) | {mark}, home, mark)

    call.__name__ = call.__qualname__ = method.__name__
    return call


def max_at_once(runs: list[TaskRun]) -> int:
    """The most runs in progress at one moment, by the workers' own clocks."""
    edges = sorted(
        [(r.start, 1) for r in runs] + [(r.end - min(0.002, r.duration / 2), -1) for r in runs]
    )
    peak = now = 0
    for _, step in edges:
        now += step
        peak = max(peak, now)
    return peak


def overlap(runs: list[TaskRun]) -> float:
    """Work time over the window it spanned: 1.0 one at a time, N for N at once all along."""
    if not runs:
        return 0.0
    window = max(r.end for r in runs) - min(r.start for r in runs)
    busy = sum(r.duration for r in runs)
    return busy / window if window > 0 else float(len(runs))


# ------------------------------------------------------------------------------- stand-ins
def namespace_of(answer: Any) -> dict[str, Any] | None:
    """The globals the answer looks its helpers up in (the notebook's, for notebook code)."""
    from .exercise import _unwrap

    target = _unwrap(answer)
    if inspect.isclass(target):
        for member in vars(target).values():
            if inspect.isfunction(member):
                return member.__globals__
        return None
    while not inspect.isfunction(target):
        inner = getattr(target, "__func__", None) or getattr(target, "func", None)
        if inner is None:
            return None
        target = inner
    return target.__globals__


def _cells_of(answer: Any) -> dict[str, Any]:
    """The closure cells of the answer's function by name (a helper defined in an enclosing
    function is found there, not in the globals)."""
    from .exercise import _unwrap

    target = _unwrap(answer)
    code, closure = getattr(target, "__code__", None), getattr(target, "__closure__", None)
    if code is None or not closure:
        return {}
    return dict(zip(code.co_freevars, closure, strict=True))


@contextlib.contextmanager
def stand_in(answer: Any, twins: dict[str, Any]) -> Iterator[None]:
    """Swap the lesson's helpers named in `twins` for the twins where the answer looks them up
    (its closure, else its globals), and put the learner's own back afterwards (also when the
    answer raises)."""
    ns = namespace_of(answer)
    if ns is None:
        raise LookupError("no globals")
    cells = _cells_of(answer)
    missing = object()
    saved_cells = {name: cells[name].cell_contents for name in twins if name in cells}
    saved = {name: ns.get(name, missing) for name in twins if name not in cells}
    for name, twin in twins.items():
        if name in cells:
            cells[name].cell_contents = twin
        else:
            ns[name] = twin
    try:
        yield
    finally:
        for name, old in saved_cells.items():
            cells[name].cell_contents = old
        for name, old in saved.items():
            if old is missing:
                ns.pop(name, None)
            else:
                ns[name] = old
