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
* ASHA's decisions: the same 20 trials in a fixed shuffled order, one at a time, once per
  backend (not timed). ASHA is asynchronous: a rung's cutoff is computed from the trials that
  reached it *before*, so with two trials at a time the decisions depend on which trial's
  result arrives first, a matter of timing. One at a time, the order is the trials' order on
  both backends, so the trials stopped (and where) must be the same;
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
WORKLOADS = ("overhead", "asha", "decisions")


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


def _child(
    backend: str, trials: int, reports: int, asha_trials: int, warm: int, workloads: set[str]
) -> dict:
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

    def asha(run: int, order: list[float] = lrs, concurrent: int = 2) -> float:
        start = time.perf_counter()
        grid = tune.Tuner(
            linear,
            param_space={"lr": tune.grid_search(order)},
            tune_config=tune.TuneConfig(
                metric="loss",
                mode="min",
                max_concurrent_trials=concurrent,
                scheduler=schedulers.ASHAScheduler(max_t=20, grace_period=2, reduction_factor=2),
            ),
            run_config=tune.RunConfig(storage_path=storage, name=f"asha{run}", verbose=0),
        ).fit()
        elapsed = time.perf_counter() - start
        assert grid.num_errors == 0
        stops[:] = [r.metrics["training_iteration"] for r in grid]
        return elapsed

    # A fixed shuffle: in ascending order every trial beats the ones before it and ASHA would
    # stop none, which would check nothing.
    shuffled = [lrs[i] for i in np.random.default_rng(1).permutation(len(lrs))]

    out: dict = {"backend": backend, "init_s": init_s, "version": getattr(ray, "__version__", "?")}

    def part() -> None:
        # Every measurement is printed as soon as it is taken, so a run cut short by the
        # parent's timeout still reports what it measured.
        print("PART " + json.dumps(out), flush=True)

    if "overhead" in workloads:
        out["overhead"] = {"cold_s": overhead(0), "warm_s": []}
        part()
        time.sleep(1.0)  # let finished trials' actors go
        out["idle_pss_mb"] = _pss_mb({os.getpid(), *_descendants(os.getpid())})
        part()
    if "asha" in workloads:
        out["asha"] = {"cold_s": asha(0), "warm_s": []}
        out["asha"]["iterations"] = list(stops)
        part()
    if "decisions" in workloads:
        asha(-1, order=shuffled, concurrent=1)
        out["asha_decisions"] = {"lr": shuffled, "iterations": list(stops)}
        part()
    for run in range(1, 1 + warm):
        if "overhead" in workloads:
            out["overhead"]["warm_s"].append(overhead(run))
            part()
        if "asha" in workloads:
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
    measured = results.get("measured") or {}
    if len(set(measured.values())) > 1:
        when = "; ".join(f"{w} {d}" for w, d in measured.items())
    else:
        when = results["date"]
    lines = [
        HEADING,
        "",
        f"Measured by `python bench/tune_bench.py` on {results['machine']} "
        f"({when}); each backend in a fresh process with `init(num_cpus=2)` (Ray "
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
    ours_d, ray_d = ours.get("asha_decisions", {}), ray.get("asha_decisions", {})
    if ours_d.get("iterations") and ray_d.get("iterations"):
        same = ours_d["iterations"] == ray_d["iterations"] and ours_d["lr"] == ray_d["lr"]
        lines.append(
            "ASHA's decisions, the same trials run one at a time in a fixed shuffled order "
            f"(so each rung sees them in the same order): the same trials stopped at the same "
            f"iterations on both: {same} (rayground {ours_d['iterations']}"
            + ("" if same else f", Ray {ray_d['iterations']}")
            + "). The timed ASHA run has two trials at a time: which of two results reaches "
            "a rung first is a matter of timing on either backend, so its stops are not "
            "compared."
        )
    for name, b in results["backends"].items():
        if "error" in b:
            lines.append(f"{name}: failed: {b['error']}")
        if "note" in b:
            lines.append(f"{name}: {b['note']}.")
    return "\n".join(lines) + "\n"


def _write_md(path: Path, section: str) -> None:
    """Replace the "## Tune" section (up to the next "## " heading) or append it; the other
    sections stay as they are."""
    text = path.read_text() if path.exists() else ""
    index = text.find("\n" + HEADING + "\n")
    if index >= 0:
        end = text.find("\n## ", index + 1)
        rest = text[end + 1 :] if end >= 0 else ""
        path.write_text(text[: index + 1] + section + ("\n" + rest if rest else ""))
        return
    if text and not text.endswith("\n"):
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
    p.add_argument(
        "--workloads",
        default=",".join(WORKLOADS),
        help="which of overhead, asha, decisions to run (a short run: --workloads decisions)",
    )
    p.add_argument("--json", default="bench/results/tune.json")
    p.add_argument("--md", default="docs/benchmarks.md")
    a = p.parse_args()
    if a.child:
        _child(a.child, a.trials, a.reports, a.asha_trials, a.warm, set(a.workloads.split(",")))
        return
    workloads = [w for w in a.workloads.split(",") if w]
    unknown = sorted(set(workloads) - set(WORKLOADS))
    if unknown:
        p.error(f"--workloads: unknown {unknown}; choose from {', '.join(WORKLOADS)}")
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    args = {"trials": a.trials, "reports": a.reports, "asha_trials": a.asha_trials, "warm": a.warm}
    out = ROOT / a.json
    results: dict = {
        "date": now,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "args": args,
        "measured": {w: now for w in workloads},
        "backends": {},
    }
    if set(workloads) != set(WORKLOADS) and out.exists():
        # A partial run (e.g. --workloads decisions) replaces only its own figures in the
        # last full run's results, each workload keeping the date it was measured.
        previous = json.loads(out.read_text())
        if previous.get("args", {}) | {"warm": a.warm} == args | {"warm": a.warm}:
            measured = previous.get("measured") or {w: previous["date"] for w in WORKLOADS}
            results = previous | {"measured": measured | results["measured"]}
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
            "--workloads",
            a.workloads,
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
            note = (
                f"its {a.workloads} run of {now} stopped after {a.timeout:.0f} s; the figures "
                "it had measured are kept"
            )
        _kill_leftovers(token)
        parts = [ln for ln in stdout.splitlines() if ln.startswith("PART ")]
        if parts:
            merged = results["backends"].get(backend, {})
            merged.pop("error", None)
            merged.update(json.loads(parts[-1][len("PART ") :]))
            if note:
                merged["note"] = note
            results["backends"][backend] = merged
        else:
            tail = (stderr.strip().splitlines() or ["no output"])[-1]
            results["backends"][backend] = {"error": note or tail}
        print(backend, json.dumps(results["backends"][backend])[:300], flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    section = render(results)
    _write_md(ROOT / a.md, section)
    print(section)


if __name__ == "__main__":
    main()
