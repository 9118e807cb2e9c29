"""rayground.data against Ray Data in the same run: four pipelines, each backend in a fresh process.

    python bench/data_bench.py [--backends rayground,ray] [--reps 5] [--parquet-mb 96]
                               [--json bench/results/data.json] [--md docs/benchmarks.md]

Workloads (every one on a 2-CPU cluster):

* ``small``: 1,000 rows: from_items -> map_batches -> filter -> take_all (the fixed overhead a
  learner feels on every cell);
* ``parquet``: a directory of Parquet files (``--parquet-mb`` in all, 8 files; 1 GB is too much
  for a shared 2-core box) -> map_batches -> filter -> write_parquet; throughput in MB/s;
* ``stream``: 100 blocks of 4 MB (400 MB) through a 128 MB object store with iter_batches;
* ``actors``: a callable class on a pool of 2 actors over 4,000 rows in batches of 100.

For each workload the child process initialises the backend, runs the pipeline once (the cold,
first-time figure: imports, worker start-up, first task), then ``--reps`` more times (warm; the
median is reported). The parent samples the resident memory (RSS) of the child and all its
descendants every 50 ms and reports the peak. Nothing is written by hand: the JSON and the
markdown section come from this run's measurements.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKLOADS = ["small", "parquet", "stream", "actors"]
MB = 1024 * 1024


# ---- child side --------------------------------------------------------------------------


def _init(backend: str, store_mb: int | None):
    if backend == "rayground":
        sys.path.insert(0, str(ROOT / "runtime"))
        import rayground as ray
    else:
        import ray
    kwargs: dict = {"num_cpus": 2}
    if store_mb:
        kwargs["object_store_memory"] = store_mb * MB
    if backend == "ray":
        kwargs.update(include_dashboard=False, log_to_driver=False)
    ray.init(**kwargs)
    ray.data.DataContext.get_current().enable_progress_bars = False
    return ray


def _small(ray, _args):
    import numpy as np

    items = [{"x": i, "y": float(i) / 3} for i in range(1000)]

    def scale(batch):
        return {"x": batch["x"], "y": batch["y"] * np.float64(2.0)}

    def run():
        rows = ray.data.from_items(items).map_batches(scale).filter(lambda r: r["x"] % 2 == 0)
        out = rows.take_all()
        assert len(out) == 500
        return 0

    return run


def _make_parquet(path: str, total_mb: int) -> int:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    os.makedirs(path, exist_ok=True)
    rows = total_mb * MB // 8 // 4 // 8  # 4 float64 columns, 8 files
    rng = np.random.default_rng(0)
    for i in range(8):
        cols = {f"c{j}": rng.random(rows) for j in range(4)}
        pq.write_table(pa.table(cols), os.path.join(path, f"part-{i}.parquet"))
    return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))


def _parquet(ray, args):
    src = os.path.join(args.workdir, "src")
    nbytes = _make_parquet(src, args.parquet_mb)
    counter = iter(range(1_000_000))

    def add(batch):
        batch["s"] = batch["c0"] + batch["c1"]
        return batch

    def run():
        out = os.path.join(args.workdir, f"out-{next(counter)}")
        ds = ray.data.read_parquet(src).map_batches(add).filter(lambda r: r["c2"] > 0.5)
        ds.write_parquet(out)
        return nbytes

    return run


def _stream(ray, _args):
    import numpy as np

    def big(batch):
        n = len(batch["id"])
        return {"id": batch["id"], "x": np.ones((n, 512 * 1024))}

    def run():
        total = 0
        ds = ray.data.range(100, override_num_blocks=100).map_batches(big)
        for batch in ds.iter_batches(batch_size=None):
            total += batch["x"].nbytes
        assert total == 100 * 4 * MB
        return total

    return run


def _actors(ray, _args):
    import numpy as np

    class Model:
        def __init__(self):
            self.w = np.arange(8, dtype=np.float64)

        def __call__(self, batch):
            return {"id": batch["id"], "score": batch["id"] * self.w.sum()}

    def run():
        ds = ray.data.range(4000).map_batches(Model, concurrency=2, batch_size=100, num_cpus=0.5)
        assert ds.count() == 4000
        return 0

    return run


def child(args) -> None:
    store = {"stream": 128}.get(args.workload)
    t0 = time.perf_counter()
    ray = _init(args.backend, store)
    init_s = time.perf_counter() - t0
    run = {"small": _small, "parquet": _parquet, "stream": _stream, "actors": _actors}[
        args.workload
    ](ray, args)
    t0 = time.perf_counter()
    nbytes = run()
    cold = time.perf_counter() - t0
    warm = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        run()
        warm.append(time.perf_counter() - t0)
    ray.shutdown()
    print(json.dumps({"init_s": init_s, "cold_s": cold, "warm_s": warm, "bytes": nbytes}))


# ---- parent side -------------------------------------------------------------------------


def _tree_rss(pid: int) -> int:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def measure(backend: str, workload: str, args) -> dict:
    with tempfile.TemporaryDirectory(prefix="data-bench-") as work:
        cmd = [
            sys.executable, __file__, "--child", backend, workload, "--reps", str(args.reps),
            "--parquet-mb", str(args.parquet_mb), "--workdir", work,
        ]  # fmt: skip
        env = dict(os.environ)
        if backend == "rayground":  # workers import this checkout's rayground too
            env["PYTHONPATH"] = os.pathsep.join(
                [str(ROOT / "runtime"), *filter(None, [env.get("PYTHONPATH")])]
            )
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        peak = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _tree_rss(proc.pid))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            out, err = proc.communicate(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            return {"error": f"timed out after {args.timeout}s"}
        finally:
            done.set()
            sampler.join()
        if proc.returncode != 0:
            return {"error": (err.strip().splitlines() or ["?"])[-1][:300]}
        result = json.loads(out.strip().splitlines()[-1])
        result["peak_rss_mb"] = peak / MB
        result["warm_median_s"] = statistics.median(result["warm_s"])
        return result


def render(results: dict, meta: dict) -> str:
    lines = [
        "## Data",
        "",
        f"`python bench/data_bench.py` on {meta['date']} ({meta['machine']}, {meta['cpus']} "
        f"cores), {meta['reps']} warm runs each after one cold run, each backend and workload in "
        "a fresh process on a 2-CPU cluster; Ray " + str(meta.get("ray_version")) + ". "
        "Cold = the first run of the pipeline after `init` (workers start, first tasks); warm = "
        "median of the next runs. Peak = the highest resident memory (RSS) of the driver and "
        "every process it started, sampled every 50 ms. Ratios are Ray / rayground (above 1: "
        "rayground is faster or smaller). The machine is shared and this script does not wait "
        "for it to be idle (bench/run.py does): other work inflates both backends' times, and "
        "the two run one after the other, so read the ratios as rough.",
        "",
        "| workload | rayground cold | rayground warm | Ray cold | Ray warm | warm ratio | "
        "throughput (rg / Ray) | peak RSS (rg / Ray) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for w in WORKLOADS:
        rg, ry = results.get("rayground", {}).get(w, {}), results.get("ray", {}).get(w, {})
        if "error" in rg or "error" in ry or not rg or not ry:
            lines.append(f"| {w} | {rg.get('error', '')} | | {ry.get('error', '')} | | | | |")
            continue
        ratio = ry["warm_median_s"] / rg["warm_median_s"]
        tput = "-"
        if rg["bytes"]:
            tput = (
                f"{rg['bytes'] / MB / rg['warm_median_s']:.0f} / "
                f"{ry['bytes'] / MB / ry['warm_median_s']:.0f} MB/s"
            )
        lines.append(
            f"| {w} | {rg['cold_s'] * 1e3:.0f} ms | {rg['warm_median_s'] * 1e3:.0f} ms | "
            f"{ry['cold_s'] * 1e3:.0f} ms | {ry['warm_median_s'] * 1e3:.0f} ms | "
            f"{ratio:.1f}x | {tput} | {rg['peak_rss_mb']:.0f} / {ry['peak_rss_mb']:.0f} MB |"
        )
    lines.append("")
    return "\n".join(lines)


def write_section(md_path: Path, section: str) -> None:
    text = md_path.read_text() if md_path.exists() else ""
    marker = "\n## Data\n"
    if marker in text:
        text = text[: text.index(marker)]
    md_path.write_text(text.rstrip("\n") + "\n\n" + section)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", nargs=2, metavar=("BACKEND", "WORKLOAD"))
    ap.add_argument("--backends", default="rayground,ray")
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--parquet-mb", type=int, default=96)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--json", default="bench/results/data.json")
    ap.add_argument("--md", default="docs/benchmarks.md")
    ap.add_argument("--render", metavar="JSON", help="rewrite the markdown from a results file")
    args = ap.parse_args()
    if args.render:
        saved = json.loads((ROOT / args.render).read_text())
        write_section(ROOT / args.md, render(saved["results"], saved["meta"]))
        return
    if args.child:
        args.backend, args.workload = args.child
        child(args)
        return
    results: dict = {}
    for backend in args.backends.split(","):
        for workload in args.workloads.split(","):
            print(f"{backend} {workload} ...", flush=True)
            results.setdefault(backend, {})[workload] = measure(backend, workload, args)
            print("   ", results[backend][workload], flush=True)
    try:
        import ray

        ray_version = ray.__version__
    except ImportError:
        ray_version = "not installed"
    meta = {
        "date": dt.date.today().isoformat(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "reps": args.reps,
        "parquet_mb": args.parquet_mb,
        "ray_version": ray_version,
    }
    out = ROOT / args.json
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    write_section(ROOT / args.md, render(results, meta))


if __name__ == "__main__":
    main()
