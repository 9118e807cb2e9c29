"""Object workloads: small objects, put and get of large arrays, eight tasks reading one array."""

from __future__ import annotations

import gc
import time

import numpy as np

from harness import GB, MB, Metrics, rate, sizes, start, stop, summary


def w_small_objects(ray, backend):
    """put and get of a small object (the int 123) from the driver."""
    n, reps = sizes((5000, 5), (500, 2))
    start(ray, backend)
    m = Metrics()

    def puts():
        for _ in range(500):
            ray.put(123)
        samples = []
        for _ in range(reps):
            refs = []
            t0 = time.perf_counter()
            for _ in range(n):
                refs.append(ray.put(123))
            samples.append(rate(n, time.perf_counter() - t0))
            del refs
        return summary(samples, "1/s", True, n=n)

    def gets():
        ref = ray.put(123)
        for _ in range(500):
            ray.get(ref)
        samples = []
        for _ in range(reps):
            t0 = time.perf_counter()
            for _ in range(n):
                assert ray.get(ref) == 123
            samples.append(rate(n, time.perf_counter() - t0))
        return summary(samples, "1/s", True, n=n)

    def round_trips():
        samples = []
        for _ in range(reps):
            t0 = time.perf_counter()
            for _ in range(n):
                ray.get(ray.put(123))
            samples.append(rate(n, time.perf_counter() - t0))
        return summary(samples, "1/s", True, n=n)

    m.measure("put_per_s", puts)
    m.measure("get_per_s", gets)
    m.measure("put_get_per_s", round_trips)
    stop(ray)
    return dict(m)


def _settle():
    gc.collect()
    time.sleep(0.3)  # let the object store free what was released


def _put_get(ray, nbytes: int, reps: int) -> dict:
    arr = np.arange(nbytes // 8, dtype=np.float64)  # every page touched before the clock starts
    put_s, get_s = [], []
    flags = {}
    for i in range(reps + 1):  # the first put is a warm-up (and reported on its own)
        t0 = time.perf_counter()
        ref = ray.put(arr)
        t1 = time.perf_counter()
        out = ray.get(ref)
        t2 = time.perf_counter()
        if i == 0:
            first_put = t1 - t0
            first_get = t2 - t1
            flags = {
                "get_returns_writeable": bool(out.flags.writeable),
                "get_returns_own_data": bool(out.flags.owndata),
                "get_value_correct": bool(out.shape == arr.shape and out[-1] == arr[-1]),
            }
        else:
            put_s.append(t1 - t0)
            get_s.append(t2 - t1)
        del out, ref
        _settle()
    del arr
    gc.collect()
    return {
        "put_bandwidth": summary(
            [nbytes / s for s in put_s], "B/s", True, first=nbytes / first_put, nbytes=nbytes
        ),
        "put_time": summary(put_s, "s", False, first=first_put),
        "get_time": summary(get_s, "s", False, first=first_get),
        **flags,
    }


def w_put_get_large(ray, backend):
    """put bandwidth and get time of 100 MB and 1 GB float64 arrays (get alone is timed).
    In --quick mode the "large" array is 200 MB."""
    reps = sizes(5, 2)
    # A 100 MB put takes ~10 ms and this machine's memory bandwidth swings by a third from one
    # to the next (both backends alike): more samples keep its median steady for little time.
    small_reps = sizes(11, 2)
    big = sizes(GB, 200 * MB)
    start(ray, backend, object_store_memory=3 * 1024**3)
    m = Metrics()
    m.measure("100MB", lambda: _put_get(ray, 100 * MB, small_reps))
    _settle()
    m.measure("large", lambda: _put_get(ray, big, reps))
    stop(ray)
    return dict(m)


def w_eight_readers(ray, backend):
    """Eight tasks, each summing the same put array (400 MB), on 2 CPUs: wall time."""
    # A round takes ~0.15 s and varies by ±20% with the memory bandwidth of the moment (two
    # readers that run in step share the cache; two out of step do not): 15 rounds, not 5.
    nbytes, reps = sizes((400 * MB, 15), (40 * MB, 2))
    arr = np.arange(nbytes // 8, dtype=np.float64)
    expected = float(arr.sum())
    local = []
    for _ in range(3):
        t0 = time.perf_counter()
        arr.sum()
        local.append(time.perf_counter() - t0)

    @ray.remote
    def total(a):
        return float(a.sum())

    start(ray, backend, object_store_memory=3 * 1024**3)
    ref = ray.put(arr)
    del arr
    gc.collect()
    samples = []
    first = None
    for i in range(reps + 1):  # the first round is a warm-up (and reported on its own)
        t0 = time.perf_counter()
        results = ray.get([total.remote(ref) for _ in range(8)])
        dt = time.perf_counter() - t0
        assert all(r == expected for r in results), results
        if i == 0:
            first = dt
        else:
            samples.append(dt)
    del ref
    stop(ray)
    return {
        "wall": summary(samples, "s", False, first=first, nbytes=nbytes),
        # 8 sums on 2 CPUs with no overhead at all take 4 times one sum in this process
        "ideal_s": 4 * min(local),
        "local_sum_s": min(local),
    }
