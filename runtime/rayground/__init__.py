"""rayground: Ray Core's API on a small local runtime, for learning and prototyping.

    import rayground as ray

    @ray.remote
    def square(x):
        return x * x

    print(ray.get([square.remote(i) for i in range(4)]))

Everything public is re-exported here; `rayground._core` holds the internals.
"""

from __future__ import annotations

from typing import Any

from . import actor, exceptions, job_config, util
from ._core.api import (
    available_resources,
    cancel,
    cluster_resources,
    get,
    get_actor,
    get_gpu_ids,
    init,
    is_initialized,
    kill,
    nodes,
    put,
    shutdown,
    timeline,
    wait,
)
from ._core.generators import ObjectRefGenerator
from ._core.ids import ActorID, JobID, NodeID, TaskID, WorkerID
from ._core.object_ref import ObjectRef
from .actor import ActorClass, ActorHandle, method
from .dynamic_returns import DynamicObjectRefGenerator
from .logging_config import LoggingConfig
from .remote_function import RemoteFunction
from .runtime_context import RuntimeContext, get_runtime_context

__version__ = "0.1.0"

__all__ = [
    "ActorClass",
    "ActorHandle",
    "ActorID",
    "DynamicObjectRefGenerator",
    "JobID",
    "LoggingConfig",
    "NodeID",
    "ObjectRef",
    "ObjectRefGenerator",
    "RemoteFunction",
    "RuntimeContext",
    "TaskID",
    "WorkerID",
    "__version__",
    "actor",
    "available_resources",
    "cancel",
    "cluster_resources",
    "exceptions",
    "get",
    "get_actor",
    "get_gpu_ids",
    "get_runtime_context",
    "init",
    "is_initialized",
    "job_config",
    "kill",
    "method",
    "nodes",
    "put",
    "remote",
    "shutdown",
    "timeline",
    "util",
    "wait",
]


_LIBRARIES = ("data", "tune", "serve", "train")


def __getattr__(name: str) -> Any:
    # Libraries load on first use (`ray.data`, `ray.tune`, `ray.serve`), so `import rayground`
    # stays fast.
    if name in _LIBRARIES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'rayground' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext rayground`: register the magics (%ray_init, views, %%ray_explain)."""
    from .jupyter import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .jupyter import unload_ipython_extension as unload

    unload(ipython)


def remote(*args: Any, **kwargs: Any) -> Any:
    """Turn a function into a task or a class into an actor: `@remote` or `@remote(num_cpus=2)`.
    (`**kwargs`, the options, is named as in Ray's signature.)"""
    if len(args) == 1 and not kwargs and callable(args[0]):
        return _make_remote(args[0], {})
    if args:
        raise TypeError(
            "The @remote decorator takes either no arguments or keyword options only, e.g. "
            "@remote or @remote(num_cpus=2, num_returns=2)."
        )

    def decorator(function_or_class: Any) -> Any:
        return _make_remote(function_or_class, kwargs)

    return decorator


def _make_remote(target: Any, options: dict[str, Any]) -> RemoteFunction | ActorClass:
    if isinstance(target, type):
        return ActorClass(target, options)
    if callable(target):
        return RemoteFunction(target, options)
    raise TypeError(f"@remote expects a function or a class, got {type(target).__name__}")
