"""The cold path of large objects: the first `put` of a size in a fresh cluster, and the first
`get` of a large array in each kind of process (the driver that put it, a task, an actor, and the
driver reading a task's result).

The warm rows of `objects.w_put_get_large` are medians after a warm-up, when the store has
segments of the size already; a notebook's first `put` of a big array meets fresh memory
instead. Each sample here starts its own cluster, so every figure is a first time; the value
reported is the median over the clusters.
"""

from __future__ import annotations

import gc
import time

import numpy as np

from harness import GB, MB, sizes, start, stop, summary


def _one_cluster(ray, backend: str, big: int) -> dict[str, float]:
    """One fresh cluster: the first put of each size and the first get in each process."""

    def timed_get(refs: list) -> float:
        """Seconds one `get` of `refs[0]` takes in this process (the array checked, untimed).
        Defined here, not at module level, so that tasks carry it by value (workers cannot
        import bench/)."""
        t0 = time.perf_counter()
        value = ray.get(refs[0])
        dt = time.perf_counter() - t0
        if value[-1] != len(value) - 1:
            raise AssertionError("the array read back differs from the one written")
        return dt

    @ray.remote
    def get_in_task(refs):
        return timed_get(refs)

    @ray.remote
    class Reader:
        def get(self, refs):
            return timed_get(refs)

    @ray.remote
    def make(nbytes):
        return np.arange(nbytes // 8, dtype=np.float64)

    out = {}
    start(ray, backend, object_store_memory=3 * 1024**3)
    # Workers up and the functions exported before the clock starts: that is start-up's cost.
    reader = Reader.remote()
    ray.get(
        [get_in_task.remote([ray.put(np.arange(4))]), reader.get.remote([ray.put(np.arange(4))])]
    )
    for label, nbytes in (("100MB", 100 * MB), ("large", big)):
        arr = np.arange(nbytes // 8, dtype=np.float64)  # every page touched before the clock
        t0 = time.perf_counter()
        ref = ray.put(arr)
        out[f"{label}/put"] = time.perf_counter() - t0
        del arr
        out[f"{label}/get_driver"] = timed_get([ref])
        out[f"{label}/get_driver_again"] = timed_get([ref])
        out[f"{label}/get_task"] = ray.get(get_in_task.remote([ref]))
        out[f"{label}/get_actor"] = ray.get(reader.get.remote([ref]))
        del ref
        made = make.remote(nbytes)
        ray.wait([made], fetch_local=False)
        out[f"{label}/get_driver_of_task_result"] = timed_get([made])
        del made
        gc.collect()
    del reader
    stop(ray)
    return out


def w_cold_objects(ray, backend):
    """First put (bandwidth) of 100 MB and 1 GB arrays in fresh clusters, and the first get of
    each in the driver, a task and an actor. In --quick mode the "large" array is 200 MB."""
    clusters = sizes(3, 1)
    big = sizes(GB, 200 * MB)
    runs = [_one_cluster(ray, backend, big) for _ in range(clusters)]
    metrics: dict = {}
    for label, nbytes in (("100MB", 100 * MB), ("large", big)):

        def col(name: str, label: str = label) -> list[float]:
            return [run[f"{label}/{name}"] for run in runs]

        metrics[label] = {
            "first_put_bandwidth": summary(
                [nbytes / s for s in col("put")], "B/s", True, nbytes=nbytes
            ),
            **{
                name: summary(col(name), "s", False, nbytes=nbytes)
                for name in (
                    "get_driver",
                    "get_driver_again",
                    "get_task",
                    "get_actor",
                    "get_driver_of_task_result",
                )
            },
        }
    return metrics
