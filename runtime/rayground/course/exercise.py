"""Exercises, their checks, and the verdict a learner reads.

An `Exercise` names what the learner writes (`answer`: a function or class defined in the exercise
cell), its hints, our reference solution (source text, shown only on request) and a `grade`
function. `grade(answer, g)` calls the answer through `g` and states expectations; each becomes a
line of feedback. The first unmet expectation makes the answer "not solved yet"; the lines say
what was wrong and the record says how the code ran.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from . import evidence, observe

NOT_STARTED = "not started"
WRONG = "not solved yet"
SOLVED = "solved"


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    answer: str  # the name the exercise cell defines
    grade: Callable[[Any, Grader], None]
    hints: tuple[str, ...]
    solution: str  # source that defines `answer`; tests put it into the exercise cell
    try_next: str = ""  # one line: what to try when it is not solved yet


class _Stop(Exception):
    """A failed expectation: stop grading this answer."""


class _NotStarted(Exception):
    """The answer still raises NotImplementedError: the learner has not filled it in."""


@dataclass
class Verdict:
    """What a check found. Its text (repr) is the feedback shown under the check cell."""

    key: str
    title: str
    status: str
    lines: list[tuple[bool, str]] = field(default_factory=list)
    how: list[str] = field(default_factory=list)
    try_next: str = ""
    attempts: int = 0

    @property
    def solved(self) -> bool:
        return self.status == SOLVED

    def text(self) -> str:
        mark = {SOLVED: "✅", WRONG: "❌", NOT_STARTED: "⏳"}.get(self.status, "")
        out = [f"{mark} {self.key} ({self.title}): {self.status}"]
        out += [f"  {'✓' if ok else '✗'} {msg}" for ok, msg in self.lines]
        if self.how:
            out.append("  How it ran:")
            out += [f"    {line}" for line in self.how]
        if not self.solved and self.try_next:
            out.append(f"  Try: {self.try_next}")
        if self.attempts:
            out.append(f"  (attempt {self.attempts}; progress saved)")
        return "\n".join(out)

    def __repr__(self) -> str:
        return self.text()

    __str__ = __repr__


class Grader:
    """Handed to an exercise's grade function: runs the answer and collects feedback lines."""

    def __init__(self, answer_name: str) -> None:
        self.answer_name = answer_name
        self.lines: list[tuple[bool, str]] = []
        self.records: list[observe.RunRecord] = []
        # How long a run's record waits for tasks the code left running (see observe.watch).
        self.settle_s = 2.0
        self._twins: evidence.Twins | None = None

    @property
    def twins(self) -> evidence.Twins:
        """This check's twins (see evidence.py): made on first use, with one secret."""
        if self._twins is None:
            self._twins = evidence.Twins(observe.api())
        return self._twins

    @contextlib.contextmanager
    def stand_in(self, answer: Any, **twins: Any) -> Iterator[None]:
        """Run the answer with the lesson's helpers swapped for this check's twins."""
        if evidence.namespace_of(answer) is None:
            self.fail(
                f"could not find the notebook globals {self.answer_name} uses: define it with "
                "`def` (or `class`) in the exercise cell"
            )
        self._warm_up()
        with evidence.stand_in(answer, twins):
            yield

    def _warm_up(self) -> None:
        """One short task per CPU, side by side, before the answer runs: worker processes that
        start one by one (Ray starts them on demand) must not read as tasks run one at a time."""
        if self._twins is not None and getattr(self, "_warm", False):
            return
        self._warm = True
        try:
            cpus = int(self.cpus())
            nap = self.twins.function("warm_up", time.sleep)
            observe.api().get([nap.remote(0.05) for _ in range(max(cpus, 1))], timeout=30)
        except Exception:  # a busy or odd cluster: the checks then say what they saw
            pass

    @property
    def record(self) -> observe.RunRecord:
        """The last run's record."""
        return self.records[-1]

    @property
    def known(self) -> bool:
        """Whether task-level details are available (rayground backend)."""
        return bool(self.records) and self.records[-1].known

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call the learner's code under `observe.watch()`; its errors become feedback."""
        with observe.watch(self.settle_s) as record:
            try:
                value = fn(*args, **kwargs)
            except NotImplementedError:
                raise _NotStarted() from None
            except Exception as exc:
                self.records.append(record)
                self.fail(f"calling {self.answer_name} raised {_describe(exc)}")
        self.records.append(record)
        return value

    def expect(self, condition: Any, ok: str, wrong: str) -> None:
        """Record `ok` if condition holds; otherwise record `wrong` and stop grading."""
        if condition:
            self.lines.append((True, ok))
        else:
            self.fail(wrong)

    def expect_known(self, condition: Callable[[], Any], ok: str, wrong: str) -> None:
        """Like `expect`, for facts only rayground's records can tell: on another backend the
        line says it could not be checked instead of failing."""
        if not self.known:
            self.lines.append((True, f"(not checked on {self.record.backend}: {ok})"))
            return
        self.expect(condition(), ok, wrong)

    def note(self, text: str) -> None:
        self.lines.append((True, text))

    def fail(self, text: str) -> None:
        self.lines.append((False, text))
        raise _Stop()

    def expect_from_tasks(
        self, value: Any, name: str, what: str, count: int | None = None
    ) -> list[evidence.TaskRun]:
        """`value` came back from `name` tasks (from `count` of them, if given): it carries
        their marks. Returns those tasks' runs, as their workers timed them."""
        loose = evidence.unmarked(value)
        if loose:
            self.fail(
                f"{what} did not come back from the {name} tasks: {_short(loose[0])} was "
                "computed or typed in the notebook. The check swaps in its own "
                f"{name}, whose results it recognises: return what ray.get gave you"
            )
        runs = self.twins.runs(value, name)
        if count is not None:
            self.expect(
                len(runs) == count,
                f"{what} came from the results of {count} {name} task(s)",
                f"{what} was made from {len(runs)} {name} task result(s); expected {count}",
            )
        elif not runs:
            self.fail(f"{what} did not come from any {name} task")
        return runs

    def expect_stayed(self, name: str, what: str) -> None:
        """No result of twin `name` was unpickled in the notebook during the run."""
        n = self.twins.fetched(name)
        self.expect(
            n == 0,
            f"{what} stayed on the cluster: no {name} result was fetched into the notebook",
            f"{n} {name} result(s) were fetched into the notebook with ray.get before being "
            f"used: {what} must stay on the cluster. Pass the refs themselves to the next task",
        )

    def expect_no_finding(self, code: str, ok: str) -> None:
        """The run analysis did not flag anti-pattern `code` (the lesson teaches against it)."""
        report = self.record.report if self.records else None
        found = [f for f in report.findings if f.code == code] if report is not None else []
        if found:
            self.fail(f"the run analysis flagged: {found[0].title}. {found[0].evidence}")
        if report is not None:
            self.lines.append((True, ok))

    def expect_overlap(self, runs: list[evidence.TaskRun], what: str, min_speedup: float = 1.1):
        """The runs overlapped, by the workers' own clocks: at least two at once and a measured
        speed-up over one after another. Holds on every backend."""
        cpus = self.cpus()
        if cpus < 2:
            self.note(f"the cluster has {cpus:g} CPU, so {what} cannot overlap here")
            return
        peak = evidence.max_at_once(runs)
        if peak < 2:
            self.fail(
                f"{what} ran one at a time (by the workers' own clocks): each started only after "
                "the previous one finished. Submit them all first, then get the whole list"
            )
        speedup = evidence.overlap(runs)
        self.expect(
            speedup >= min_speedup,
            f"{what} ran in parallel: up to {peak} at once, {speedup:.1f}x faster than one after "
            "another (measured by the workers)",
            f"{what} overlapped only a little ({speedup:.1f}x speed-up, up to {peak} at once); "
            "submit them all before you wait for any",
        )

    def cpus(self) -> float:
        if self.records and self.record.cpus:
            return self.record.cpus
        return float(observe.api().cluster_resources().get("CPU", 0))

    def expect_parallel(self, spans: list[observe.TaskSpan], what: str, min_speedup: float = 1.4):
        """The spans overlapped: peak parallelism >= 2 and a measured speed-up over serial."""
        if not self.known:
            self.expect_known(lambda: True, f"{what} ran in parallel", "")
            return
        record = self.record
        if record.cpus < 2:
            self.note(f"the cluster has {record.cpus:g} CPU, so {what} cannot overlap here")
            return
        peak = record.max_parallel(spans)
        if peak < 2:
            why = (
                "each one was submitted only after the previous one finished: a get() inside "
                "the loop waits for every task before starting the next. Submit them all first, "
                "then get the whole list."
                if record.submitted_one_by_one(spans)
                else "they never overlapped."
            )
            self.fail(f"{what} ran one at a time: {why}")
        speedup = record.overlap(spans)
        self.expect(
            speedup >= min_speedup,
            f"{what} ran in parallel: up to {peak} at once, {speedup:.1f}x faster than one after "
            "another (measured)",
            f"{what} overlapped only a little ({speedup:.1f}x speed-up, up to {peak} at once); "
            "submit them all before you wait for any",
        )


def grade(exercise: Exercise, key: str, answer: Any) -> Verdict:
    """Run `exercise`'s check on `answer` and return the verdict (without saving progress)."""
    verdict = Verdict(key=key, title=exercise.title, status=SOLVED, try_next=exercise.try_next)
    if answer is None or _is_placeholder(answer):
        verdict.status = NOT_STARTED
        verdict.lines.append(
            (
                False,
                f"not solved yet: {exercise.answer} still only raises NotImplementedError; "
                "replace that line with your code, run the cell, then run this check again",
            )
        )
        return verdict
    g = Grader(exercise.answer)
    try:
        exercise.grade(answer, g)
    except _NotStarted:
        verdict.status = NOT_STARTED
        g.lines.append(
            (
                False,
                f"not solved yet: {exercise.answer} still raises NotImplementedError; replace "
                "that line with your code, run the cell, then run this check again",
            )
        )
    except _Stop:
        verdict.status = WRONG
    except Exception as exc:  # a bug in the learner's objects that surfaced while checking
        verdict.status = WRONG
        g.lines.append((False, f"checking raised {_describe(exc)}"))
    verdict.lines = g.lines
    if g.records:
        verdict.how = g.records[-1].summary()
    return verdict


def _is_placeholder(answer: Any) -> bool:
    """True for the exercise cell as shipped: every function body is `raise NotImplementedError`
    (a docstring and comments aside). Remote functions and actor classes are unwrapped first."""
    if answer is Ellipsis:
        return True
    target = _unwrap(answer)
    # A class's own source cannot be found for classes defined in a notebook; its methods' can.
    parts = (
        [v for v in vars(target).values() if inspect.isfunction(v)]
        if inspect.isclass(target)
        else [target]
    )
    bodies = []
    for part in parts:
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(part)))
        except (OSError, TypeError, SyntaxError):
            return False
        functions = (ast.FunctionDef, ast.AsyncFunctionDef)
        bodies += [n.body for n in ast.walk(tree) if isinstance(n, functions)]
    return bool(bodies) and all(_raises_not_implemented(body) for body in bodies)


def _raises_not_implemented(body: list[ast.stmt]) -> bool:
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # docstring
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].exc is None:
        return False
    exc = body[0].exc
    if isinstance(exc, ast.Call):
        exc = exc.func
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


def _unwrap(answer: Any) -> Any:
    """The Python function or class behind a remote function or actor class."""
    for attr in ("_function", "_cls", "__wrapped__", "_modified_class"):
        inner = getattr(answer, attr, None)
        if inner is not None and (inspect.isfunction(inner) or inspect.isclass(inner)):
            return inner
    return answer


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    if len(first) > 300:
        first = first[:297] + "..."
    return first


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def source_of(obj: Any) -> str:
    """Best-effort source of a learner's function (IPython keeps cell sources for inspect)."""
    try:
        return textwrap.dedent(inspect.getsource(obj))
    except (OSError, TypeError):
        return ""
