"""Errors keep their fields when they travel between processes (pickled), and the dual
RayTaskError reads the cause's attributes."""

from __future__ import annotations

import pickle

import pytest

from rayground.exceptions import (
    ActorDiedError,
    RayActorError,
    RayTaskError,
    TaskCancelledError,
)


class AppError(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(f"failed with code {code}")
        self.code = code


def test_cancelled_error_message_reads_once_after_pickling():
    err = pickle.loads(pickle.dumps(TaskCancelledError("t1-2")))
    assert str(err) == "Task t1-2 was cancelled."
    assert err.task_id == "t1-2"
    with_reason = pickle.loads(pickle.dumps(TaskCancelledError("t1-3", "Its actor died.")))
    assert str(with_reason) == "Task t1-3 was cancelled. Its actor died."
    assert with_reason.error_message == "Its actor died."


@pytest.mark.parametrize("cls", [RayActorError, ActorDiedError])
def test_actor_error_keeps_its_actor_id_after_pickling(cls):
    err = pickle.loads(pickle.dumps(cls("The actor A is dead.", actor_id="a1-5")))
    assert type(err) is cls
    assert err.actor_id == "a1-5"
    assert str(err) == "The actor A is dead."


def test_dual_error_reads_the_causes_attributes_also_after_pickling():
    dual = RayTaskError("f", "Traceback ...\nAppError: failed", AppError(7)).as_instanceof_cause()
    assert isinstance(dual, AppError) and isinstance(dual, RayTaskError)
    assert dual.code == 7
    assert dual.function_name == "f"  # RayTaskError's own fields come first
    back = pickle.loads(pickle.dumps(dual))
    assert isinstance(back, AppError)
    assert back.code == 7
    assert back.cause.code == 7
    with pytest.raises(AttributeError):
        back.missing  # noqa: B018
