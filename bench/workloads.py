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
import gc
import importlib
import json
import os
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np

MARK = "BENCH_RESULT "
REPO = Path(__file__).resolve().parent.parent
RUNTIME = REPO / "runtime"

QUICK = "--quick" in sys.argv
MB = 10**6  # sizes and bandwidths are decimal: 1 MB = 10**6 bytes, 1 GB = 10**9 bytes
GB = 10**9


def sizes(full, quick):
    return quick if QUICK else full


# --------------------------------------------------------------------------------------------------
# Backends


def load_backend(name: str):
    """Import the backend. rayground is taken from this checkout's runtime/ (and its workers find it
    there too, through PYTHONPATH), so the working tree is what gets measured."""
    if name == "rayground":
        sys.path.insert(0, str(RUNTIME))
        old = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = str(RUNTIME) + (os.pathsep + old if old else "")
    return importlib.import_module(name)


def init_kwargs(backend: str, **extra) -> dict:
    """The arguments every workload passes to ``init``. Ray's dashboard is turned off: it is an
    optional web UI that rayground does not start. Everything else is left at its default."""
    kwargs: dict = {"num_cpus": 2}
    if backend == "ray":
        kwargs["include_dashboard"] = False
    kwargs.update(extra)
    return kwargs


def start(ray, backend: str, **extra) -> None:
    ray.init(**init_kwargs(backend, **extra))


def stop(ray) -> None:
    with contextlib.suppress(Exception):
        ray.shutdown()


# --------------------------------------------------------------------------------------------------
# Statistics


def summary(samples: list[float], unit: str, higher_is_better: bool, **info) -> dict:
    best = max(samples) if higher_is_better else min(samples)
    out = {
        "median": statistics.median(samples),
        "best": best,
        "samples": samples,
        "unit": unit,
        "higher_is_better": higher_is_better,
    }
    out.update(info)
    return out


def rate(n: int, seconds: float) -> float:
    return n / seconds


class Metrics(dict):
    """Collects metrics; a measurement that raises is recorded as an error under its own name."""

    def measure(self, name: str, fn: Callable[[], dict]) -> None:
        try:
            self[name] = fn()
        except Exception as exc:
            self[name] = {"error": last_line(exc), "traceback": traceback.format_exc()}


def last_line(exc: BaseException) -> str:
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()
    return text[-1] if text else type(exc).__name__


# --------------------------------------------------------------------------------------------------
# Process discovery and memory (Linux /proc)


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def proc_table() -> dict[int, dict]:
    """pid -> {ppid, cmdline, comm} for every process we can see."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _read(f"/proc/{entry}/stat")
        if stat is None:
            continue
        comm = stat[stat.find("(") + 1 : stat.rfind(")")]
        ppid = int(stat[stat.rfind(")") + 2 :].split()[1])
        cmd = (_read(f"/proc/{entry}/cmdline") or "").replace("\0", " ").strip()
        table[int(entry)] = {"ppid": ppid, "cmdline": cmd, "comm": comm}
    return table


def descendants(root: int, table: dict[int, dict]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, info in table.items():
        children.setdefault(info["ppid"], []).append(pid)
    out: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def memory_kb(pid: int) -> dict[str, int] | None:
    """Pss and Rss in kB from /proc/PID/smaps_rollup (None if the process is gone)."""
    text = _read(f"/proc/{pid}/smaps_rollup")
    if text is None:
        return None
    out = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("Pss", "Rss", "Pss_Shmem", "Pss_Anon", "Pss_File"):
            out[key] = int(rest.split()[0])
    return out if "Pss" in out else None


def session_dir(ray) -> str | None:
    """Ray's session directory, which every one of its daemons names on its command line."""
    with contextlib.suppress(Exception):
        return ray._private.worker.global_worker.node.get_session_dir_path()
    return None


def cluster_processes(ray, backend: str, before: set[int]) -> tuple[set[int], dict[int, str]]:
    """The processes that make up the cluster, with the reason each was counted.

    1. every descendant of this (driver) process: Ray 2.x starts gcs_server, raylet and its helper
       daemons as children of the driver, and the raylet forks the workers;
    2. processes that name the backend's session directory on their command line (a daemon that
       detached from the driver still names it), and their descendants;
    3. processes that appeared after ``before`` was taken, were re-parented to init or to a
       subreaper above the driver (daemonized) and mention the backend's name, and their
       descendants.
    """
    me = os.getpid()
    table = proc_table()
    # where an orphan lands: init, or a child subreaper among our ancestors (bench/run.py is one)
    ancestors = {1}
    pid = me
    while pid in table and pid > 1:
        pid = table[pid]["ppid"]
        ancestors.add(pid)
    found: dict[int, str] = dict.fromkeys(descendants(me, table), "descendant of the driver")
    sdir = session_dir(ray)
    for pid, info in table.items():
        if pid == me or pid in found:
            continue
        why = None
        if sdir and sdir in info["cmdline"]:
            why = "names the session directory"
        elif pid not in before and info["ppid"] in ancestors and backend in info["cmdline"]:
            why = "daemon started during the run"
        if why:
            found[pid] = why
            for d in descendants(pid, table):
                found.setdefault(d, f"descendant of {pid} ({why})")
    return set(found), found


def shm_used() -> int | None:
    with contextlib.suppress(OSError):
        st = os.statvfs("/dev/shm")
        return (st.f_blocks - st.f_bfree) * st.f_frsize
    return None


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


# --------------------------------------------------------------------------------------------------
# Reference points without a cluster


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
    "eight_readers": w_eight_readers,
    "sleep_tasks": w_sleep_tasks,
    "wait_1000": w_wait_1000,
}

REFERENCE: dict[str, Callable] = {
    "numpy_copy": r_numpy_copy,
    "pool_noop_sync": r_pool_noop_sync,
    "pool_noop_batch": r_pool_noop_batch,
}

# What bench/run.py runs, in order (startup_once and probe are its helpers).
BACKEND_WORKLOADS = [w for w in WORKLOADS if w not in ("probe", "startup_once")]
REFERENCE_WORKLOADS = list(REFERENCE)


# --------------------------------------------------------------------------------------------------
# Plumbing


def tail(text: str | None) -> str:
    lines = [ln for ln in (text or "").strip().splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


def parse_result(stdout: str) -> dict | None:
    for line in reversed((stdout or "").splitlines()):
        if line.startswith(MARK):
            try:
                return json.loads(line[len(MARK) :])
            except ValueError:
                return None
    return None


def emit(result: dict) -> None:
    sys.stdout.flush()
    print(MARK + json.dumps(result, default=str), flush=True)


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
