"""Ray's exception names and hierarchy, so `except ray.exceptions.X` code runs unchanged.

Every message says what happened and what to do next. A task's own exception reaches the caller
as a `RayTaskError` that is *also* an instance of the original exception's class (see
`RayTaskError.as_instanceof_cause`), so `except ValueError:` catches it.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ActorAlreadyExistsError",
    "ActorDiedError",
    "ActorPlacementGroupRemoved",
    "ActorUnavailableError",
    "GetTimeoutError",
    "ObjectFreedError",
    "ObjectLostError",
    "ObjectStoreFullError",
    "OutOfMemoryError",
    "OwnerDiedError",
    "PendingCallsLimitExceeded",
    "RayActorError",
    "RayError",
    "RaySystemError",
    "RayTaskError",
    "RuntimeEnvSetupError",
    "TaskCancelledError",
    "TaskPlacementGroupRemoved",
    "TaskUnschedulableError",
    "UserCodeException",
    "WorkerCrashedError",
]


class RayError(Exception):
    """Base of every error the runtime raises on its own account."""


class RaySystemError(RayError):
    """The runtime itself failed; this is a bug in rayground: please file an issue."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RayTaskError(RayError):
    """A task or actor method raised; carries the remote traceback and the original exception."""

    def __init__(
        self,
        function_name: str,
        traceback_str: str,
        cause: BaseException | None,
        proctitle: str | None = None,
        pid: int | None = None,
        ip: str | None = None,
    ) -> None:
        self.function_name = function_name
        self.traceback_str = traceback_str
        self.cause = cause
        self.proctitle = proctitle or f"rayground::{function_name}"
        self.pid = pid
        self.ip = ip
        RayError.__init__(self, self._message())

    def _message(self) -> str:
        where = f" (pid={self.pid}, ip={self.ip})" if self.pid is not None else ""
        return f"{self.proctitle}(){where}\n{self.traceback_str.rstrip()}"

    def __str__(self) -> str:
        return self._message()

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_task_error,
            (self.function_name, self.traceback_str, self.cause, self.proctitle, self.pid, self.ip),
        )

    def as_instanceof_cause(self) -> RayTaskError:
        """Return an error that is both a RayTaskError and an instance of the cause's class."""
        cause = self.cause
        if cause is None or isinstance(cause, RayTaskError):
            return self
        cause_cls = type(cause)
        if not issubclass(cause_cls, Exception) or (
            cause_cls.__module__ == "builtins" and (cause_cls in _UNSUBCLASSABLE)
        ):
            return self
        try:
            dual = _dual_class(cause_cls)
            err = dual.__new__(dual)
            RayTaskError.__init__(
                err,
                self.function_name,
                self.traceback_str,
                cause,
                self.proctitle,
                self.pid,
                self.ip,
            )
            err.args = (self._message(),)
            return err
        except TypeError:  # an exception class with an incompatible layout (C extensions)
            return self

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of the local frames, which say nothing about the failure.
        return [f"{type(self).__name__}: {self._message()}"]


_UNSUBCLASSABLE: set[type] = set()
_dual_classes: dict[type, type] = {}


def _cause_attribute(self: RayTaskError, name: str) -> Any:
    """The dual error's missing attributes are the cause's (`except AppError as e: e.code`), as
    in Ray. Only reached when normal lookup fails, so RayTaskError's own fields win."""
    cause = self.__dict__.get("cause")  # not self.cause: unset while unpickling
    if cause is None or name.startswith("__"):
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
    return getattr(cause, name)


def _dual_class(cause_cls: type) -> type:
    dual = _dual_classes.get(cause_cls)
    if dual is None:
        name = f"RayTaskError({cause_cls.__name__})"
        dual = type(
            name,
            (RayTaskError, cause_cls),
            {
                "__str__": RayTaskError.__str__,
                "__reduce__": RayTaskError.__reduce__,
                "__getattr__": _cause_attribute,
                "__module__": __name__,
                "__qualname__": name,
            },
        )
        _dual_classes[cause_cls] = dual
    return dual


def _rebuild_task_error(*args: Any) -> RayTaskError:
    return RayTaskError(*args).as_instanceof_cause()


class UserCodeException(RayError):
    """User code called by a library (a Ray Data function, for one) raised; the user's own
    exception is this one's `__cause__`, so its traceback is shown first."""


class GetTimeoutError(RayError, TimeoutError):
    """`get` or `wait` did not see the result within `timeout` seconds; the work continues."""


class TaskCancelledError(RayError):
    """The task was cancelled with `cancel()` before it could finish."""

    def __init__(self, task_id: Any = None, error_message: str | None = None) -> None:
        self.task_id = task_id  # a TaskID (shown as hex), as in Ray
        self.error_message = error_message
        text = f"Task {task_id} was cancelled." if task_id else ""
        if error_message:
            text = f"{text} {error_message}".strip()
        super().__init__(text or "The task was cancelled.")

    def __reduce__(self) -> tuple:
        # Both fields travel; the default (args only) would make the message the task id, and
        # the message would read "Task Task ... was cancelled. was cancelled.".
        return (type(self), (self.task_id, self.error_message))


class WorkerCrashedError(RayError):
    """The worker process running the task died (killed, out of memory, or a crash in C code)."""


class RayActorError(RayError):
    """The actor is dead or could not be created; calls on its handle fail with this."""

    def __init__(self, message: str = "The actor died unexpectedly.", actor_id: str | None = None):
        self.actor_id = actor_id
        super().__init__(message)

    def __reduce__(self) -> tuple:
        # The actor id travels with the message between processes (args alone hold the message).
        return (type(self), (str(self), self.actor_id))


class ActorDiedError(RayActorError):
    """The actor's process is gone and will not be restarted."""


class ActorUnavailableError(RayActorError):
    """The actor is restarting; the call may be retried later."""


class PendingCallsLimitExceeded(RayError):
    """A handle made with `max_pending_calls=N` already has N calls that have not finished."""


class ActorAlreadyExistsError(RayError, ValueError):
    """An actor with this name already exists in the namespace."""


class RuntimeEnvSetupError(RayError):
    """The runtime_env of a task or actor could not be set up."""


class ObjectLostError(RayError):
    """The object's data is gone (its node died) and cannot be rebuilt from lineage."""

    def __init__(self, object_ref_hex: str = "", message: str | None = None) -> None:
        self.object_ref_hex = object_ref_hex
        super().__init__(message or f"Object {object_ref_hex} is lost and cannot be reconstructed.")

    def __reduce__(self) -> tuple:
        # Travels between processes with both fields (args alone would hold only the message).
        return (type(self), (self.object_ref_hex, str(self)))


class ObjectFreedError(ObjectLostError):
    """The object was freed explicitly and can no longer be read."""


class OwnerDiedError(ObjectLostError):
    """The process that owned the object exited, taking the object's metadata with it."""


class ObjectStoreFullError(RayError):
    """The object store and its spill space are full. Free references or raise the capacity."""


class OutOfMemoryError(RayError):
    """A task was killed because the machine ran out of memory."""


class TaskUnschedulableError(RayError):
    """No node in the cluster can ever satisfy the task's resource request."""


class ActorUnschedulableError(RayError):
    """No node in the cluster can ever satisfy the actor's resource request."""


class TaskPlacementGroupRemoved(RayError):
    """The placement group the task was scheduled into was removed before it could run."""

    def __str__(self) -> str:
        return "The placement group corresponding to this task has been removed."


class ActorPlacementGroupRemoved(RayError):
    """The placement group the actor was scheduled into was removed."""

    def __str__(self) -> str:
        return "The placement group corresponding to this Actor has been removed."
