"""How cost grows: rate and memory as the work gets bigger (the "How cost grows" section).

No-op tasks submitted at once at growing counts (rate, and the peak memory of the driver plus
the head, per task in flight); many small objects; many actors created and called once (time and
memory per actor); a deep chain of tasks passing refs; and a long session in batches, after which
the head's memory should be back near where it started.

"The head" is the cluster's control processes, not its workers: rayground's head process (its
workers are forked from it), Ray's gcs_server and raylet. Memory is resident set size
(/proc/PID/statm), sampled every 50 ms by a thread of the driver; the per-task figure is
(peak - before) / tasks.
"""

from __future__ import annotations

import gc
import os
import threading
import time

from harness import Metrics, cluster_processes, memory_kb, proc_table, sizes, start, stop

_PAGE = os.sysconf("SC_PAGE_SIZE")
RAY_HEAD_COMMS = ("gcs_server", "raylet")


def head_pids(ray, backend: str) -> set[int]:
    """The cluster's control processes (see the module's docstring)."""
    pids, _ = cluster_processes(ray, backend, set())
    table = proc_table()
    out = set()
    for pid in pids:
        info = table.get(pid, {})
        if backend == "ray":
            if info.get("comm") in RAY_HEAD_COMMS:
                out.add(pid)
        elif "rayground._core.head" in info.get("cmdline", ""):
            out.add(pid)
    # rayground's workers are forked by its head and keep its command line: the head is the one
    # whose parent is not one of them.
    return {pid for pid in out if table[pid]["ppid"] not in out}


def rss(pids: set[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * _PAGE
        except (OSError, ValueError, IndexError):
            pass
    return total


class PeakMemory:
    """The highest summed RSS of `pids` while the `with` block runs (sampled every 50 ms)."""

    def __init__(self, pids: set[int]) -> None:
        self.pids = pids
        self.before = rss(pids)
        self.peak = self.before
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, rss(self.pids))

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss(self.pids))


def _settle(seconds: float = 2.0) -> None:
    gc.collect()
    time.sleep(seconds)  # let the head free what was released


def w_cost_curve(ray, backend):
    """The cost curve: see the module docstring. --quick runs smaller counts."""
    counts = sizes((10_000, 100_000), (10_000,))
    n_objects = sizes(100_000, 20_000)
    # Ray's actors are processes of ~100 MB each, so Ray creates fewer and the rows compare time
    # and memory per actor. rayground's 1,000 did not fit either on this shared 23 GB machine
    # once the head had grown (the actors are forked from it: see `actors` below), hence 200.
    n_actors = sizes(200, 50) if backend == "rayground" else sizes(40, 10)
    depth = sizes(10_000, 1000)
    batches, batch = sizes((20, 10_000), (5, 2000))

    @ray.remote
    def noop(*_):
        return None

    @ray.remote
    class Counter:
        def ping(self):
            return 1

    start(ray, backend)
    ray.get([noop.remote() for _ in range(100)])  # workers up, the function exported
    watched = head_pids(ray, backend) | {os.getpid()}
    _settle()
    idle = rss(watched)
    heads = head_pids(ray, backend)
    head_idle = rss(heads)
    m = Metrics()
    m["watched_processes"] = len(watched)
    m["idle_rss"] = idle

    def actors() -> dict:
        # First, in the fresh cluster: measured after 100k tasks, rayground's actors were
        # forked from a head of ~375 MB and each copied much of it (the machine ran out).
        before = cluster_processes(ray, backend, set())[0]
        pss_before = sum((memory_kb(p) or {}).get("Pss", 0) for p in before) * 1024
        t0 = time.perf_counter()
        handles = [Counter.remote() for _ in range(n_actors)]
        assert sum(ray.get([h.ping.remote() for h in handles])) == n_actors
        dt = time.perf_counter() - t0
        after = cluster_processes(ray, backend, set())[0]
        pss_after = sum((memory_kb(p) or {}).get("Pss", 0) for p in after) * 1024
        for h in handles:
            ray.kill(h)
        del handles
        _settle(3.0)
        return {
            "n": n_actors,
            "seconds": dt,
            "seconds_per_actor": dt / n_actors,
            "pss_per_actor": (pss_after - pss_before) / n_actors,
        }

    m.measure("actors", actors)

    def tasks(n: int) -> dict:
        with PeakMemory(watched) as mem:
            t0 = time.perf_counter()
            refs = [noop.remote() for _ in range(n)]
            ray.get(refs)
            dt = time.perf_counter() - t0
        del refs
        _settle()
        return {
            "n": n,
            "tasks_per_s": n / dt,
            "peak_rss": mem.peak,
            "bytes_per_task": (mem.peak - mem.before) / n,
        }

    for n in counts:
        m.measure(f"tasks_{n}", lambda n=n: tasks(n))

    def objects() -> dict:
        with PeakMemory(watched) as mem:
            t0 = time.perf_counter()
            refs = [ray.put(i) for i in range(n_objects)]
            put_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            values = ray.get(refs)
            get_s = time.perf_counter() - t0
        assert values == list(range(n_objects))
        del refs, values
        _settle()
        return {
            "n": n_objects,
            "put_per_s": n_objects / put_s,
            "get_per_s": n_objects / get_s,
            "bytes_per_object": (mem.peak - mem.before) / n_objects,
        }

    m.measure("small_objects", objects)

    def chain() -> dict:
        t0 = time.perf_counter()
        ref = noop.remote()
        for _ in range(depth - 1):
            ref = noop.remote(ref)
        ray.get(ref)
        dt = time.perf_counter() - t0
        del ref
        _settle()
        return {"n": depth, "seconds": dt, "tasks_per_s": depth / dt}

    m.measure("chain", chain)

    def session() -> dict:
        with PeakMemory(heads) as mem:
            t0 = time.perf_counter()
            for _ in range(batches):
                ray.get([noop.remote() for _ in range(batch)])
            dt = time.perf_counter() - t0
        _settle(3.0)
        after = rss(heads)
        return {
            "n": batches * batch,
            "tasks_per_s": batches * batch / dt,
            "head_idle_rss": head_idle,
            "head_peak_rss": mem.peak,
            "head_after_rss": after,
            "head_after_over_idle": after / head_idle if head_idle else None,
        }

    m.measure("session", session)
    stop(ray)
    return dict(m)
