"""Reference points without a cluster: a NumPy copy into fresh memory and multiprocessing.Pool."""

from __future__ import annotations

import gc
import time

import numpy as np

# --------------------------------------------------------------------------------------------------
# Reference points without a cluster
from harness import GB, MB, rate, sizes, summary


def _pool_noop(_=None):
    return None


def r_numpy_copy():
    """Copy of an array into fresh memory (a new allocation, so page faults are included)."""
    reps = sizes(5, 2)
    out = {}
    for label, nbytes in (("100MB", 100 * MB), ("large", sizes(GB, 200 * MB))):
        arr = np.arange(nbytes // 8, dtype=np.float64)
        arr.copy()
        samples = []
        for _ in range(reps):
            t0 = time.perf_counter()
            copy = arr.copy()
            samples.append(nbytes / (time.perf_counter() - t0))
            del copy
        del arr
        gc.collect()
        out[label] = summary(samples, "B/s", True, nbytes=nbytes)
    return out


def r_pool_noop_sync():
    import multiprocessing

    n, reps = sizes((2000, 5), (200, 2))
    with multiprocessing.Pool(2) as pool:
        for _ in range(200):
            pool.apply(_pool_noop)
        samples = []
        for _ in range(reps):
            t0 = time.perf_counter()
            for _ in range(n):
                pool.apply(_pool_noop)
            samples.append(rate(n, time.perf_counter() - t0))
    return {
        "tasks_per_s": summary(samples, "1/s", True, n=n),
        "start_method": multiprocessing.get_start_method(),
    }


def r_pool_noop_batch():
    import multiprocessing

    n, reps = sizes((10_000, 5), (1000, 2))
    with multiprocessing.Pool(2) as pool:
        for r in [pool.apply_async(_pool_noop) for _ in range(1000)]:
            r.get()
        samples, mapped = [], []
        for _ in range(reps):
            t0 = time.perf_counter()
            for r in [pool.apply_async(_pool_noop) for _ in range(n)]:
                r.get()
            samples.append(rate(n, time.perf_counter() - t0))
            t0 = time.perf_counter()
            pool.map(_pool_noop, range(n))
            mapped.append(rate(n, time.perf_counter() - t0))
    return {
        "tasks_per_s": summary(samples, "1/s", True, n=n, how="apply_async per task"),
        "map_per_s": summary(mapped, "1/s", True, n=n, how="pool.map (chunked)"),
        "start_method": multiprocessing.get_start_method(),
    }
