"""Faults with real processes and real signals: workers and actors killed, task retries,
application errors, kill(), cancel(), and the head itself dying.

Tasks count their attempts in a marker file under ``tmp_path`` (one line per attempt, holding the
attempt's pid), so retries are observed from outside the runtime. Every wait has a deadline; no
test asserts anything about speed.

The tests share one module-scoped cluster per configuration (``num_cpus=2``, then
``num_cpus=1``); each test that kills the head gets a private cluster.
"""

from __future__ import annotations

import functools
import os
import re
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import rayground as ray
from _procs import kill_all, process_alive, wait_until
from rayground._core.context import current_client
from rayground.exceptions import (
    ActorDiedError,
    GetTimeoutError,
    RayActorError,
    RayError,
    RayTaskError,
    TaskCancelledError,
    WorkerCrashedError,
)
from rayground.util.state import list_actors, list_tasks, list_workers

GET_TIMEOUT = 20.0  # bound on every get that is expected to succeed or fail by itself
SHUTDOWN_ADVICE = re.compile(r"shutdown\(\).*init\(\)", re.S)


# ---------------------------------------------------------------------------- clusters


class _Clusters:
    """One cluster at a time in this process, restarted only when the wanted options change."""

    def __init__(self) -> None:
        self.options: dict | None = None

    def ensure(self, **options: object) -> None:
        client = current_client(required=False)
        if self.options == options and client is not None and client.alive:
            return
        self.discard()
        ray.init(**options)
        self.options = options

    def discard(self) -> None:
        ray.shutdown()
        self.options = None


@pytest.fixture(scope="module")
def clusters() -> Iterator[_Clusters]:
    if ray.is_initialized():
        ray.shutdown()
    manager = _Clusters()
    try:
        yield manager
    finally:
        manager.discard()


@pytest.fixture
def two_cpus(clusters: _Clusters) -> None:
    clusters.ensure(num_cpus=2)


@pytest.fixture
def one_cpu(clusters: _Clusters) -> None:
    clusters.ensure(num_cpus=1)


@pytest.fixture
def private_cluster(clusters: _Clusters) -> Iterator[None]:
    """A cluster of this test's own, which the test may break."""
    clusters.discard()
    ray.init(num_cpus=1)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture
def marker(tmp_path: Path) -> str:
    return str(tmp_path / f"attempts-{uuid.uuid4().hex[:8]}")


# ---------------------------------------------------------------------------- remote code


def _record_attempt(marker: str) -> int:
    """Append this attempt's pid to ``marker``; return the attempt's number (1-based)."""
    with open(marker, "a") as f:
        f.write(f"{os.getpid()}\n")
    with open(marker) as f:
        return len(f.read().splitlines())


def _attempts(marker: str) -> list[int]:
    """Pids of the attempts recorded so far."""
    try:
        with open(marker) as f:
            return [int(line) for line in f.read().splitlines()]
    except FileNotFoundError:
        return []


@ray.remote
def _die_on_first_attempt(marker: str) -> str:
    n = _record_attempt(marker)
    if n == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return f"attempt {n}"


@ray.remote
def _sleep_on_first_attempt(marker: str, seconds: float) -> int:
    n = _record_attempt(marker)
    if n == 1:
        time.sleep(seconds)
    return n


@ray.remote
def _fail_first(marker: str, failures: int) -> int:
    n = _record_attempt(marker)
    if n <= failures:
        raise ValueError(f"attempt {n} fails on purpose")
    return n


@ray.remote
def _sleeper(marker: str, seconds: float) -> str:
    _record_attempt(marker)
    time.sleep(seconds)
    return "finished"


def _sleep_body(gate: object, marker: str, seconds: float) -> str:
    _record_attempt(marker)
    time.sleep(seconds)
    return "finished"


def _load_slowly(seconds: float) -> None:
    time.sleep(seconds)


class _SlowToLoad:
    """Unpickling one takes ``seconds``: a function holding one is slow to load on a worker."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __reduce__(self) -> tuple:
        return (_load_slowly, (self.seconds,))


@ray.remote
def _pid() -> int:
    return os.getpid()


@ray.remote
class _Counter:
    def __init__(self) -> None:
        self.n = 0

    def incr(self) -> int:
        self.n += 1
        return self.n

    def pid(self) -> int:
        return os.getpid()


def _running_worker_pid(name: str, timeout: float = 10.0) -> int:
    """The worker pid of the task called ``name`` once the state API shows it RUNNING."""

    def find() -> int | None:
        for row in list_tasks(filters=[("name", "=", name)]):
            if row["state"] == "RUNNING" and row["worker_pid"]:
                return row["worker_pid"]
        return None

    return wait_until(find, timeout=timeout, message=f"task {name} never showed as RUNNING")


def _wait_started(marker: str, count: int = 1, timeout: float = 10.0) -> list[int]:
    return wait_until(
        lambda: len(_attempts(marker)) >= count and _attempts(marker),
        timeout=timeout,
        message=f"the task did not start attempt {count}",
    )


def _actor_row_by_pid(pid: int) -> dict:
    rows = [r for r in list_actors() if r["pid"] == pid]
    assert len(rows) == 1, f"expected one actor with pid {pid}, got {rows}"
    return rows[0]


def _actor_row(actor_id: str) -> dict:
    rows = list_actors(filters=[("actor_id", "=", actor_id)])
    assert len(rows) == 1, rows
    return rows[0]


def _wait_restarted(actor_id: str, old_pid: int, restarts: int = 1) -> dict:
    def restarted() -> dict | None:
        row = _actor_row(actor_id)
        if (
            row["state"] == "ALIVE"
            and row["num_restarts"] == restarts
            and row["pid"] not in (None, old_pid)
        ):
            return row
        return None

    return wait_until(
        restarted,
        timeout=15,
        interval=0.05,
        message=lambda: f"actor {actor_id} did not restart: {_actor_row(actor_id)}",
    )


# ---------------------------------------------------------------------------- worker deaths


def test_task_killing_its_worker_is_retried_by_default(two_cpus, marker: str) -> None:
    assert ray.get(_die_on_first_attempt.remote(marker), timeout=GET_TIMEOUT) == "attempt 2"
    first, second = _attempts(marker)
    assert first != second
    assert not process_alive(first)


def test_worker_crash_without_retries_raises_worker_crashed(two_cpus, marker: str) -> None:
    ref = _die_on_first_attempt.options(max_retries=0).remote(marker)
    with pytest.raises(WorkerCrashedError) as info:
        ray.get(ref, timeout=GET_TIMEOUT)
    (pid,) = _attempts(marker)
    message = str(info.value)
    assert str(pid) in message
    assert "max_retries" in message
    assert isinstance(info.value, RayError)


def test_worker_killed_from_outside_is_retried(two_cpus, marker: str) -> None:
    name = f"victim_{uuid.uuid4().hex[:8]}"
    ref = _sleep_on_first_attempt.options(name=name, max_retries=1).remote(marker, 5)
    pid = _running_worker_pid(name)
    assert _wait_started(marker) == [pid]
    os.kill(pid, signal.SIGKILL)
    assert ray.get(ref, timeout=GET_TIMEOUT) == 2
    first, second = _attempts(marker)
    assert first == pid and second != pid


# ---------------------------------------------------------------------------- app errors


def test_application_error_is_not_retried_by_default(two_cpus, marker: str) -> None:
    with pytest.raises(ValueError, match="attempt 1 fails") as info:
        ray.get(_fail_first.remote(marker, 1), timeout=GET_TIMEOUT)
    assert isinstance(info.value, RayTaskError)
    assert len(_attempts(marker)) == 1


def test_application_error_is_retried_with_retry_exceptions(two_cpus, marker: str) -> None:
    ref = _fail_first.options(retry_exceptions=True, max_retries=2).remote(marker, 2)
    assert ray.get(ref, timeout=GET_TIMEOUT) == 3
    assert len(_attempts(marker)) == 3


def test_retry_exceptions_gives_up_after_max_retries(two_cpus, marker: str) -> None:
    ref = _fail_first.options(retry_exceptions=True, max_retries=2).remote(marker, 100)
    with pytest.raises(ValueError, match="attempt 3 fails"):
        ray.get(ref, timeout=GET_TIMEOUT)
    assert len(_attempts(marker)) == 3


# ---------------------------------------------------------------------------- actor deaths


def test_killed_actor_restarts_with_fresh_state(two_cpus) -> None:
    counter = _Counter.options(max_restarts=1).remote()
    assert ray.get([counter.incr.remote(), counter.incr.remote()], timeout=GET_TIMEOUT) == [1, 2]
    pid = ray.get(counter.pid.remote(), timeout=GET_TIMEOUT)
    actor_id = _actor_row_by_pid(pid)["actor_id"]
    os.kill(pid, signal.SIGKILL)
    row = _wait_restarted(actor_id, pid)
    assert ray.get(counter.incr.remote(), timeout=GET_TIMEOUT) == 1  # fresh state
    assert ray.get(counter.pid.remote(), timeout=GET_TIMEOUT) == row["pid"] != pid


def test_killed_actor_without_restarts_is_dead(two_cpus) -> None:
    counter = _Counter.options(max_restarts=0).remote()
    pid = ray.get(counter.pid.remote(), timeout=GET_TIMEOUT)
    actor_id = _actor_row_by_pid(pid)["actor_id"]
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(ActorDiedError) as info:
        ray.get(counter.incr.remote(), timeout=GET_TIMEOUT)
    assert isinstance(info.value, RayActorError)
    wait_until(lambda: _actor_row(actor_id)["state"] == "DEAD", timeout=10)
    # Later calls keep failing the same way.
    with pytest.raises(ActorDiedError):
        ray.get(counter.incr.remote(), timeout=GET_TIMEOUT)


def test_kill_makes_later_calls_raise_actor_died(two_cpus) -> None:
    counter = _Counter.options(max_restarts=1).remote()  # kill() defaults to no_restart=True
    pid = ray.get(counter.pid.remote(), timeout=GET_TIMEOUT)
    ray.kill(counter)
    with pytest.raises(ActorDiedError) as info:
        ray.get(counter.incr.remote(), timeout=GET_TIMEOUT)
    assert isinstance(info.value, RayActorError)
    wait_until(lambda: not process_alive(pid), timeout=10, message="actor process survived")


def test_kill_without_no_restart_restarts_the_actor(two_cpus) -> None:
    counter = _Counter.options(max_restarts=1).remote()
    assert ray.get(counter.incr.remote(), timeout=GET_TIMEOUT) == 1
    pid = ray.get(counter.pid.remote(), timeout=GET_TIMEOUT)
    actor_id = _actor_row_by_pid(pid)["actor_id"]
    ray.kill(counter, no_restart=False)
    _wait_restarted(actor_id, pid)
    assert ray.get(counter.incr.remote(), timeout=GET_TIMEOUT) == 1
    assert ray.get(counter.pid.remote(), timeout=GET_TIMEOUT) != pid


# ---------------------------------------------------------------------------- cancel


def test_cancel_running_task_keeps_its_worker(two_cpus, marker: str) -> None:
    name = f"sleeper_{uuid.uuid4().hex[:8]}"
    ref = _sleeper.options(name=name).remote(marker, 10)
    pid = _running_worker_pid(name)
    _wait_started(marker)
    ray.cancel(ref)
    with pytest.raises(TaskCancelledError):
        ray.get(ref, timeout=5)
    assert process_alive(pid)
    assert pid in {w["pid"] for w in list_workers()}
    assert isinstance(ray.get(_pid.remote(), timeout=GET_TIMEOUT), int)
    assert process_alive(pid)


def test_force_cancel_running_task(two_cpus, marker: str) -> None:
    name = f"sleeper_{uuid.uuid4().hex[:8]}"
    ref = _sleeper.options(name=name).remote(marker, 10)
    pid = _running_worker_pid(name)
    _wait_started(marker)
    ray.cancel(ref, force=True)
    with pytest.raises(TaskCancelledError):
        ray.get(ref, timeout=5)
    wait_until(lambda: not process_alive(pid), timeout=10, message="force-cancelled worker lives")
    assert isinstance(ray.get(_pid.remote(), timeout=GET_TIMEOUT), int)
    assert len(_attempts(marker)) == 1  # a cancelled task is not retried


def test_cancel_of_dispatched_task_that_has_not_started(two_cpus, marker: str) -> None:
    """Cancelled after the head sent it to a worker but before the worker began running it
    (here: while the worker is still loading the function), the task must not run."""
    slow_to_load = ray.remote(functools.partial(_sleep_body, _SlowToLoad(3.0)))
    name = f"slow_to_load_{uuid.uuid4().hex[:8]}"
    ref = slow_to_load.options(name=name).remote(marker, 10)
    try:
        _running_worker_pid(name)  # dispatched: the worker is unpickling the function now
        ray.cancel(ref)
        with pytest.raises(TaskCancelledError):
            ray.get(ref, timeout=10)
        assert _attempts(marker) == []
    finally:
        ray.cancel(ref, force=True)  # if the cancel was lost, don't leave it running


def test_cancel_queued_task(one_cpu, tmp_path: Path) -> None:
    markers = [str(tmp_path / f"queued-{i}") for i in range(3)]
    refs = [_sleeper.remote(m, 10) for m in markers]
    _wait_started(markers[0])
    ray.cancel(refs[2])
    with pytest.raises(TaskCancelledError):
        ray.get(refs[2], timeout=5)
    assert _attempts(markers[2]) == []  # it never ran
    # Clean up: the queued one, then the running one.
    ray.cancel(refs[1])
    ray.cancel(refs[0])
    for ref in refs[:2]:
        with pytest.raises(TaskCancelledError):
            ray.get(ref, timeout=5)
    assert _attempts(markers[1]) == []
    assert ray.get(_pid.remote(), timeout=GET_TIMEOUT) > 0


# ---------------------------------------------------------------------------- head death


def _wait_noticed_dead(timeout: float = 10.0) -> None:
    client = current_client()
    wait_until(lambda: not client.alive, timeout=timeout, message="the head's death went unnoticed")


def test_head_killed_makes_next_calls_raise(private_cluster, marker: str) -> None:
    client = current_client()
    head_pid = client.head_pid
    shm_dir = client.session["shm_dir"]
    pending = _sleeper.remote(marker, 3)  # short: see below for workers killed mid-task
    _wait_started(marker)
    workers = {w["pid"] for w in list_workers()}

    os.kill(head_pid, signal.SIGKILL)
    _wait_noticed_dead()
    with pytest.raises(RayError) as info:
        ray.get(pending, timeout=15)
    assert not isinstance(info.value, GetTimeoutError), "get hung instead of failing"
    assert SHUTDOWN_ADVICE.search(str(info.value)), str(info.value)

    with pytest.raises(RayError) as info:
        _pid.remote()
    assert SHUTDOWN_ADVICE.search(str(info.value)), str(info.value)

    # The advice works.
    ray.shutdown()
    assert not ray.is_initialized()
    assert not os.path.exists(shm_dir)
    ray.init(num_cpus=1)
    assert ray.get(_pid.remote(), timeout=GET_TIMEOUT) not in workers


def test_get_blocked_when_the_head_dies_raises(private_cluster, marker: str) -> None:
    head_pid = current_client().head_pid
    pending = _sleeper.remote(marker, 3)
    _wait_started(marker)
    killer = threading.Timer(0.5, os.kill, (head_pid, signal.SIGKILL))
    killer.start()
    try:
        with pytest.raises(RayError) as info:
            ray.get(pending, timeout=15)  # blocked in here when the head dies
    finally:
        killer.join()
    assert not isinstance(info.value, GetTimeoutError), f"wrong error: {info.value!r}"
    assert SHUTDOWN_ADVICE.search(str(info.value)), str(info.value)


def test_workers_exit_when_the_head_dies_mid_task(private_cluster, marker: str) -> None:
    head_pid = current_client().head_pid
    _sleeper.remote(marker, 30)
    (busy,) = _wait_started(marker)
    workers = {w["pid"] for w in list_workers()}
    assert busy in workers

    os.kill(head_pid, signal.SIGKILL)
    try:
        wait_until(
            lambda: not any(process_alive(p) for p in workers),
            timeout=10,
            interval=0.1,
            message=lambda: (
                f"workers outlived the head: {[p for p in workers if process_alive(p)]}"
            ),
        )
    finally:
        kill_all(p for p in workers if process_alive(p))  # don't leave the sleeper behind
