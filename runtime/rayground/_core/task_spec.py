"""Task and actor specifications: how a call's function, arguments and options are packed.

A spec is a plain dict (it travels in envelopes, so only plain data):

    task_id, name, kind ("task" | "actor_create" | "actor_call"), fn_id, fn_blob (first time only),
    args (desc of the packed (args, kwargs)), deps (ids of top-level ObjectRef arguments, which the
    head resolves before dispatch), contained (ids of refs nested deeper, passed as refs),
    returns (object ids), resources, max_retries, retry_exceptions, generator, job_id,
    parent_task_id, runtime_env, actor_id / method (actor calls), namespace.

Top-level ObjectRef arguments are replaced by `ArgRef` placeholders in the pickled arguments; the
worker swaps each for its value. Refs nested in containers stay ObjectRefs, as in Ray.
"""

from __future__ import annotations

from typing import Any

from . import protocol
from .generators import ObjectRefGenerator
from .object_ref import ObjectRef
from .serialization import SerializedObject, dumps_code, find_unpicklable, loads_code, serialize


class ActorExit(BaseException):
    """Raised by `exit_actor()`; ends the actor's process after the current call."""


class ArgRef:
    __slots__ = ("oid",)

    def __init__(self, oid: str) -> None:
        self.oid = oid

    def __reduce__(self) -> tuple[Any, ...]:
        return (ArgRef, (self.oid,))


def submit(client: Any, spec: dict[str, Any]) -> Any:
    """Send a task or actor call; returns what `.remote()` gives the user, as Ray does: one
    ref, a list of refs (`num_returns > 1`), None (`num_returns=0`), or a generator."""
    returns = spec["returns"]
    # The refs exist before the head hears of the call, so it can count this process as holder.
    refs = [ObjectRef(oid, _client=client) for oid in returns]
    if spec.get("kind") == "actor_call":
        client.submit_actor_call(spec)
    else:
        client.expect(returns)
        client.submit((protocol.SUBMIT, spec))
    if spec.get("generator"):
        return ObjectRefGenerator(refs[0], client)
    if len(refs) == 1:
        return refs[0]
    return refs or None


def pack_args(
    fn_name: str, args: tuple, kwargs: dict[str, Any]
) -> tuple[SerializedObject, list[str]]:
    deps: list[str] = []

    def placeholder(value: Any) -> Any:
        if isinstance(value, ObjectRef):
            deps.append(value._id)
            return ArgRef(value._id)
        return value

    packed_args = [placeholder(a) for a in args]
    packed_kwargs = {k: placeholder(v) for k, v in kwargs.items()}
    try:
        return serialize((packed_args, packed_kwargs)), deps
    except Exception as exc:
        raise _argument_error(fn_name, args, kwargs, exc) from None


def _argument_error(fn_name: str, args: tuple, kwargs: dict[str, Any], exc: Exception) -> TypeError:
    named = [(f"argument {i} (positional)", a) for i, a in enumerate(args)]
    named += [(f"argument {k!r}", v) for k, v in kwargs.items()]
    for label, value in named:
        found = find_unpicklable(value)
        if found is not None:
            path, culprit = found
            where = f" at {label}{path}" if path else f" {label}"
            return TypeError(
                f"Could not serialize the arguments of {fn_name}(): the object{where} is a "
                f"{type(culprit).__qualname__} ({_short_repr(culprit)}), which cannot be "
                f"pickled ({type(exc).__name__}: {exc}). Create it inside the task instead of "
                "passing it, or pass something picklable (e.g. a path or a config dict)."
            )
    return TypeError(f"Could not serialize the arguments of {fn_name}(): {exc}")


def _short_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        text = object.__repr__(value)
    return text if len(text) <= 80 else text[:77] + "..."


def should_retry(spec: dict, exc: BaseException) -> bool:
    allowed = spec.get("retry_exceptions")
    if not allowed or not isinstance(exc, Exception):
        return False
    if allowed is True:
        return True
    try:
        classes = tuple(loads_code(allowed))
    except Exception:
        return False
    return isinstance(exc, classes)


def encode_retry_exceptions(value: Any) -> Any:
    """`retry_exceptions` travels as True/False or as pickled exception classes."""
    if isinstance(value, bool) or value is None:
        return bool(value)
    return dumps_code(list(value))
