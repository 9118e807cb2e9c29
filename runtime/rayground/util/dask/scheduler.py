"""`ray_dask_get`: a Dask scheduler that runs every task of a Dask graph as a cluster task.

    import dask, dask.array as da
    from rayground.util.dask import ray_dask_get

    x = da.ones((1000, 1000), chunks=(250, 250))
    dask.compute(x.sum(), scheduler=ray_dask_get)        # 16 chunk tasks + the reductions

Data flow: Dask hands the scheduler its graph (key -> task) and the keys it wants. The
scheduler keeps only what those keys need, walks it dependencies-first and, from the calling
thread, submits one task per graph task (named `dask:<key>`, so the views show them), passing
the results of its dependencies as ObjectRefs: the cluster runs a task once its inputs exist and
hands it their values, so independent chunks run in parallel with no extra waiting here. Literal
data in the graph stays with the driver unless it is large, then it is `put` once and shared.
At the end one `get` fetches the wanted keys, packed as Dask's own `get` packs them (a list of
keys gives a tuple); with `ray_persist=True` the ObjectRefs come back instead.

Non-goals: Ray's Dask callbacks (`RayDaskCallback`), per-key options from `dask.annotate`, and
the DataFrame shuffle optimisation; see docs/ray-compatibility.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dask
from dask._task_spec import Alias, DataNode, GraphNode, convert_legacy_graph

import rayground

from .._size import SHARE_ONCE_BYTES, approx_nbytes

__all__ = ["disable_dask_on_ray", "enable_dask_on_ray", "ray_dask_get", "ray_dask_get_sync"]

# Keyword arguments of Dask's local schedulers that only tune their own thread pool; this
# scheduler submits from the calling thread, so they change nothing here.
_THREAD_POOL_KWARGS = {"num_workers", "pool", "chunksize"}

_RESOURCES_MESSAGE = (
    'Use ray_remote_args={"resources": {...}} instead of resources={...} to specify the '
    "resources each Dask task needs."
)


@rayground.remote
def _run_dask_task(node: GraphNode, dep_keys: list[Any], *dep_values: Any) -> Any:
    """One Dask task on a worker: its dependencies arrive as values, in `dep_keys` order."""
    return node(dict(zip(dep_keys, dep_values, strict=True)))


def ray_dask_get(dsk: Any, keys: Any, **kwargs: Any) -> Any:
    """Run the Dask graph `dsk` on the cluster and return the values of `keys` (a key, or
    nested lists of keys, as Dask's `get` functions take them).

    Keyword arguments: `ray_remote_args` (options for every task, e.g. `{"num_cpus": 2}`),
    `ray_persist` (return ObjectRefs instead of values); `num_workers`/`pool` are accepted for
    Dask's signature and have no effect."""
    ray_remote_args = dict(kwargs.pop("ray_remote_args", None) or {})
    persist = bool(kwargs.pop("ray_persist", False))
    if "resources" in kwargs:
        raise ValueError(_RESOURCES_MESSAGE)
    unknown = set(kwargs) - _THREAD_POOL_KWARGS
    if unknown:
        raise TypeError(
            f"ray_dask_get() got unexpected keyword argument(s) {sorted(unknown)}; it takes "
            "ray_remote_args and ray_persist (and Dask's num_workers/pool, which do nothing here)."
        )
    if not isinstance(dsk, Mapping):
        dsk = dsk.__dask_graph__()
    graph: dict[Any, GraphNode] = convert_legacy_graph(dict(dsk))
    task = _run_dask_task.options(**ray_remote_args) if ray_remote_args else _run_dask_task
    results: dict[Any, Any] = {}
    for key in _dependencies_first(graph, _flat_keys(keys)):
        results[key] = _submit(task, key, graph[key], results)
    wanted = _flat_keys(keys)
    if persist:
        return _pack(keys, results)
    refs = [results[k] for k in wanted if isinstance(results[k], rayground.ObjectRef)]
    values = dict(zip(map(id, refs), rayground.get(refs), strict=True))
    fetched = {
        k: values[id(results[k])] if isinstance(results[k], rayground.ObjectRef) else results[k]
        for k in wanted
    }
    return _pack(keys, fetched)


# Ray has a second, single-threaded variant; this scheduler already submits from one thread.
ray_dask_get_sync = ray_dask_get


def _submit(task: Any, key: Any, node: GraphNode, results: dict[Any, Any]) -> Any:
    if isinstance(node, DataNode):
        value = node.value
        return rayground.put(value) if approx_nbytes(value) >= SHARE_ONCE_BYTES else value
    if isinstance(node, Alias):
        return results[node.target]
    dep_keys = list(node.dependencies)
    return task.options(name=f"dask:{key}").remote(node, dep_keys, *(results[k] for k in dep_keys))


def _dependencies_first(graph: dict[Any, GraphNode], wanted: list[Any]) -> list[Any]:
    """The keys `wanted` needs, each after its dependencies (iterative: graphs can be deep)."""
    order: list[Any] = []
    state: dict[Any, bool] = {}  # False: being visited, True: placed in `order`
    for root in wanted:
        stack = [(root, False)]
        while stack:
            key, expanded = stack.pop()
            if expanded:
                state[key] = True
                order.append(key)
                continue
            if key in state:
                continue
            if key not in graph:
                raise KeyError(f"The Dask graph has no task for key {key!r}.")
            state[key] = False
            stack.append((key, True))
            stack.extend((dep, False) for dep in graph[key].dependencies if dep not in state)
    return order


def _flat_keys(keys: Any) -> list[Any]:
    if isinstance(keys, list):
        return [k for sub in keys for k in _flat_keys(sub)]
    return [keys]


def _pack(keys: Any, values: dict[Any, Any]) -> Any:
    # As Dask's own `get` functions: a list of keys gives a tuple of their values.
    if isinstance(keys, list):
        return tuple(_pack(k, values) for k in keys)
    return values[keys]


def enable_dask_on_ray(
    shuffle: str | None = "tasks", use_shuffle_optimization: bool | None = True
) -> Any:
    """Make `ray_dask_get` Dask's default scheduler (also usable as a context manager).

    The task-based shuffle is chosen because a disk shuffle needs a shared filesystem.
    `use_shuffle_optimization` is Ray's DataFrame shuffle rewrite, which rayground does not
    have: it is accepted for Ray's signature and Dask's own shuffle runs either way."""
    del use_shuffle_optimization  # documented in docs/ray-compatibility.md
    return dask.config.set({"scheduler": ray_dask_get, "dataframe.shuffle.method": shuffle})


def disable_dask_on_ray() -> Any:
    """Undo `enable_dask_on_ray`: Dask picks its scheduler as usual."""
    return dask.config.set({"scheduler": None, "dataframe.shuffle.method": None})
