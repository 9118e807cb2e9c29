"""Lesson 06 (fault tolerance): retries by the cluster, actors that restart, failures counted."""

from __future__ import annotations

import os
import random
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

from ..exercise import Exercise, Grader
from ..observe import api


def _grade_retries(fetch_with_retries: Any, g: Grader) -> None:
    # How many times the download fails is chosen now (the answer's own `fails` argument is
    # ignored by the check's flaky_download), so only real retries by the cluster get through.
    fails = random.randint(1, 3)

    def flaky(marker: str, _fails: int) -> str:
        from rayground.course.observe import api

        task = api().get_runtime_context().get_task_id()
        with open(marker, "a") as f:
            f.write(f"{task}\n")
        attempt = len(Path(marker).read_text().splitlines())
        if attempt <= fails:
            raise ConnectionError(f"attempt {attempt}: connection reset")
        return f"downloaded on attempt {attempt}"

    with tempfile.TemporaryDirectory(prefix="rg-retry-") as tmp:
        marker = str(Path(tmp) / "attempts")
        twin = g.twins.function("flaky_download", flaky)
        with g.stand_in(fetch_with_retries, flaky_download=twin):
            value = g.run(fetch_with_retries, marker)
        tasks = Path(marker).read_text().splitlines() if os.path.exists(marker) else []
    want = f"downloaded on attempt {fails + 1}"
    g.expect_from_tasks(value, "flaky_download", "the result", count=1)
    g.expect(
        value == want,
        f"it returned {want!r}: the first {fails} failure(s) were retried",
        f"fetch_with_retries returned {value!r}; expected {want!r} (this time the download "
        f"failed {fails} time(s), then worked: allow at least 3 retries)",
    )
    g.expect(
        len(set(tasks)) == 1,
        f"all {len(tasks)} attempts were the same task, retried by the cluster",
        f"the {len(tasks)} attempts were {len(set(tasks))} different tasks: the retries were "
        "done in the notebook, by submitting new tasks. Let the cluster retry the one task: "
        ".options(retry_exceptions=..., max_retries=...)",
    )


class _Counter:
    def __init__(self) -> None:
        self.count = 0

    def incr(self) -> int:
        self.count += 1
        return self.count

    def pid(self) -> int:
        return os.getpid()

    def nap(self, seconds: float) -> int:
        time.sleep(seconds)
        return self.count


def _grade_restart(make_counter: Any, g: Grader) -> None:
    ray = api()
    with g.stand_in(make_counter, Counter=g.twins.actor("Counter", _Counter)):
        counter = g.run(make_counter)
    g.expect(
        all(hasattr(counter, m) for m in ("incr", "pid", "nap")),
        "make_counter returned a Counter actor handle",
        f"make_counter returned {type(counter).__name__}; expected a handle from "
        "Counter.options(...).remote()",
    )
    calls = random.randint(1, 4)  # how far it counts before the crash: chosen now
    try:
        first = ray.get([counter.incr.remote() for _ in range(calls)], timeout=20)
        g.expect(
            first == list(range(1, calls + 1)),
            f"a new Counter: {calls} calls counted {first}",
            f"{calls} calls to incr returned {first}; expected {list(range(1, calls + 1))} "
            "from a new Counter (make_counter must create one, not hand back an old one)",
        )
        g.expect_from_tasks(first, "Counter.incr", "the counts", count=calls)
        pid = ray.get(counter.pid.remote(), timeout=20)
        napping = counter.nap.remote(1.0)
        time.sleep(0.3)
        os.kill(pid, signal.SIGKILL)  # the actor's process dies mid-call, as if it crashed
        try:
            ray.get(napping, timeout=30)
        except ray.exceptions.RayActorError:
            g.fail(_after_death(ray, counter))
        after = ray.get(counter.incr.remote(), timeout=30)
        new_pid = ray.get(counter.pid.remote(), timeout=20)
    finally:
        _kill_quietly(ray, counter)
    g.note(f"its process (pid {pid}) was killed with SIGKILL in the middle of a nap() call")
    g.note("the nap() call that was running was retried and returned")
    g.expect(
        after == 1 and new_pid != pid,
        f"the next call ran in a new process (pid {new_pid}) and counted 1: the actor was "
        "restarted with fresh state",
        f"the next call returned {after!r} in pid {new_pid}; expected 1 in a new process",
    )


def _after_death(ray: Any, counter: Any) -> str:
    """Why the call in flight failed: the actor stayed dead, or only that call was lost."""
    time.sleep(0.5)
    try:
        ray.get(counter.pid.remote(), timeout=20)
    except ray.exceptions.RayActorError:
        return (
            "after its process was killed the actor stayed dead: create it with "
            "max_restarts=1 (or more) so the cluster starts it again"
        )
    return (
        "the actor was restarted, but the nap() call that was running when it died failed: "
        "add max_task_retries=1 so calls in flight are retried on the restarted actor"
    )


def _kill_quietly(ray: Any, actor: Any) -> None:
    try:
        ray.kill(actor)
    except Exception:  # already dead, or not an actor at all
        pass


def _grade_count_failures(results_and_failures: Any, g: Grader) -> None:
    checked = g.twins.function("maybe_fail", _maybe_fail, max_retries=0)
    # A plan chosen now: each kind of failure at least once, in an order nobody typed in.
    plan = ["ok"] * random.randint(2, 4) + ["error"] * random.randint(1, 2) + ["crash"]
    random.shuffle(plan)
    good = [i for i, how in enumerate(plan) if how == "ok"]
    bad = len(plan) - len(good)

    def submit_and_answer() -> Any:
        refs = [checked.remote(i, how) for i, how in enumerate(plan)]
        return results_and_failures(refs)

    value = g.run(submit_and_answer)
    g.expect(
        isinstance(value, tuple) and len(value) == 2,
        "it returned a (results, failures) pair",
        f"results_and_failures returned {value!r}; expected a pair (results, failures)",
    )
    results, failures = value
    g.expect_from_tasks(list(results), "maybe_fail", "the results", count=len(good))
    g.expect(
        list(results) == good,
        f"the {len(good)} good results came back in order: {good}",
        f"for tasks that {', '.join(plan)} (in that order) the results were {results!r}; "
        f"expected {good} (the values of the tasks that succeeded, in the order of the refs)",
    )
    g.expect(
        failures == bad,
        f"it counted {bad} failures: exceptions raised in tasks and a worker that died",
        f"failures was {failures!r}; expected {bad} ({bad - 1} task(s) raised, one worker died)",
    )


def _maybe_fail(i: int, how: str) -> int:
    time.sleep(0.05)
    if how == "error":
        raise ValueError(f"task {i} found bad data")
    if how == "crash":
        os._exit(3)  # the worker process dies mid-task
    return i


EXERCISES = [
    Exercise(
        id="retries",
        title="Let the cluster retry",
        answer="fetch_with_retries",
        grade=_grade_retries,
        hints=(
            "Exceptions raised by your code are not retried unless you ask, by naming them in "
            "retry_exceptions.",
            "Set the options on the one task: retry_exceptions=[ConnectionError] and max_retries "
            "high enough for the failures (3 is plenty).",
            "Shape: task = flaky_download.options(retry_exceptions=[...], max_retries=...); "
            "return <the value of one task.remote(marker, 2)>.",
        ),
        solution="""def fetch_with_retries(marker):
    task = flaky_download.options(retry_exceptions=[ConnectionError], max_retries=3)
    return ray.get(task.remote(marker, 2))
""",
        try_next="submit flaky_download once with retry_exceptions and max_retries options.",
    ),
    Exercise(
        id="restart",
        title="An actor that comes back",
        answer="make_counter",
        grade=_grade_restart,
        hints=(
            "Actors are not restarted unless you say how many times: max_restarts.",
            "Calls that were running when the actor died are retried only with max_task_retries "
            "as well.",
            "Shape: return Counter.options(<restarts>=1, <task retries>=1).remote().",
        ),
        solution="""def make_counter():
    return Counter.options(max_restarts=1, max_task_retries=1).remote()
""",
        try_next="create the Counter with .options(max_restarts=..., max_task_retries=...).",
    ),
    Exercise(
        id="count_failures",
        title="Keep the good results",
        answer="results_and_failures",
        grade=_grade_count_failures,
        hints=(
            "ray.get(ref) raises the task's error; catch it per ref, not for the whole list.",
            "A task's own exception and a dead worker are both ray.exceptions.RayError.",
            "Shape: for each ref, in a try of its own: append its value to results; on the base "
            "error, count a failure instead. Return (results, failures).",
        ),
        solution="""def results_and_failures(refs):
    results, failures = [], 0
    for ref in refs:
        try:
            results.append(ray.get(ref))
        except ray.exceptions.RayError:
            failures += 1
    return results, failures
""",
        try_next="get each ref in its own try/except ray.exceptions.RayError.",
    ),
]
