"""Run the benchmark workloads on rayground and on real Ray, and write the comparison.

    python bench/run.py [--backends rayground,ray] [--quick] [--out docs/benchmarks.md]
                        [--json bench/results/latest.json] [--workloads noop_sync,...]
                        [--compare bench/results/ray-baseline.json] [--timeout 300]
                        [--python ray=/path/to/ray-venv/bin/python] [--render RESULTS.json]

Relative paths are taken from the repository root. ``--python ray=...`` runs Ray under an
interpreter of its own: in an environment that also holds the Jupyter extra, every Ray process
imports more (jsonschema's format checkers), which slows Ray's start-up about threefold. That is
not Ray's own cost, so the Ray baseline in bench/results/ray-baseline.json was taken in a virtual
environment with only Ray and NumPy. ``--compare`` fills a backend that is not run now from an
earlier results file (the table says so), and ``--render`` rewrites the markdown from one.

Each workload of each backend runs in a fresh process (``bench/workloads.py BACKEND WORKLOAD``), so
the backends never share a process and every measurement starts clean. A backend that cannot be
imported is reported as "not installed"; a workload that fails, hangs or crashes is reported with
the last line of its error, and the run goes on.

This process makes itself a child subreaper, so that whatever a workload leaves running after it
exits (a daemon that outlived ``shutdown()``) is re-parented here: it is reported in the results
and stopped before the next workload starts.

Before each workload the runner waits (up to --quiet-wait seconds) until processes outside the
benchmark use less than a quarter of a core, and while the workload runs it records how much CPU
those other processes took: on a 2-core machine anything else running skews the numbers. A
workload they disturbed (more than --interference cores on average) is run again, up to --tries
times in all, and the least disturbed run is kept; the notes under the table say where the
interference remained.

Nothing in the output is written by hand: every number comes from the measurements of this run (or,
with --compare, of the earlier run named in the table).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

import harness as H  # noqa: E402  (bench/ is not a package)
import result_line  # noqa: E402
import workloads as W  # noqa: E402
from procs import (  # noqa: E402
    ForeignCPU,
    become_subreaper,
    kill_tree,
    leftovers,
    wait_for_quiet,
)
from report import (  # noqa: E402
    build_rows,
    write_json,
    write_markdown,
)

DEFAULT_BACKENDS = ["rayground", "ray"]
INTERPRETERS: dict[str, str] = {}  # backend -> python executable (--python), else this one


# --------------------------------------------------------------------------------------------------
# Running one workload


def run_workload(
    backend: str, workload: str, quick: bool, timeout: float, quiet_wait: float
) -> dict:
    quiet = wait_for_quiet(quiet_wait) if quiet_wait > 0 else None
    python = INTERPRETERS.get(backend, sys.executable)
    args = [python, str(BENCH / "workloads.py"), backend, workload]
    if quick:
        args.append("--quick")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        out_path, err_path = Path(tmp, "stdout"), Path(tmp, "stderr")
        monitor = ForeignCPU().start()
        t0 = time.perf_counter()
        with open(out_path, "w") as out, open(err_path, "w") as err:
            proc = subprocess.Popen(
                args, stdout=out, stderr=err, env=env, cwd=REPO, start_new_session=True
            )
            timed_out = False
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                tree = H.descendants(proc.pid, H.proc_table()) | {proc.pid}
                kill_tree(tree)
                proc.wait()
        wall = time.perf_counter() - t0
        foreign = monitor.stop()
        stdout, stderr = out_path.read_text(errors="replace"), err_path.read_text(errors="replace")
    left = leftovers()
    result = result_line.parse_result(stdout)
    if result is None:
        if timed_out:
            msg = f"timed out after {timeout:g} s"
        else:
            msg = result_line.tail(stderr) or f"exit status {proc.returncode} with no result"
            if proc.returncode and proc.returncode < 0:
                msg = f"killed by signal {-proc.returncode}; " + msg
        result = {"ok": False, "error": msg}
    result.update(
        wall_s=wall,
        returncode=proc.returncode,
        timed_out=timed_out,
        foreign_cpu=foreign,
        quiet=quiet,
        leftover_processes=left,
    )
    if not result.get("ok"):
        result["stderr_tail"] = stderr[-4000:]
    return result


def run_with_retries(backend: str, workload: str, args, timeout: float, log) -> dict:
    """Run a workload; if other processes took more than --interference cores while it ran, run
    it again (up to --tries times in all) and keep the run they disturbed least. A workload that
    fails is run once more straight away (a loaded machine can make Ray's start-up time out)."""
    best = None
    failures = 0
    for attempt in range(1, max(args.tries, 1) + 1):
        quiet_wait = args.quiet_wait if failures == 0 else 0
        r = run_workload(backend, workload, args.quick, timeout, quiet_wait)
        r["attempt"] = attempt
        load = r["foreign_cpu"]["cores"]
        if (
            best is None
            or (r.get("ok") and not best.get("ok"))
            or (r.get("ok") and load < best["foreign_cpu"]["cores"])
        ):
            best = r
        if not r.get("ok"):
            # a failure is tried once more (Ray's own start-up can time out on a loaded machine),
            # but not when the backend is missing or the workload ran out of time
            failures += 1
            if r.get("not_installed") or r.get("timed_out") or failures > 1:
                break
            if attempt == args.tries:
                break
            log(f"  failed ({r.get('error')}); running it again")
            continue
        if load <= args.interference:
            break
        if attempt < args.tries:
            log(f"  other processes used {load:.2f} cores meanwhile; running it again")
    best["attempts"] = attempt
    return best


def status_line(result: dict) -> str:
    if result.get("not_installed"):
        return "not installed"
    if not result.get("ok"):
        return "ERROR " + result.get("error", "")
    errors = []

    def walk(node, path):
        if isinstance(node, dict):
            if "error" in node:
                errors.append("/".join(path) + ": " + node["error"])
            for k, v in node.items():
                walk(v, (*path, k))

    walk(result.get("metrics"), ())
    extra = f" ({len(errors)} measurement(s) failed: {errors[0]})" if errors else ""
    return f"ok in {result['wall_s']:.1f} s" + extra


# --------------------------------------------------------------------------------------------------
# Machine description


def machine() -> dict:
    cpu = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = None
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    shm = None
    with contextlib.suppress(OSError):
        st = os.statvfs("/dev/shm")
        shm = st.f_blocks * st.f_frsize
    return {
        "cpu_model": cpu,
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "memory_bytes": mem,
        "dev_shm_bytes": shm,
        "kernel": platform.release(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }


def git_commit() -> dict:
    def git(*args):
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=False
        ).stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD") or None,
        "dirty": bool(git("status", "--porcelain", "--", "runtime")),
    }


# --------------------------------------------------------------------------------------------------
# Main


def compile_checkout() -> bool:
    """Write the checkout's bytecode caches, under the interpreter that runs rayground."""
    python = INTERPRETERS.get("rayground", sys.executable)
    done = subprocess.run(
        [python, "-m", "compileall", "-q", str(H.RUNTIME / "rayground")], timeout=120
    )
    return done.returncode == 0


def probe_backend(name: str, timeout: float) -> dict:
    r = run_workload(name, "probe", False, timeout, 0)
    if r.get("not_installed"):
        return {"status": "not installed", "error": r.get("error")}
    if not r.get("ok"):
        return {"status": "import failed", "error": r.get("error")}
    return {
        "status": "installed",
        "version": r["metrics"].get("version"),
        "module_file": r["metrics"].get("module_file"),
        "python": r["metrics"].get("python"),
        "python_version": r["metrics"].get("python_version"),
        "numpy": r["metrics"].get("numpy"),
        "init_kwargs": r.get("init_kwargs"),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--backends",
        default=",".join(DEFAULT_BACKENDS),
        help="comma-separated backends (default: rayground,ray)",
    )
    p.add_argument(
        "--quick", action="store_true", help="smaller sizes and fewer repetitions (smoke test)"
    )
    p.add_argument("--out", default="docs/benchmarks.md", help="markdown output")
    p.add_argument("--json", default="bench/results/latest.json", help="JSON output")
    p.add_argument(
        "--workloads",
        default="",
        help="comma-separated subset of: " + ", ".join(W.BACKEND_WORKLOADS),
    )
    p.add_argument(
        "--no-reference",
        action="store_true",
        help="skip the multiprocessing and NumPy reference points",
    )
    p.add_argument("--timeout", type=float, default=300, help="seconds per workload")
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=30,
        help="wait up to this long before each workload for other processes to go "
        "quiet (0: do not wait)",
    )
    p.add_argument(
        "--tries",
        type=int,
        default=3,
        help="run a disturbed workload up to this many times in all and keep the least "
        "disturbed run (default 3)",
    )
    p.add_argument(
        "--interference",
        type=float,
        default=0.2,
        help="cores that other processes may use on average during a workload before it counts "
        "as disturbed (default 0.2)",
    )
    p.add_argument(
        "--render",
        metavar="JSON",
        default="",
        help="run nothing: write the markdown (--out) again from an earlier results JSON",
    )
    p.add_argument(
        "--python",
        action="append",
        default=[],
        metavar="BACKEND=PYTHON",
        help="run a backend's workloads with another interpreter, e.g. "
        "ray=/path/to/clean-venv/bin/python (Ray in an environment of its own); repeatable",
    )
    p.add_argument(
        "--compare",
        default="",
        help="earlier results JSON to take any backend not run now from (marked as "
        "such in the table)",
    )
    args = p.parse_args(argv)
    # relative paths are relative to the repository root, wherever the command is run from
    out_path, json_path = REPO / args.out, REPO / args.json

    if args.render:
        earlier = json.loads((REPO / args.render).read_text())
        earlier["rows"] = build_rows(earlier)
        write_markdown(earlier, out_path)
        print(f"wrote {args.out} from {args.render}", file=sys.stderr)
        return 0

    names = [b.strip() for b in args.backends.split(",") if b.strip()]
    selected = [w.strip() for w in args.workloads.split(",") if w.strip()] or W.BACKEND_WORKLOADS
    unknown = [w for w in selected if w not in W.BACKEND_WORKLOADS]
    if unknown:
        p.error(f"unknown workloads: {', '.join(unknown)}")
    for spec in args.python:
        backend, _, exe = spec.partition("=")
        if not exe or not os.access(exe, os.X_OK):
            p.error(f"--python {spec}: expected BACKEND=PATH to an executable python")
        INTERPRETERS[backend.strip()] = exe
    subreaper = become_subreaper()
    compiled = "rayground" in names and compile_checkout()

    results: dict = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(
            ["python", "bench/run.py", *sys.argv[1:]]
            if argv is None
            else ["python", "bench/run.py", *argv]
        ),
        "quick": args.quick,
        "machine": machine(),
        "git": git_commit(),
        "json_path": args.json,
        "runner_python": sys.executable,
        "subreaper": subreaper,
        "rayground_bytecode_compiled": compiled,
        "backends": {},
        "reference": {},
    }

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    for name in names:
        info = probe_backend(name, args.timeout)
        info["workloads"] = {}
        results["backends"][name] = info
        log(f"[{name}] {info['status']} {info.get('version') or ''} {info.get('error') or ''}")
    # Workload by workload, each backend in turn: the machine's speed drifts over minutes (other
    # tenants of the host), and a drift between two blocks of workloads would skew every ratio.
    for workload in selected:
        for name in names:
            info = results["backends"][name]
            if info["status"] == "not installed":
                continue
            if info["status"] == "import failed":
                info["workloads"][workload] = {"ok": False, "error": info["error"]}
                continue
            timeout = args.timeout * (2 if workload == "startup" else 1)
            log(f"[{name}] {workload} ...")
            r = run_with_retries(name, workload, args, timeout, log)
            info["workloads"][workload] = r
            if r.get("init_kwargs"):
                info["init_kwargs"] = r["init_kwargs"]
            log(f"[{name}] {workload}: {status_line(r)}")
            write_json(results, json_path)  # keep what we have if the run is cut short

    if not args.no_reference:
        for workload in W.REFERENCE_WORKLOADS:
            log(f"[reference] {workload} ...")
            r = run_with_retries("reference", workload, args, args.timeout, log)
            results["reference"][workload] = r
            log(f"[reference] {workload}: {status_line(r)}")

    if args.compare:
        earlier = json.loads((REPO / args.compare).read_text())
        for name, b in earlier.get("backends", {}).items():
            if name not in results["backends"]:
                results["backends"][name] = {
                    **b,
                    "from_file": args.compare,
                    "date": earlier.get("date"),
                }
        if not results["reference"] and earlier.get("reference"):
            results["reference"] = earlier["reference"]

    results["rows"] = build_rows(results)
    write_json(results, json_path)
    write_markdown(results, out_path)
    log(f"wrote {args.out} and {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
