"""@remote on a class: actors. `Cls.remote()` gives an ActorHandle; `handle.method.remote()`
gives ObjectRefs. Same surface as Ray's `ray.actor` module (ActorClass, ActorHandle, exit_actor).

An actor lives while its creator's job runs and some handle to it exists (anonymous actors end
when the last handle is dropped and their queued calls are done), or until `kill()`; a detached
actor outlives its driver.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from . import exceptions
from ._core import api, context, ids, observe, runtime_env
from ._core.object_ref import ObjectRef
from ._core.serialization import export_code
from ._core.task_spec import ActorExit, encode_retry_exceptions, pack_args, submit
from .options import (
    ACTOR_OPTIONS,
    METHOD_OPTIONS,
    placement_from_options,
    resources_from_options,
    validate_options,
)

__all__ = ["ActorClass", "ActorHandle", "ActorMethod", "exit_actor", "method"]


def method(*args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Per-method options for actor methods, e.g. `@method(num_returns=2)`."""
    if args and callable(args[0]) and not kwargs:
        return args[0]  # used bare as @method
    validate_options(kwargs, METHOD_OPTIONS, "actor method")

    def annotate(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.__rayground_method_options__ = dict(kwargs)  # type: ignore[attr-defined]
        return fn

    return annotate


def exit_actor() -> None:
    """End the current actor from inside one of its methods; later calls get ActorDiedError."""
    ctx = context.task_context()
    if not ctx.get("actor_id"):
        raise TypeError("exit_actor() can only be called inside an actor method.")
    raise ActorExit()


def _method_meta(cls: type) -> dict[str, dict[str, Any]]:
    methods: dict[str, dict[str, Any]] = {}
    for name, member in inspect.getmembers(cls, predicate=inspect.isfunction):
        if name.startswith("__") and name not in ("__call__",):
            continue
        opts = getattr(member, "__rayground_method_options__", {})
        methods[name] = {
            "num_returns": opts.get("num_returns", 1),
            "generator": inspect.isgeneratorfunction(member) or inspect.isasyncgenfunction(member),
            "is_async": inspect.iscoroutinefunction(member) or inspect.isasyncgenfunction(member),
        }
    return methods


class ActorClass:
    """A class turned into an actor factory by `@remote`. Call `.remote()`, not the class."""

    def __init__(self, cls: type, options: dict[str, Any]) -> None:
        self._cls = cls
        self._options = validate_options(options, ACTOR_OPTIONS, "actor")
        self._methods = _method_meta(cls)
        self._is_async = any(m["is_async"] for m in self._methods.values())
        self._export: tuple[str, bytes] | None = None
        self.__name__ = cls.__name__
        self.__qualname__ = cls.__qualname__
        self.__doc__ = cls.__doc__
        self.__module__ = cls.__module__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            "Actors cannot be instantiated directly. Instead of "
            f"'{self.__name__}()', use '{self.__name__}.remote()'."
        )

    def remote(self, *args: Any, **kwargs: Any) -> ActorHandle:
        return self._create(args, kwargs, self._options)

    def bind(self, *args: Any, **kwargs: Any) -> Any:
        """An actor node of a graph (`rayground.dag`): each execution of the graph makes one."""
        from .dag import ClassNode

        return ClassNode(self, args, kwargs, dict(self._options))

    def options(self, **options: Any) -> _ActorOptions:
        return _ActorOptions(
            self, {**self._options, **validate_options(options, ACTOR_OPTIONS, "actor")}
        )

    def _exported(self) -> tuple[str, bytes]:
        if self._export is None:
            self._export = export_code(
                self._cls,
                f"the actor class {self.__name__}",
                "Keep unpicklable objects (locks, files, sockets) out of class attributes; "
                "create them in __init__.",
            )
        return self._export

    def _create(self, args: tuple, kwargs: dict, options: dict[str, Any]) -> ActorHandle:
        client = api.connected_client()
        pending = PendingCalls.from_options(options)
        fn_id, blob = self._exported()
        actor_id = ids.unique("a")
        renv = runtime_env.for_submit(client, options.get("runtime_env"))  # checked first
        obj, deps = pack_args(f"{self.__name__}.__init__", args, kwargs)
        args_desc = client.store(f"{actor_id}.args", obj)  # inline when small
        meta = {
            "class_name": self.__qualname__,
            "methods": self._methods,
            "is_async": self._is_async,
        }
        task_ctx = context.task_context()
        namespace = options.get("namespace")
        if namespace is None:
            namespace = api.current_namespace(client)
        name = options.get("name")
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"An actor's name must be a non-empty str, got {name!r}")
        resources, placement = placement_from_options(
            options, resources_from_options(options, default_cpus=0), self.__name__
        )
        spec = {
            "actor_id": actor_id,
            "kind": "actor_create",
            "fn_id": fn_id,
            "class_name": self.__qualname__,
            "args": args_desc,
            "deps": deps,
            "contained": obj.contained,
            "resources": resources,
            "max_restarts": options.get("max_restarts", 0),
            "max_task_retries": options.get("max_task_retries", 0),
            "max_concurrency": options.get("max_concurrency"),
            "is_async": self._is_async,
            "name": name,
            "namespace": namespace,
            "lifetime": options.get("lifetime"),
            "get_if_exists": bool(options.get("get_if_exists", False)),
            "job_id": task_ctx.get("job_id") or client.session.get("job_id"),
            "runtime_env": renv,
            "meta": meta,
            "handle_id": f"{actor_id}.h",
            **placement,
        }
        fn_blob = client.export_function(fn_id, blob)
        if fn_blob is not None:
            spec["fn_blob"] = fn_blob
        if observe.submit_hooks:
            observe.submitted(spec, args, kwargs)
        # The handle's own ref exists before the head hears of the actor, so the head can count
        # this process as a holder of the handle from the start.
        reply = client.request("create_actor", {"spec": spec})
        if reply.get("existing"):
            return ActorHandle._from_reply(reply)
        handle = ActorHandle(actor_id, meta, _client=client, _created=True)
        handle._pending_calls = pending
        return handle

    def __repr__(self) -> str:
        return f"<rayground actor class {self.__qualname__}>"


class _ActorOptions:
    def __init__(self, actor_class: ActorClass, options: dict[str, Any]) -> None:
        self._actor_class = actor_class
        self._options = options

    def remote(self, *args: Any, **kwargs: Any) -> ActorHandle:
        return self._actor_class._create(args, kwargs, self._options)

    def bind(self, *args: Any, **kwargs: Any) -> Any:
        from .dag import ClassNode

        return ClassNode(self._actor_class, args, kwargs, dict(self._options))

    def options(self, **options: Any) -> _ActorOptions:
        merged = {**self._options, **validate_options(options, ACTOR_OPTIONS, "actor")}
        return _ActorOptions(self._actor_class, merged)


class ActorHandle:
    """A reference to a running actor; picklable, so it can be passed to tasks and actors."""

    def __init__(
        self, actor_id: str, meta: dict[str, Any], *, _client: Any = None, _created: bool = False
    ) -> None:
        self._actor_id = actor_id
        self._meta = meta
        # Holding this ref keeps the actor alive; the head ends an anonymous actor when the last
        # handle anywhere is gone (see actor_manager.on_handle_freed).
        self._handle_ref = ObjectRef(f"{actor_id}.h", _borrowed=not _created, _client=_client)

    @classmethod
    def _from_reply(cls, reply: dict[str, Any]) -> ActorHandle:
        meta = {k: reply[k] for k in ("class_name", "methods", "is_async")}
        return cls(reply["actor_id"], meta)

    def __getattr__(self, name: str) -> ActorMethod:
        methods = self.__dict__.get("_meta", {}).get("methods", {})
        if name in methods:
            return ActorMethod(self, name, methods[name])
        raise AttributeError(
            f"'{self.__dict__.get('_meta', {}).get('class_name', 'Actor')}' actor has no method "
            f"{name!r}. Its methods are: {', '.join(sorted(methods)) or 'none'}."
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_handle, (self._actor_id, self._meta, self._handle_ref))

    def __repr__(self) -> str:
        return f"Actor({self._meta.get('class_name')}, {ids.to_hex(self._actor_id)})"

    def __hash__(self) -> int:
        return hash(self._actor_id)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ActorHandle) and other._actor_id == self._actor_id


def _rebuild_handle(actor_id: str, meta: dict[str, Any], handle_ref: ObjectRef) -> ActorHandle:
    handle = ActorHandle.__new__(ActorHandle)
    handle._actor_id = actor_id
    handle._meta = meta
    handle._handle_ref = handle_ref  # already registered as borrowed when it was unpickled
    return handle


class ActorMethod:
    def __init__(
        self, handle: ActorHandle, name: str, meta: dict[str, Any], options: dict | None = None
    ):
        self._handle = handle
        self._name = name
        self._meta = meta
        self._options = options or {}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            "Actor methods cannot be called directly. Instead of running "
            f"'object.{self._name}()', try 'object.{self._name}.remote()'."
        )

    def options(self, **options: Any) -> ActorMethod:
        validate_options(options, METHOD_OPTIONS, "actor method")
        return ActorMethod(self._handle, self._name, self._meta, {**self._options, **options})

    def bind(self, *args: Any, **kwargs: Any) -> Any:
        """A call on this (existing) actor as a node of a graph (`rayground.dag`)."""
        from .dag import PARENT_CLASS_NODE_KEY, PREV_CLASS_METHOD_CALL_KEY, ClassMethodNode

        other = {PARENT_CLASS_NODE_KEY: self._handle, PREV_CLASS_METHOD_CALL_KEY: None}
        return ClassMethodNode(self._name, args, kwargs, dict(self._options), other)

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        client = api.connected_client()
        handle = self._handle
        task_id = ids.unique("t")
        num_returns = self._options.get("num_returns", self._meta.get("num_returns", 1))
        generator = self._meta.get("generator") or num_returns in ("streaming", "dynamic")
        if generator:
            num_returns = 1
        returns = [ids.return_id(task_id, i) for i in range(num_returns)]
        class_name = handle._meta.get("class_name", "Actor").rsplit(".", 1)[-1]
        obj, deps = pack_args(f"{class_name}.{self._name}", args, kwargs)
        args_desc = client.store(f"{task_id}.args", obj)  # inline when small
        task_ctx = context.task_context()
        spec = {
            "task_id": task_id,
            "kind": "actor_call",
            "actor_id": handle._actor_id,
            "method": self._name,
            "name": self._options.get("name") or f"{class_name}.{self._name}",
            "args": args_desc,
            "deps": deps,
            "contained": obj.contained,
            "returns": returns,
            "max_retries": self._options.get("max_task_retries"),  # None: the actor's setting
            "retry_exceptions": encode_retry_exceptions(
                self._options.get("retry_exceptions", False)
            ),
            "generator": generator,
            "job_id": task_ctx.get("job_id") or client.session.get("job_id"),
            "parent_task_id": task_ctx.get("task_id"),
        }
        pending: PendingCalls | None = handle.__dict__.get("_pending_calls")
        if pending is not None:
            pending.check(spec["name"], handle)
        if observe.submit_hooks:
            observe.submitted(spec, args, kwargs)
        result = submit(client, spec)
        if pending is not None and isinstance(result, ObjectRef):
            pending.add(result)
        elif pending is not None and isinstance(result, list) and result:
            pending.add(result[0])
        return result

    def __repr__(self) -> str:
        return f"<method {self._name} of {self._handle!r}>"


class PendingCalls:
    """`max_pending_calls`: the calls made through one handle that have not finished; one
    more than the limit raises `PendingCallsLimitExceeded` at `.remote()`, as in Ray."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.refs: list[ObjectRef] = []

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> PendingCalls | None:
        limit = options.get("max_pending_calls", -1)
        if limit is None:
            return None
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < -1:
            raise ValueError(
                "The keyword 'max_pending_calls' only accepts None, 0, -1 or a positive "
                f"integer, where -1 represents infinity; got {limit!r}"
            )
        return cls(limit) if limit > 0 else None  # 0 and -1: no limit, as in Ray

    def check(self, task_name: str, handle: ActorHandle) -> None:
        if len(self.refs) >= self.limit:
            # Forget the calls that have finished since (cheap: a local check, no waiting).
            _done, self.refs = api.wait(self.refs, num_returns=len(self.refs), timeout=0)
        if len(self.refs) >= self.limit:
            raise exceptions.PendingCallsLimitExceeded(
                f"The task {task_name} could not be submitted to {handle!r} because more than "
                f"{self.limit} tasks are queued on the actor. This limit can be adjusted with "
                "the `max_pending_calls` actor option."
            )

    def add(self, ref: ObjectRef) -> None:
        self.refs.append(ref)
