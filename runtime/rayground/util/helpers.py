"""Ray's small helpers over `wait`: results as they complete, a map with a bound on pending
tasks, and the named actors' names (`ray.util.as_completed`, `map_unordered`,
`list_named_actors`). Public API only."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import rayground


def _check_chunk_size(chunk_size: int, kwargs: dict[str, Any]) -> None:
    if chunk_size < 1:
        raise ValueError("`chunk_size` must be >= 1")
    if "num_returns" in kwargs:
        raise ValueError("Use the `chunk_size` argument instead of `num_returns`.")


def _next_batch(
    refs: Sequence[Any], chunk_size: int, yield_obj_refs: bool, kwargs: dict[str, Any]
) -> tuple[list[Any], list[Any]]:
    ready, rest = rayground.wait(list(refs), num_returns=min(chunk_size, len(refs)), **kwargs)
    return (ready if yield_obj_refs else rayground.get(ready)), rest


def as_completed(
    refs: Sequence[Any], *, chunk_size: int = 10, yield_obj_refs: bool = False, **kwargs: Any
) -> Iterator[Any]:
    """Yield the results of `refs` in batches of `chunk_size` as they become ready (their refs
    with `yield_obj_refs=True`); `kwargs` go to `wait` (e.g. `timeout`)."""
    _check_chunk_size(chunk_size, kwargs)
    rest = list(refs)
    while rest:
        results, rest = _next_batch(rest, chunk_size, yield_obj_refs, kwargs)
        yield from results


def map_unordered(
    fn: Any,
    items: Iterable[Any],
    *,
    backpressure_size: int | None = 100,
    chunk_size: int = 10,
    yield_obj_refs: bool = False,
    **kwargs: Any,
) -> Iterator[Any]:
    """`fn.remote(item)` for each item, at most `backpressure_size` pending at once, yielding
    results as they complete (in no particular order)."""
    if backpressure_size is not None and backpressure_size <= 0:
        raise ValueError("backpressure_size must be positive.")
    _check_chunk_size(chunk_size, kwargs)
    limit = float("inf") if backpressure_size is None else backpressure_size
    pending: list[Any] = []
    for item in items:
        pending.append(fn.remote(item))
        if len(pending) >= limit:
            results, pending = _next_batch(pending, chunk_size, yield_obj_refs, kwargs)
            yield from results
    yield from as_completed(pending, chunk_size=chunk_size, yield_obj_refs=yield_obj_refs, **kwargs)


def list_named_actors(all_namespaces: bool = False) -> list[Any]:
    """Names of the live named actors in this job's namespace; with `all_namespaces=True`,
    `{"name", "namespace"}` for every namespace."""
    from . import state

    namespace = rayground.get_runtime_context().namespace
    rows = [
        row
        for row in state.list_actors(detail=True, limit=100_000)
        if row.get("name") and row.get("state") != "DEAD"
    ]
    if all_namespaces:
        return [{"name": row["name"], "namespace": row["namespace"]} for row in rows]
    return [row["name"] for row in rows if row.get("namespace") == namespace]
