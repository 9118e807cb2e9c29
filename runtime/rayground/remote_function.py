"""@remote on a function: `f.remote(...)` submits a task and returns ObjectRef(s) at once."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ._core import api, context, ids, observe, runtime_env
from ._core.serialization import export_code
from ._core.task_spec import encode_retry_exceptions, pack_args, submit
from .options import (
    TASK_OPTIONS,
    placement_from_options,
    resources_from_options,
    validate_options,
)


class RemoteFunction:
    """A function turned into a task factory by `@remote`. Call `.remote()`, not the function."""

    def __init__(self, function: Callable[..., Any], options: dict[str, Any]) -> None:
        if not callable(function):
            raise TypeError(f"@remote expects a function or a class, got {function!r}")
        self._function = function
        self._options = validate_options(options, TASK_OPTIONS, "task")
        self._is_generator = inspect.isgeneratorfunction(function)
        self._export: tuple[str, bytes] | None = None
        self.__name__ = getattr(function, "__name__", "remote_function")
        self.__qualname__ = getattr(function, "__qualname__", self.__name__)
        self.__doc__ = function.__doc__
        self.__module__ = getattr(function, "__module__", None)
        self.__wrapped__ = function

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            "Remote functions cannot be called directly. Instead of running "
            f"'{self.__name__}()', try '{self.__name__}.remote()'."
        )

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        return self._remote(args, kwargs, self._options)

    def options(self, **options: Any) -> _BoundOptions:
        merged = {**self._options, **validate_options(options, TASK_OPTIONS, "task")}
        return _BoundOptions(self, merged)

    def bind(self, *args: Any, **kwargs: Any) -> Any:
        """A task node of a graph (`rayground.dag`), submitted when the graph is executed."""
        from .dag import FunctionNode

        return FunctionNode(self, args, kwargs, dict(self._options))

    def _exported(self) -> tuple[str, bytes]:
        if self._export is None:
            self._export = export_code(
                self._function,
                f"the function {self.__name__}",
                "A remote function must not capture unpicklable objects (locks, open files, "
                "sockets) from the enclosing scope; create them inside the function.",
            )
        return self._export

    def _remote(self, args: tuple, kwargs: dict, options: dict[str, Any]) -> Any:
        client = api.connected_client()
        fn_id, blob = self._exported()
        task_id = ids.unique("t")
        renv = runtime_env.for_submit(client, options.get("runtime_env"))  # checked first
        num_returns = options.get("num_returns", 1)
        generator = self._is_generator or num_returns in ("streaming", "dynamic")
        if generator:
            num_returns = 1
        returns = [ids.return_id(task_id, i) for i in range(num_returns)]
        obj, deps = pack_args(self.__name__, args, kwargs)
        args_desc = client.store(f"{task_id}.args", obj)  # inline when small
        task_ctx = context.task_context()
        resources, placement = placement_from_options(
            options, resources_from_options(options, default_cpus=1), self.__name__
        )
        spec = {
            "task_id": task_id,
            "kind": "task",
            "name": options.get("name") or self.__name__,
            "fn_id": fn_id,
            "args": args_desc,
            "deps": deps,
            "contained": obj.contained,
            "returns": returns,
            "resources": resources,
            "max_retries": options.get("max_retries", 3),
            "retry_exceptions": encode_retry_exceptions(options.get("retry_exceptions", False)),
            "generator": generator,
            "job_id": task_ctx.get("job_id") or client.session.get("job_id"),
            "parent_task_id": task_ctx.get("task_id"),
            "runtime_env": renv,
            **placement,
        }
        fn_blob = client.export_function(fn_id, blob)
        if fn_blob is not None:
            spec["fn_blob"] = fn_blob
        if observe.submit_hooks:
            observe.submitted(spec, args, kwargs)
        return submit(client, spec)

    def __repr__(self) -> str:
        return f"<rayground remote function {self.__qualname__}>"


class _BoundOptions:
    """What `f.options(...)` returns: `.remote()` with those options."""

    def __init__(self, fn: RemoteFunction, options: dict[str, Any]) -> None:
        self._fn = fn
        self._options = options

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        return self._fn._remote(args, kwargs, self._options)

    def bind(self, *args: Any, **kwargs: Any) -> Any:
        from .dag import FunctionNode

        return FunctionNode(self._fn, args, kwargs, dict(self._options))

    def options(self, **options: Any) -> _BoundOptions:
        merged = {**self._options, **validate_options(options, TASK_OPTIONS, "task")}
        return _BoundOptions(self._fn, merged)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._fn(*args, **kwargs)
