"""What an error carries to the caller: the user's exception with its attributes (for tasks and
actor methods), `RayTaskError.cause`, a cancellation message that reads once, and the dead
actor's id, held to the same assertions on both backends."""

from __future__ import annotations

import os
import time
from types import SimpleNamespace

import pytest


@pytest.fixture(scope="module")
def parts(ray):
    class AppError(Exception):
        def __init__(self, code, detail="none"):
            super().__init__(f"failed with code {code}")
            self.code = code
            self.detail = detail

    @ray.remote
    def fail(code):
        raise AppError(code, detail="disk full")

    @ray.remote
    class Service:
        def fail(self, code):
            raise AppError(code)

        def my_id(self):
            return ray.get_runtime_context().get_actor_id()

    @ray.remote
    def block(seconds):
        time.sleep(seconds)
        return seconds

    return SimpleNamespace(AppError=AppError, fail=fail, Service=Service, block=block)


def test_task_error_is_the_users_exception_with_its_attributes(ray, exc, parts):
    with pytest.raises(parts.AppError) as info:
        ray.get(parts.fail.remote(7), timeout=60)
    err = info.value
    assert isinstance(err, exc.RayTaskError)
    assert err.code == 7
    assert err.detail == "disk full"
    assert isinstance(err.cause, parts.AppError)
    assert err.cause.code == 7
    assert "failed with code 7" in str(err)


def test_actor_method_error_keeps_its_attributes(ray, exc, parts):
    service = parts.Service.remote()
    with pytest.raises(parts.AppError) as info:
        ray.get(service.fail.remote(42), timeout=60)
    assert isinstance(info.value, exc.RayTaskError)
    assert info.value.code == 42
    assert info.value.detail == "none"
    assert info.value.cause.code == 42


def test_missing_attribute_is_still_an_attribute_error(ray, parts):
    with pytest.raises(parts.AppError) as info:
        ray.get(parts.fail.remote(1), timeout=60)
    with pytest.raises(AttributeError):
        info.value.no_such_field  # noqa: B018


@pytest.mark.differs(
    "ray",
    what="Message of a task cancelled while queued",
    ray="empty",
    rayground="`Task <id> was cancelled.`",
    why="a message should say what happened.",
    section="Errors",
)
def test_cancelled_task_message_reads_once(ray, exc, parts, differs):
    blockers = [parts.block.remote(0.8) for _ in range(2)]  # both CPUs busy
    ray.wait(blockers, timeout=0.2)
    queued = parts.block.remote(0.0)
    ray.cancel(queued)
    with pytest.raises(exc.TaskCancelledError) as info:
        ray.get(queued, timeout=60)
    if differs:
        assert str(info.value) == ""
    else:
        assert str(info.value).count("was cancelled") == 1  # once, naming the task
        assert str(info.value).startswith("Task ")
    assert ray.get(blockers, timeout=60) == [0.8, 0.8]


@pytest.mark.differs(
    "rayground",
    what="`args` of the dual `RayTaskError(UserError)`",
    ray="`(cause,)`",
    rayground="`(message,)`",
    why="not changed yet; read the cause from `.cause`.",
    section="Errors",
)
def test_dual_error_args_hold_the_cause(ray, parts):
    with pytest.raises(parts.AppError) as info:
        ray.get(parts.fail.remote(3), timeout=60)
    (only,) = info.value.args
    assert isinstance(only, parts.AppError)
    assert only.code == 3


def test_dead_actor_error_names_the_actor(ray, exc, parts):
    service = parts.Service.remote()
    actor_id = ray.get(service.my_id.remote(), timeout=60)
    ray.kill(service)
    with pytest.raises(exc.RayActorError) as info:
        ray.get(service.my_id.remote(), timeout=60)
    assert info.value.actor_id == actor_id


def test_call_in_flight_on_a_restarting_actor_is_unavailable_not_dead(ray, exc):
    @ray.remote(max_restarts=1)
    class Fragile:
        def pid(self):
            return os.getpid()

        def crash(self):
            os._exit(1)

    fragile = Fragile.remote()
    first = ray.get(fragile.pid.remote(), timeout=60)
    # The process dies under the call; the actor will come back: the call is unavailable.
    with pytest.raises(exc.ActorUnavailableError) as info:
        ray.get(fragile.crash.remote(), timeout=60)
    assert isinstance(info.value, exc.RayActorError)
    assert not isinstance(info.value, exc.ActorDiedError)
    # Calls made after it succeed, on the restarted process (Ray fails calls made while the
    # restart is under way fast, with ActorUnavailableError too: try again until it is back).
    deadline = time.monotonic() + 60
    while True:
        try:
            second = ray.get(fragile.pid.remote(), timeout=60)
            break
        except exc.ActorUnavailableError:
            assert time.monotonic() < deadline, "the actor did not come back within 60 s"
            time.sleep(0.1)
    assert second != first
    # No restarts left: now it is dead, for that call and every later one.
    with pytest.raises(exc.ActorDiedError):
        ray.get(fragile.crash.remote(), timeout=60)
    with pytest.raises(exc.ActorDiedError):
        ray.get(fragile.pid.remote(), timeout=60)
