"""Tune benchmark: rayground.tune against Ray Tune, in the same run.

    python bench/tune_bench.py [--backends rayground,ray] [--trials 100] [--reports 10]
                               [--asha-trials 20] [--warm 2] [--timeout 900]
                               [--json bench/results/tune.json] [--md docs/benchmarks.md]

Workloads (each backend in a fresh process: `tune_bench.py --child BACKEND ...`, which starts
its cluster with init(num_cpus=2); Ray without its dashboard):

* overhead: `--trials` trials of a trainable that only calls `tune.report` `--reports` times:
  what the framework itself costs per trial and per result;
* asha: `--asha-trials` trials (a fixed grid of learning rates, so both backends do the same
  work) of a small NumPy linear-regression model for 20 epochs, under
  ASHAScheduler(max_t=20, grace_period=2, reduction_factor=2), two trials at a time;
* idle memory: after the runs, the PSS of the driver and every process it started
  (cluster daemons, idle workers), summed from /proc/<pid>/smaps_rollup.

Each timed workload runs once cold (the first `fit()` in the process: actor start-up, imports)
and `--warm` more times; the table shows the cold time beside the median of the warm ones, and
ratios to Ray (Ray's time / ours: above 1 means rayground is faster). The markdown section
replaces the "## Tune" section at the end of --md. Every number is measured by this script.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADING = "## Tune"


# ---------------------------------------------------------------- in the child process
def _descendants(pid: int) -> set[int]:
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
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _pss_mb(pids: set[int]) -> float:
    total_kb = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total_kb += int(line.split()[1])
                        break
        except OSError:
            continue
    return total_kb / 1024


def _child(backend: str, trials: int, reports: int, asha_trials: int, warm: int) -> dict:
    import importlib

    import numpy as np

    if backend == "rayground":
        sys.path.insert(0, str(ROOT / "runtime"))
    ray = importlib.import_module(backend)
    tune = importlib.import_module(f"{backend}.tune")
    schedulers = importlib.import_module(f"{backend}.tune.schedulers")
    kwargs = {"num_cpus": 2}
    if backend == "ray":
        kwargs["include_dashboard"] = False
    t0 = time.perf_counter()
    ray.init(**kwargs)
    init_s = time.perf_counter() - t0
    storage = tempfile.mkdtemp(prefix=f"tune-bench-{backend}-")

    def noop(config):
        for i in range(config["reports"]):
            tune.report({"i": i})

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 50))
    y = x @ rng.normal(size=50) + 0.1 * rng.normal(size=2000)

    def linear(config):
        w = np.zeros(x.shape[1])
        for _ in range(20):
            w -= config["lr"] * 2 * x.T @ (x @ w - y) / len(y)
            tune.report({"loss": float(np.mean((x @ w - y) ** 2))})

    def overhead(run: int) -> float:
        start = time.perf_counter()
        grid = tune.Tuner(
            noop,
            param_space={"reports": reports, "k": tune.grid_search(list(range(trials)))},
            run_config=tune.RunConfig(storage_path=storage, name=f"overhead{run}", verbose=0),
        ).fit()
        elapsed = time.perf_counter() - start
        assert grid.num_errors == 0 and len(grid) == trials
        return elapsed

    lrs = [float(v) for v in np.geomspace(1e-4, 0.3, asha_trials)]
    stops: list[int] = []

    def asha(run: int) -> float:
        start = time.perf_counter()
        grid = tune.Tuner(
            linear,
            param_space={"lr": tune.grid_search(lrs)},
            tune_config=tune.TuneConfig(
                metric="loss",
                mode="min",
                max_concurrent_trials=2,
                scheduler=schedulers.ASHAScheduler(max_t=20, grace_period=2, reduction_factor=2),
            ),
            run_config=tune.RunConfig(storage_path=storage, name=f"asha{run}", verbose=0),
        ).fit()
        elapsed = time.perf_counter() - start
        assert grid.num_errors == 0
        stops[:] = [r.metrics["training_iteration"] for r in grid]
        return elapsed

    out: dict = {"backend": backend, "init_s": init_s, "version": getattr(ray, "__version__", "?")}

    def part() -> None:
        # Every measurement is printed as soon as it is taken, so a run cut short by the
        # parent's timeout still reports what it measured.
        print("PART " + json.dumps(out), flush=True)

    out["overhead"] = {"cold_s": overhead(0), "warm_s": []}
    part()
    time.sleep(1.0)  # let finished trials' actors go
    out["idle_pss_mb"] = _pss_mb({os.getpid(), *_descendants(os.getpid())})
    part()
    out["asha"] = {"cold_s": asha(0), "warm_s": []}
    out["asha"]["iterations"] = list(stops)
    part()
    for run in range(1, 1 + warm):
        out["overhead"]["warm_s"].append(overhead(run))
        part()
        out["asha"]["warm_s"].append(asha(run))
        part()
    ray.shutdown()
    return out


# ---------------------------------------------------------------- in the parent
def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _fmt_s(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def _ratio(ray_value: float | None, ours: float | None) -> str:
    if not ray_value or not ours:
        return "n/a"
    return f"{ray_value / ours:.1f}x"


def render(results: dict) -> str:
    ours, ray = results["backends"].get("rayground", {}), results["backends"].get("ray", {})
    args = results["args"]
    lines = [
        HEADING,
        "",
        f"Measured by `python bench/tune_bench.py` on {results['machine']} "
        f"({results['date']}); each backend in a fresh process with `init(num_cpus=2)` (Ray "
        f"{ray.get('version', 'not run')}, without its dashboard). Cold = the first `fit()` "
        f"in the process; warm = median of {args['warm']} more. Ratio = Ray's time / "
        "rayground's (above 1: rayground is faster); memory ratio = rayground's / Ray's.",
        "",
        "| workload | rayground cold | rayground warm | Ray cold | Ray warm | ratio cold "
        "| ratio warm |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    labels = {
        "overhead": f"{args['trials']} trials x {args['reports']} reports, no-op trainable",
        "asha": f"{args['asha_trials']} trials, ASHA, NumPy linear model (20 epochs)",
    }
    for key, label in labels.items():
        o, r = ours.get(key, {}), ray.get(key, {})
        ow, rw = _median(o.get("warm_s", [])), _median(r.get("warm_s", []))
        lines.append(
            f"| {label} | {_fmt_s(o.get('cold_s'))} | {_fmt_s(ow)} | {_fmt_s(r.get('cold_s'))} "
            f"| {_fmt_s(rw)} | {_ratio(r.get('cold_s'), o.get('cold_s'))} | {_ratio(rw, ow)} |"
        )
    om, rm = ours.get("idle_pss_mb"), ray.get("idle_pss_mb")
    mem_ratio = f"{om / rm:.2f}" if om and rm else "n/a"
    lines += [
        "",
        f"Idle memory after the runs (driver + every process it started, PSS): rayground "
        f"{om:.0f} MB, Ray {rm:.0f} MB (ratio {mem_ratio})."
        if om and rm
        else "Idle memory: not measured for both backends.",
    ]
    if ours.get("asha", {}).get("iterations") and ray.get("asha", {}).get("iterations"):
        same = ours["asha"]["iterations"] == ray["asha"]["iterations"]
        lines.append(
            f"ASHA stopped the same trials at the same iterations on both: {same} "
            f"(rayground {ours['asha']['iterations']})."
        )
    for name, b in results["backends"].items():
        if "error" in b:
            lines.append(f"{name}: failed: {b['error']}")
        if "note" in b:
            lines.append(f"{name}: {b['note']}.")
    return "\n".join(lines) + "\n"


def _write_md(path: Path, section: str) -> None:
    text = path.read_text() if path.exists() else ""
    index = text.find("\n" + HEADING + "\n")
    if index >= 0:
        text = text[: index + 1]
    elif text and not text.endswith("\n"):
        text += "\n"
    path.write_text(text + ("\n" if text else "") + section)


def _kill_leftovers(token: str) -> None:
    """SIGKILL what a timed-out child left behind (Ray's daemons outlive a killed driver):
    the processes whose environment carries this child's token."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if f"TUNE_BENCH_TOKEN={token}".encode() in f.read().split(b"\0"):
                    os.kill(int(entry), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--child")
    p.add_argument("--backends", default="rayground,ray")
    p.add_argument("--trials", type=int, default=100)
    p.add_argument("--reports", type=int, default=10)
    p.add_argument("--asha-trials", type=int, default=20)
    p.add_argument("--warm", type=int, default=2)
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--json", default="bench/results/tune.json")
    p.add_argument("--md", default="docs/benchmarks.md")
    a = p.parse_args()
    if a.child:
        _child(a.child, a.trials, a.reports, a.asha_trials, a.warm)
        return
    results: dict = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "args": {
            "trials": a.trials,
            "reports": a.reports,
            "asha_trials": a.asha_trials,
            "warm": a.warm,
        },
        "backends": {},
    }
    for backend in a.backends.split(","):
        cmd = [
            sys.executable,
            __file__,
            "--child",
            backend,
            "--trials",
            str(a.trials),
            "--reports",
            str(a.reports),
            "--asha-trials",
            str(a.asha_trials),
            "--warm",
            str(a.warm),
        ]
        token = uuid.uuid4().hex
        env = dict(os.environ, PYTHONPATH=str(ROOT / "runtime"), TUNE_BENCH_TOKEN=token)
        note = None
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=a.timeout, env=env, cwd=ROOT
            )
            stdout, stderr = proc.stdout, proc.stderr
        except subprocess.TimeoutExpired as exc:
            stdout, stderr = _text(exc.stdout), _text(exc.stderr)
            note = f"stopped after {a.timeout:.0f} s; the figures it had measured are kept"
        _kill_leftovers(token)
        parts = [ln for ln in stdout.splitlines() if ln.startswith("PART ")]
        if parts:
            results["backends"][backend] = json.loads(parts[-1][len("PART ") :])
            if note:
                results["backends"][backend]["note"] = note
        else:
            tail = (stderr.strip().splitlines() or ["no output"])[-1]
            results["backends"][backend] = {"error": note or tail}
        print(backend, json.dumps(results["backends"][backend])[:300], flush=True)
    out = ROOT / a.json
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    section = render(results)
    _write_md(ROOT / a.md, section)
    print(section)


if __name__ == "__main__":
    main()
