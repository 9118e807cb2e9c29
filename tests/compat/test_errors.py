"""Failures: application errors, retries, crashed workers, serialisation errors, cancellation."""

from __future__ import annotations

import builtins
import io
import os
import threading
import time

import pytest

# --------------------------------------------------------------------------------------------------
# Application errors


def test_task_error_is_both_ray_task_error_and_the_original_type(ray, exc):
    @ray.remote
    def explode(x):
        raise ValueError(f"bad value {x}")

    with pytest.raises(ValueError) as info:
        ray.get(explode.remote(7), timeout=30)
    err = info.value
    assert isinstance(err, exc.RayTaskError)
    assert isinstance(err, exc.RayError)
    assert isinstance(err, ValueError)
    # The message carries the remote traceback: the function's name and the original message.
    # Ray: "ray::explode() (pid=..., ip=...)\n  File ..., line N, in explode\n    ...\n
    # ValueError: bad value 7"
    text = str(err)
    assert "explode" in text
    assert "bad value 7" in text
    assert "ValueError" in text


def test_user_defined_exception_type_is_preserved(ray, exc):
    class InventoryError(Exception):
        pass

    @ray.remote
    def check():
        raise InventoryError("out of stock")

    with pytest.raises(InventoryError, match="out of stock") as info:
        ray.get(check.remote(), timeout=30)
    assert isinstance(info.value, exc.RayTaskError)


def test_error_in_one_ref_of_a_list_raises_from_get(ray):
    @ray.remote
    def maybe_fail(i):
        if i == 3:
            raise KeyError("three")
        return i

    with pytest.raises(KeyError):
        ray.get([maybe_fail.remote(i) for i in range(5)], timeout=30)


def test_error_propagates_to_dependent_tasks(ray, exc):
    @ray.remote
    def explode():
        raise ValueError("upstream failure")

    @ray.remote
    def downstream(x):
        return x

    # Ray does not run `downstream`; getting its result raises the upstream error
    # (RayTaskError(ValueError): "At least one of the input arguments for this task could not be
    # computed: ... ValueError: upstream failure").
    with pytest.raises(ValueError, match="upstream failure") as info:
        ray.get(downstream.remote(explode.remote()), timeout=30)
    assert isinstance(info.value, exc.RayTaskError)


def test_error_from_a_nested_get_propagates_to_the_caller(ray, exc):
    @ray.remote
    def explode():
        raise ValueError("deep failure")

    @ray.remote
    def caller():
        return ray.get(explode.remote())

    with pytest.raises(ValueError, match="deep failure") as info:
        ray.get(caller.remote(), timeout=30)
    assert isinstance(info.value, exc.RayTaskError)
    assert "caller" in str(info.value)


def test_worker_survives_an_application_error(ray):
    @ray.remote
    def explode():
        raise RuntimeError("boom")

    @ray.remote
    def ok():
        return "fine"

    with pytest.raises(RuntimeError):
        ray.get(explode.remote(), timeout=30)
    assert ray.get(ok.remote(), timeout=30) == "fine"


# --------------------------------------------------------------------------------------------------
# Retries


# Attempt counters are files in tmp_path: a remote function cannot use this module's helpers
# (workers do not import test modules), so each one writes its own.


def test_retry_exceptions_reruns_a_failing_task(ray, tmp_path):
    @ray.remote(max_retries=3, retry_exceptions=True)
    def flaky(path):
        n = len(os.listdir(path))
        with open(os.path.join(path, f"attempt-{n}"), "w"):
            pass
        if n < 2:
            raise ValueError(f"attempt {n} fails")
        return n

    assert ray.get(flaky.remote(str(tmp_path)), timeout=60) == 2
    assert len(os.listdir(tmp_path)) == 3


def test_retry_exceptions_gives_up_after_max_retries(ray, tmp_path):
    @ray.remote(max_retries=2, retry_exceptions=True)
    def always_fails(path):
        n = len(os.listdir(path))
        with open(os.path.join(path, f"attempt-{n}"), "w"):
            pass
        raise ValueError(f"attempt {n} fails")

    with pytest.raises(ValueError, match="attempt 2 fails"):
        ray.get(always_fails.remote(str(tmp_path)), timeout=60)
    assert len(os.listdir(tmp_path)) == 3  # the first run and 2 retries


def test_retry_exceptions_with_default_max_retries_retries_three_times(ray, tmp_path):
    @ray.remote(retry_exceptions=True)
    def always_fails(path):
        n = len(os.listdir(path))
        with open(os.path.join(path, f"attempt-{n}"), "w"):
            pass
        raise ValueError("nope")

    with pytest.raises(ValueError):
        ray.get(always_fails.remote(str(tmp_path)), timeout=60)
    # Ray: the default max_retries for tasks is 3, so 4 runs in all.
    assert len(os.listdir(tmp_path)) == 4


def test_application_errors_are_not_retried_by_default(ray, tmp_path):
    @ray.remote(max_retries=3)
    def fails(path):
        n = len(os.listdir(path))
        with open(os.path.join(path, f"attempt-{n}"), "w"):
            pass
        raise ValueError("no retry")

    with pytest.raises(ValueError):
        ray.get(fails.remote(str(tmp_path)), timeout=60)
    assert len(os.listdir(tmp_path)) == 1


def test_retry_exceptions_list_retries_only_listed_types(ray, tmp_path):
    @ray.remote(max_retries=2, retry_exceptions=[KeyError])
    def fails(path, kind):
        n = len(os.listdir(path))
        with open(os.path.join(path, f"attempt-{n}"), "w"):
            pass
        raise kind("typed")

    not_listed = tmp_path / "value"
    not_listed.mkdir()
    with pytest.raises(ValueError):
        ray.get(fails.remote(str(not_listed), ValueError), timeout=60)
    assert len(os.listdir(not_listed)) == 1

    listed = tmp_path / "key"
    listed.mkdir()
    with pytest.raises(KeyError):
        ray.get(fails.remote(str(listed), KeyError), timeout=60)
    assert len(os.listdir(listed)) == 3


# --------------------------------------------------------------------------------------------------
# Crashed workers


def test_worker_crash_raises_worker_crashed_error(ray, exc):
    @ray.remote(max_retries=0)
    def die():
        os._exit(1)

    with pytest.raises(exc.WorkerCrashedError) as info:
        ray.get(die.remote(), timeout=60)
    assert isinstance(info.value, exc.RayError)
    # Ray's WorkerCrashedError is not a RayTaskError; message: "The worker died unexpectedly
    # while executing this task. Check python-core-worker-*.log files for more information."
    assert not isinstance(info.value, exc.RayTaskError)
    assert "died unexpectedly" in str(info.value)


def test_worker_crash_is_retried_by_default(ray, tmp_path):
    @ray.remote
    def crash_once(path):
        n = len(os.listdir(path))
        with open(os.path.join(path, f"attempt-{n}"), "w"):
            pass
        if n == 0:
            os._exit(1)
        return n

    # System failures are retried (default max_retries=3) without retry_exceptions.
    assert ray.get(crash_once.remote(str(tmp_path)), timeout=60) == 1


def test_cluster_keeps_working_after_a_crash(ray):
    @ray.remote
    def ok(i):
        return i

    assert ray.get([ok.remote(i) for i in range(10)], timeout=60) == list(range(10))


# --------------------------------------------------------------------------------------------------
# Serialisation errors


def test_non_serialisable_argument_raises_at_submission(ray):
    @ray.remote
    def use(x):
        return len(x)

    # Ray raises TypeError from .remote() itself: "Could not serialize the argument
    # {'lock': <unlocked _thread.lock object ...>} for a task or actor ...".
    with pytest.raises(TypeError, match="serialize"):
        use.remote({"lock": threading.Lock()})


def test_non_serialisable_put_raises_type_error(ray):
    # Ray: TypeError "Could not serialize the put value <unlocked _thread.lock object ...>".
    with pytest.raises(TypeError):
        ray.put(threading.Lock())


def test_non_serialisable_return_value_raises_from_get(ray, exc):
    @ray.remote
    def make_lock():
        return threading.Lock()

    # Ray: the task fails while storing its result: RayTaskError(TypeError).
    with pytest.raises(TypeError) as info:
        ray.get(make_lock.remote(), timeout=30)
    assert isinstance(info.value, exc.RayTaskError)


# --------------------------------------------------------------------------------------------------
# Cancellation


@pytest.mark.timing  # cancel interrupts: under 3 s allowed against the loop's 5 s
def test_cancel_running_task(ray, exc):
    @ray.remote
    def busy():
        for _ in range(500):  # 5 s in small steps, so an interrupt gets through quickly
            time.sleep(0.01)
        return "finished"

    ref = busy.remote()
    # Let it start.
    ray.wait([ref], timeout=0.5)
    cancelled_at = time.monotonic()
    ray.cancel(ref)
    # Ray: a running task gets KeyboardInterrupt; get raises RayTaskError(TaskCancelledError),
    # an instance of TaskCancelledError. (A task blocked in one long time.sleep only sees it
    # when the sleep returns.)
    with pytest.raises(exc.TaskCancelledError) as info:
        ray.get(ref, timeout=30)
    assert time.monotonic() - cancelled_at < 3.0  # well before the loop's 5 s
    err = info.value
    assert isinstance(err, exc.RayTaskError)
    assert isinstance(err.cause, exc.TaskCancelledError)
    # The message is the remote traceback: the task's name, the line it was interrupted at, and
    # the cancellation, said once.
    text = str(err)
    assert "busy" in text
    assert "time.sleep(0.01)" in text
    assert text.count("was cancelled") == 1


def test_cancel_queued_task(ray, exc):
    @ray.remote
    def block(t):
        time.sleep(t)
        return t

    blockers = [block.remote(0.8) for _ in range(2)]  # both CPUs busy
    ray.wait(blockers, timeout=0.2)
    queued = block.remote(0.0)
    ray.cancel(queued)
    # Ray: a task cancelled before it runs raises a plain TaskCancelledError.
    with pytest.raises(exc.TaskCancelledError) as info:
        ray.get(queued, timeout=30)
    assert not isinstance(info.value, exc.RayTaskError)  # it never ran: no remote traceback
    assert ray.get(blockers, timeout=30) == [0.8, 0.8]


def test_force_cancel_kills_a_blocked_task(ray, exc):
    @ray.remote
    def stuck():
        time.sleep(300)  # far beyond get's timeout: only the kill can end it in time
        return "never"

    ref = stuck.remote()
    ray.wait([ref], timeout=0.5)
    ray.cancel(ref, force=True)
    # Ray: force=True kills the worker process; get raises a plain TaskCancelledError (a task
    # left running would make get raise GetTimeoutError instead).
    with pytest.raises(exc.TaskCancelledError) as info:
        ray.get(ref, timeout=30)
    assert not isinstance(info.value, exc.RayTaskError)  # the process is gone, not interrupted
    assert issubclass(exc.TaskCancelledError, exc.RayError)


def test_cancel_of_a_finished_task_is_a_no_op(ray):
    @ray.remote
    def quick():
        return 5

    ref = quick.remote()
    assert ray.get(ref, timeout=30) == 5
    ray.cancel(ref)
    assert ray.get(ref, timeout=30) == 5


def test_cluster_keeps_working_after_cancellations(ray):
    @ray.remote
    def ok(i):
        return i

    assert ray.get([ok.remote(i) for i in range(10)], timeout=60) == list(range(10))


# --------------------------------------------------------------------------------------------------
# The exception classes user code catches


@pytest.mark.parametrize(
    ("name", "bases"),
    [
        ("RayError", ["Exception"]),
        ("RayTaskError", ["RayError"]),
        ("RayActorError", ["RayError"]),
        ("ActorDiedError", ["RayActorError"]),
        ("ActorUnavailableError", ["RayActorError"]),
        ("ActorAlreadyExistsError", ["RayError", "ValueError"]),
        ("GetTimeoutError", ["RayError", "TimeoutError"]),
        ("TaskCancelledError", ["RayError"]),
        ("WorkerCrashedError", ["RayError"]),
        ("ObjectLostError", ["RayError"]),
        ("OwnerDiedError", ["ObjectLostError"]),
        ("ObjectStoreFullError", ["RayError"]),
        ("OutOfMemoryError", ["RayError"]),
        ("RaySystemError", ["RayError"]),
        ("RuntimeEnvSetupError", ["RayError"]),
    ],
)
def test_exception_hierarchy(exc, name, bases):
    cls = getattr(exc, name)
    for base in bases:
        base_cls = getattr(exc, base, None) or getattr(builtins, base)
        assert issubclass(cls, base_cls), f"{name} should subclass {base}"


def test_inspect_serializability_names_the_captured_culprit(ray):
    lock = threading.Lock()

    def uses_lock():  # a closure: pickled by value, with what it captured
        with lock:
            return 1

    out = io.StringIO()
    ok, failures = ray.util.inspect_serializability(uses_lock, print_file=out)
    assert ok is False
    assert {f.path[-1] for f in failures} == {"lock"}
    assert all(f.obj is lock for f in failures)
    assert "lock" in out.getvalue()

    class Holder:
        def __init__(self):
            self.lock = threading.Lock()
            self.count = 3

    ok, failures = ray.util.inspect_serializability(Holder(), print_file=io.StringIO())
    assert ok is False and {f.path[-1] for f in failures} == {"lock"}

    ok, failures = ray.util.inspect_serializability(lambda x: x + 1, print_file=io.StringIO())
    assert ok is True and not failures
