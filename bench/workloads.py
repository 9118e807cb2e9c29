"""One benchmark workload, run in a fresh process: ``python bench/workloads.py BACKEND WORKLOAD``.

BACKEND is the name of a module with Ray Core's API (``rayground`` or ``ray``), or ``reference``
for the baselines that use no cluster at all (``multiprocessing.Pool`` and a NumPy copy).

The process prints exactly one line that starts with ``BENCH_RESULT `` and carries a JSON object:
``{"ok": true, "metrics": {...}}`` or ``{"ok": false, "error": "<last line>", "traceback": ...}``.
Everything else on stdout and stderr (the backends' own logging) is ignored by ``bench/run.py``.

Every workload starts its own cluster with ``init(num_cpus=2)`` (the start-up workload times that
call itself), warms up, repeats the measurement and reports every sample with its median and best.
A measurement that fails inside a workload is reported on its own, next to the ones that worked.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable

import numpy as np

from cold import w_cold_objects
from harness import (
    QUICK,
    Metrics,
    cluster_processes,
    init_kwargs,
    last_line,
    load_backend,
    memory_kb,
    proc_table,
    rate,
    shm_used,
    sizes,
    start,
    stop,
    summary,
)
from objects import (
    w_eight_readers,
    w_put_get_large,
    w_small_objects,
)
from reference import (
    r_numpy_copy,
    r_pool_noop_batch,
    r_pool_noop_sync,
)
from result_line import (
    emit,
    parse_result,
    tail,
)
from scale import w_cost_curve

# --------------------------------------------------------------------------------------------------
# Workloads with a cluster. Each takes (ray, backend) and returns a dict of metrics.


def w_probe(ray, backend):
    """Import only: which module and version would be measured."""
    version = getattr(ray, "__version__", None)
    return {
        "version": version,
        "module_file": getattr(ray, "__file__", None),
        "has_init": hasattr(ray, "init"),
        "python": sys.executable,
        "python_version": sys.version.split()[0],
        "numpy": np.__version__,
    }


def w_startup_once(ray, backend):
    """One cold start in this fresh process: init() until the first task's result is back."""

    @ray.remote
    def one():
        return 1

    t0 = time.perf_counter()
    start(ray, backend)
    t1 = time.perf_counter()
    assert ray.get(one.remote()) == 1
    t2 = time.perf_counter()
    stop(ray)
    t3 = time.perf_counter()
    return {"init_s": t1 - t0, "first_result_s": t2 - t0, "shutdown_s": t3 - t2}


SAMPLE_TIMEOUT = 120  # seconds one start-up sample may take


def w_startup(ray, backend):
    """Start-up needs a cold process per sample, so each sample is a fresh child process (the
    import is done before the clock starts and reported separately)."""
    warmups, reps = sizes((1, 5), (1, 2))
    samples = []
    for i in range(warmups + reps):
        args = [sys.executable, __file__, backend, "startup_once"] + (["--quick"] if QUICK else [])
        t0 = time.perf_counter()
        # a session of its own, so that a sample that hangs can be stopped with all it started
        proc = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            stdout, stderr = proc.communicate(timeout=SAMPLE_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)
            proc.communicate()
            raise RuntimeError(
                f"start-up sample {i}: no result after {SAMPLE_TIMEOUT} s (init or the first "
                "task hangs)"
            ) from None
        total = time.perf_counter() - t0
        result = parse_result(stdout)
        if result is None or not result.get("ok"):
            msg = (result or {}).get("error") or tail(stderr) or f"exit {proc.returncode}"
            raise RuntimeError(f"start-up sample {i}: {msg}")
        m = result["metrics"]["run"]
        m["process_s"] = total
        m["import_s"] = result.get("import_s")
        if i >= warmups:
            samples.append(m)

    def col(key):
        return [s[key] for s in samples]

    return {
        "first_result": summary(col("first_result_s"), "s", False),
        "init": summary(col("init_s"), "s", False),
        "import": summary(col("import_s"), "s", False),
        "shutdown": summary(col("shutdown_s"), "s", False),
        "whole_process": summary(col("process_s"), "s", False),
    }


def w_idle_memory(ray, backend):
    """PSS of every cluster process, idle, after init and one task and a 2 s settle."""
    before = set(proc_table())
    shm0 = shm_used()

    @ray.remote
    def one():
        return 1

    start(ray, backend)
    assert ray.get(one.remote()) == 1
    time.sleep(2.0)
    samples = []
    for k in range(3):
        if k:
            time.sleep(0.5)
        pids, why = cluster_processes(ray, backend, before)
        procs = []
        for pid in sorted(pids):
            mem = memory_kb(pid)
            if mem is None:
                continue
            info = proc_table().get(pid, {})
            procs.append(
                {
                    "pid": pid,
                    "comm": info.get("comm", "?"),
                    "cmdline": info.get("cmdline", "")[:160],
                    "why": why[pid],
                    **mem,
                }
            )
        samples.append(procs)
    driver = memory_kb(os.getpid()) or {}
    shm1 = shm_used()
    totals = [sum(p["Pss"] for p in procs) * 1024 for procs in samples]
    rss = [sum(p["Rss"] for p in procs) * 1024 for procs in samples]
    last = samples[-1]
    stop(ray)
    return {
        "pss_total": summary(totals, "bytes", False),
        "rss_total": summary(rss, "bytes", False),
        "process_count": len(last),
        "driver_pss_bytes": driver.get("Pss", 0) * 1024,
        "driver_rss_bytes": driver.get("Rss", 0) * 1024,
        "dev_shm_growth_bytes": (shm1 - shm0) if shm0 is not None and shm1 is not None else None,
        "processes": last,
    }


def w_noop_sync(ray, backend):
    n, reps = sizes((2000, 5), (200, 2))

    @ray.remote
    def noop():
        return None

    start(ray, backend)
    ray.get([noop.remote() for _ in range(200)])
    for _ in range(200):
        ray.get(noop.remote())
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(n):
            ray.get(noop.remote())
        samples.append(rate(n, time.perf_counter() - t0))
    stop(ray)
    return {"tasks_per_s": summary(samples, "1/s", True, n=n)}


def w_noop_batch(ray, backend):
    n, reps = sizes((10_000, 5), (1000, 2))

    @ray.remote
    def noop():
        return None

    start(ray, backend)
    ray.get([noop.remote() for _ in range(1000)])
    samples, submit = [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        refs = [noop.remote() for _ in range(n)]
        t1 = time.perf_counter()
        ray.get(refs)
        t2 = time.perf_counter()
        samples.append(rate(n, t2 - t0))
        submit.append(rate(n, t1 - t0))
        del refs
    stop(ray)
    return {
        "tasks_per_s": summary(samples, "1/s", True, n=n),
        "submit_per_s": summary(submit, "1/s", True, n=n),
    }


def _actor_class(ray, asyncio_actor: bool):
    if asyncio_actor:

        @ray.remote
        class AsyncNoop:
            async def noop(self):
                return None

        return AsyncNoop

    @ray.remote
    class Noop:
        def noop(self):
            return None

    return Noop


def _actor_sync(ray, actor, n, reps):
    for _ in range(200):
        ray.get(actor.noop.remote())
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(n):
            ray.get(actor.noop.remote())
        samples.append(rate(n, time.perf_counter() - t0))
    return summary(samples, "1/s", True, n=n)


def _actor_batch(ray, actor, n, reps):
    ray.get([actor.noop.remote() for _ in range(1000)])
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        ray.get([actor.noop.remote() for _ in range(n)])
        samples.append(rate(n, time.perf_counter() - t0))
    return summary(samples, "1/s", True, n=n)


def w_actor_sync(ray, backend):
    """Calls on one actor, each waited for before the next is made."""
    n, reps = sizes((2000, 5), (200, 2))
    start(ray, backend)
    actor = _actor_class(ray, False).remote()
    out = {"calls_per_s": _actor_sync(ray, actor, n, reps)}
    stop(ray)
    return out


def w_actor_async(ray, backend):
    """Calls on one actor, n submitted at once, then all results fetched."""
    n, reps = sizes((5000, 5), (500, 2))
    start(ray, backend)
    actor = _actor_class(ray, False).remote()
    out = {"calls_per_s": _actor_batch(ray, actor, n, reps)}
    stop(ray)
    return out


def w_asyncio_actor(ray, backend):
    """An actor whose method is ``async def``: one call at a time, and n submitted at once."""
    n_sync, n_batch, reps = sizes((2000, 5000, 3), (200, 500, 2))
    start(ray, backend)
    actor = _actor_class(ray, True).remote()
    m = Metrics()
    m.measure("sync_calls_per_s", lambda: _actor_sync(ray, actor, n_sync, reps))
    m.measure("batch_calls_per_s", lambda: _actor_batch(ray, actor, n_batch, reps))
    stop(ray)
    return dict(m)


def w_sleep_tasks(ray, backend):
    """100 tasks of time.sleep(0.05) on 2 CPUs; the ideal is 100 * 0.05 / 2 = 2.5 s."""
    reps = sizes(3, 1)

    @ray.remote
    def nap():
        time.sleep(0.05)

    @ray.remote
    def noop():
        return None

    start(ray, backend)
    ray.get([noop.remote() for _ in range(20)])
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        ray.get([nap.remote() for _ in range(100)])
        samples.append(time.perf_counter() - t0)
    stop(ray)
    return {"wall": summary(samples, "s", False, ideal_s=2.5)}


def w_wait_1000(ray, backend):
    """ray.wait over 1,000 refs of no-op tasks."""
    n = 1000
    reps = sizes(5, 2)

    @ray.remote
    def noop():
        return None

    start(ray, backend)
    ray.get([noop.remote() for _ in range(n)])
    m = Metrics()

    def submit_and_wait():
        total, wait_only = [], []
        for _ in range(reps):
            t0 = time.perf_counter()
            refs = [noop.remote() for _ in range(n)]
            t1 = time.perf_counter()
            ready, rest = ray.wait(refs, num_returns=n, timeout=60)
            t2 = time.perf_counter()
            assert len(ready) == n and not rest, (len(ready), len(rest))
            total.append(t2 - t0)
            wait_only.append(t2 - t1)
        return {
            "total": summary(total, "s", False, n=n),
            "wait_part": summary(wait_only, "s", False, n=n),
        }

    def wait_on_ready():
        refs = [noop.remote() for _ in range(n)]
        ray.get(refs)
        samples = []
        for _ in range(reps):
            t0 = time.perf_counter()
            ready, _ = ray.wait(refs, num_returns=n, timeout=60)
            samples.append(time.perf_counter() - t0)
            assert len(ready) == n
        return summary(samples, "s", False, n=n)

    def drain_one_by_one():
        samples = []
        for _ in range(reps):
            t0 = time.perf_counter()
            refs = [noop.remote() for _ in range(n)]
            count = 0
            while refs:
                ready, refs = ray.wait(refs, num_returns=1, timeout=60)
                count += len(ready)
            samples.append(time.perf_counter() - t0)
            assert count == n
        return summary(samples, "s", False, n=n)

    m.measure("submit_and_wait", submit_and_wait)
    m.measure("wait_all_ready", wait_on_ready)
    m.measure("drain_num_returns_1", drain_one_by_one)
    stop(ray)
    return dict(m)


WORKLOADS: dict[str, Callable] = {
    "probe": w_probe,
    "startup_once": w_startup_once,
    "startup": w_startup,
    "idle_memory": w_idle_memory,
    "noop_sync": w_noop_sync,
    "noop_batch": w_noop_batch,
    "actor_sync": w_actor_sync,
    "actor_async": w_actor_async,
    "asyncio_actor": w_asyncio_actor,
    "small_objects": w_small_objects,
    "put_get_large": w_put_get_large,
    "cold_objects": w_cold_objects,
    "eight_readers": w_eight_readers,
    "sleep_tasks": w_sleep_tasks,
    "wait_1000": w_wait_1000,
    "cost_curve": w_cost_curve,
}

REFERENCE: dict[str, Callable] = {
    "numpy_copy": r_numpy_copy,
    "pool_noop_sync": r_pool_noop_sync,
    "pool_noop_batch": r_pool_noop_batch,
}

# What bench/run.py runs, in order (startup_once and probe are its helpers).
BACKEND_WORKLOADS = [w for w in WORKLOADS if w not in ("probe", "startup_once")]
REFERENCE_WORKLOADS = list(REFERENCE)


def main(argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("--")]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    backend, workload = args
    try:
        if backend == "reference":
            metrics = REFERENCE[workload]()
            emit({"ok": True, "metrics": metrics})
            return 0
        fn = WORKLOADS[workload]
        t0 = time.perf_counter()
        try:
            ray = load_backend(backend)
        except ModuleNotFoundError as exc:
            if exc.name == backend:
                emit({"ok": False, "not_installed": True, "error": last_line(exc)})
                return 1
            raise
        import_s = time.perf_counter() - t0
        metrics = fn(ray, backend)
        emit(
            {
                "ok": True,
                "import_s": import_s,
                "metrics": metrics if workload != "startup_once" else {"run": metrics},
                "init_kwargs": init_kwargs(backend),
            }
        )
        return 0
    except BaseException as exc:
        emit({"ok": False, "error": last_line(exc), "traceback": traceback.format_exc()})
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
