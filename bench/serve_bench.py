"""Serve on rayground against Ray Serve, in the same run: start-up, handle calls, HTTP, memory.

    python bench/serve_bench.py [--backends rayground,ray] [--quick]
                                [--json bench/results/serve.json] [--md docs/benchmarks.md]

Each backend's workload runs in a fresh process (`serve_bench.py --worker BACKEND`), which:

1. `init(num_cpus=4)` (Ray: dashboard off), then times `serve.start` + `serve.run` of a no-op
   deployment with 2 replicas until its first response through the handle (the cold,
   first-time figure), and `serve.run` of a new application until its first response (warm,
   median of several);
2. after a 2 s settle, sums the PSS (`/proc/PID/smaps_rollup`) of the cluster's processes
   (bench/workloads.py's rule: the driver's descendants and daemons naming the session), with the
   app of 2 idle replicas, and the same before Serve started;
3. handle calls per second to a no-op deployment with 1 and 2 replicas (batches of calls sent
   together, then all results read; median of the batches);
4. HTTP requests per second and p50/p99 latency from a bounded loopback client in the same
   process (httpx.AsyncClient, 8 requests in flight, keep-alive) to the 2-replica app.

The markdown section (appended to, or replacing the "## Serve" section of, --md) and the JSON hold
only numbers measured by this run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------------------- worker
def _cluster_pss_kb(ray, backend: str, before: set[int]) -> tuple[int, int]:
    sys.path.insert(0, str(BENCH))
    import harness as H  # bench/ is not a package

    pids, _ = H.cluster_processes(ray, backend, before)
    total = 0
    for pid in pids:
        mem = H.memory_kb(pid)
        if mem is not None:
            total += mem["Pss"]
    return total, len(pids)


def worker(backend: str, quick: bool) -> dict:
    if backend == "rayground":
        sys.path.insert(0, str(REPO / "runtime"))
        os.environ["PYTHONPATH"] = os.pathsep.join(
            [str(REPO / "runtime"), *filter(None, os.environ.get("PYTHONPATH", "").split(":"))]
        )
    import importlib

    import httpx

    ray = importlib.import_module(backend)
    serve = importlib.import_module(f"{backend}.serve")
    before = {int(p) for p in os.listdir("/proc") if p.isdigit()}
    kwargs: dict = {"num_cpus": 4}
    if backend == "ray":
        kwargs["include_dashboard"] = False
    ray.init(**kwargs)

    @ray.remote
    def warm_up() -> int:
        return 1

    ray.get(warm_up.remote())
    time.sleep(2.0)
    base_kb, base_n = _cluster_pss_kb(ray, backend, before)

    @serve.deployment
    class Noop:
        def __call__(self, *args):
            return "ok"

    out: dict = {
        "backend": backend,
        "version": getattr(ray, "__version__", "?"),
        # The machine's 1-minute load average as this backend started: on a shared machine the
        # HTTP tail follows it more than anything else, so it goes with the figures.
        "load_average_at_start": os.getloadavg()[0],
    }
    port = _free_port()
    t0 = time.perf_counter()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    handle = serve.run(Noop.options(num_replicas=2).bind(), name="bench", route_prefix="/")
    assert handle.remote().result(timeout_s=120) == "ok"
    out["cold_start_s"] = time.perf_counter() - t0

    time.sleep(2.0)
    idle_kb, idle_n = _cluster_pss_kb(ray, backend, before)
    out["memory"] = {
        "cluster_before_serve_mb": base_kb / 1024,
        "processes_before_serve": base_n,
        "cluster_with_app_mb": idle_kb / 1024,
        "processes_with_app": idle_n,
        "serve_added_mb": (idle_kb - base_kb) / 1024,
    }

    warm = []
    for i in range(2 if quick else 5):
        t = time.perf_counter()
        h = serve.run(Noop.bind(), name=f"warm{i}", route_prefix=None)
        assert h.remote().result(timeout_s=120) == "ok"
        warm.append(time.perf_counter() - t)
        serve.delete(f"warm{i}")
    out["warm_start_s"] = {"median": statistics.median(warm), "samples": warm}

    batch = 200 if quick else 500
    for replicas in (1, 2):
        h = serve.run(
            Noop.options(num_replicas=replicas).bind(), name=f"calls{replicas}", route_prefix=None
        )
        [r.result(timeout_s=120) for r in [h.remote() for _ in range(50)]]  # warm-up
        rates = []
        for _ in range(3 if quick else 5):
            t = time.perf_counter()
            responses = [h.remote() for _ in range(batch)]
            for r in responses:
                r.result(timeout_s=120)
            rates.append(batch / (time.perf_counter() - t))
        out[f"handle_calls_per_s_{replicas}_replicas"] = {
            "median": statistics.median(rates),
            "samples": rates,
        }
        serve.delete(f"calls{replicas}")

    total = 200 if quick else 600
    in_flight = 8

    async def http_load() -> tuple[float, list[float]]:
        latencies: list[float] = []
        url = f"http://127.0.0.1:{port}/"
        limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
        async with httpx.AsyncClient(limits=limits, timeout=60) as client:
            for _ in range(40):  # warm-up: connections open, replicas warm
                assert (await client.get(url)).status_code == 200
            remaining = [total]

            async def one_client() -> None:
                while remaining[0] > 0:
                    remaining[0] -= 1
                    t = time.perf_counter()
                    reply = await client.get(url)
                    latencies.append(time.perf_counter() - t)
                    assert reply.status_code == 200 and reply.text == "ok"

            t0 = time.perf_counter()
            await asyncio.gather(*(one_client() for _ in range(in_flight)))
            return time.perf_counter() - t0, latencies

    wall, latencies = asyncio.run(http_load())
    latencies.sort()
    out["http"] = {
        "requests": total,
        "in_flight": in_flight,
        "requests_per_s": total / wall,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }
    serve.shutdown()
    ray.shutdown()
    return out


# ---------------------------------------------------------------------------- runner
def run_backend(backend: str, quick: bool, timeout: float) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", backend]
    if quick:
        cmd.append("--quick")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    except subprocess.TimeoutExpired:
        return {"backend": backend, "error": f"timed out after {timeout:g} s"}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"backend": backend, "error": f"exit {proc.returncode}: {tail}"}
    return json.loads(lines[-1][len("RESULT ") :])


def _ratio(a: float | None, b: float | None) -> str:
    if not a or not b:
        return "–"
    return f"{a / b:.1f}x"


def render(results: dict, command: str) -> str:
    rg, ray = results.get("rayground", {}), results.get("ray", {})

    def get(r: dict, *path: str) -> float | None:
        for key in path:
            if not isinstance(r, dict) or key not in r:
                return None
            r = r[key]
        return r  # type: ignore[return-value]

    def fmt(value: float | None, unit: str, digits: int = 2) -> str:
        return "–" if value is None else f"{value:,.{digits}f} {unit}".strip()

    rows = [
        ("serve.start + serve.run to first response (cold, fresh process)", "cold_start_s",
         "s", 2, False),
        ("serve.run of another app to first response (warm, median)", "warm_start_s.median",
         "s", 3, False),
        ("handle calls/s, no-op, 1 replica (median)", "handle_calls_per_s_1_replicas.median",
         "/s", 0, True),
        ("handle calls/s, no-op, 2 replicas (median)", "handle_calls_per_s_2_replicas.median",
         "/s", 0, True),
        ("HTTP requests/s, 2 replicas, 8 in flight", "http.requests_per_s", "/s", 0, True),
        ("HTTP p50 latency", "http.p50_ms", "ms", 2, False),
        ("HTTP p99 latency", "http.p99_ms", "ms", 2, False),
        ("idle memory, cluster with the 2-replica app (PSS)", "memory.cluster_with_app_mb",
         "MB", 0, False),
        ("idle memory added by Serve and the app (PSS)", "memory.serve_added_mb", "MB", 0,
         False),
    ]  # fmt: skip
    lines = [
        "## Serve",
        "",
        f"Generated by `{command}` on {results['when']}. Every number below was measured by "
        "that run, rayground and Ray Serve one after the other on the same machine, each in a "
        "fresh process (see bench/serve_bench.py for what each figure covers).",
        "",
        f"| measure | rayground | Ray Serve {ray.get('version', '')} | rayground vs Ray |",
        "|---|---:|---:|---:|",
    ]
    for label, path, unit, digits, higher_better in rows:
        a, b = get(rg, *path.split(".")), get(ray, *path.split("."))
        ratio = _ratio(a, b) if higher_better else _ratio(b, a)
        lines.append(f"| {label} | {fmt(a, unit, digits)} | {fmt(b, unit, digits)} | {ratio} |")
    lines += [
        "",
        "The last column is how many times better rayground did (higher throughput, or shorter "
        "time / less memory, as a factor of Ray's).",
    ]
    for name, r in (("rayground", rg), ("Ray Serve", ray)):
        if "error" in r:
            lines.append(f"- {name} failed: {r['error']}")
        elif r:
            warm = ", ".join(f"{s:.3f}" for s in r["warm_start_s"]["samples"])
            load = r.get("load_average_at_start")
            lines.append(
                (
                    f"- {name}: load average {load:.1f} on {os.cpu_count()} CPUs as it started; "
                    if load is not None
                    else f"- {name}: "
                )
                + f"warm starts {warm} s; cluster before Serve "
                f"{r['memory']['cluster_before_serve_mb']:.0f} MB in "
                f"{r['memory']['processes_before_serve']} processes, with the app "
                f"{r['memory']['processes_with_app']} processes."
            )
    return "\n".join(lines) + "\n"


def write_md(path: Path, section: str) -> None:
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    marker = "\n## Serve\n"
    if marker in text:
        head, _, rest = text.partition(marker)
        nxt = rest.find("\n## ")
        tail = rest[nxt:] if nxt != -1 else ""
        text = head.rstrip("\n") + "\n\n" + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--backends", default="rayground,ray")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--json", default="bench/results/serve.json")
    parser.add_argument("--md", default="docs/benchmarks.md")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    if args.worker:
        result = worker(args.worker, args.quick)
        print("RESULT " + json.dumps(result), flush=True)
        return
    results: dict = {"when": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    for backend in args.backends.split(","):
        print(f"running {backend} ...", flush=True)
        results[backend] = run_backend(backend, args.quick, args.timeout)
        print(json.dumps(results[backend], indent=1), flush=True)
    command = "python bench/serve_bench.py " + " ".join(
        a for a in sys.argv[1:] if not a.startswith("--json") and not a.startswith("--md")
    )
    (REPO / args.json).parent.mkdir(parents=True, exist_ok=True)
    (REPO / args.json).write_text(json.dumps(results, indent=2) + "\n")
    write_md(REPO / args.md, render(results, command.strip()))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
