"""%%ray_explain on deliberately bad code (seed 004's "The Bad" list) and on good code."""

from __future__ import annotations

import re

import pytest
from kernel import Kernel

SETUP = """
@ray.remote
def work(x):
    time.sleep(0.05)
    return x * x
@ray.remote
def add_one(x):
    return x + 1
@ray.remote
def total(a, i):
    return float(a[i])
@ray.remote
def outer():
    return ray.get(work.remote(3))
big = np.ones(2_000_000)
"""

BAD = {
    "get_in_loop": "results = [ray.get(work.remote(i)) for i in range(5)]",
    "large_by_value": "results = ray.get([total.remote(big, i) for i in range(4)])",
    "tiny_tasks": "results = ray.get([add_one.remote(i) for i in range(300)])",
    "get_in_task": "results = ray.get([outer.remote() for _ in range(2)])",
}

GOOD = {
    "batch": "results = ray.get([work.remote(i) for i in range(6)])",
    "put_once": "ref = ray.put(big)\nresults = ray.get([total.remote(ref, i) for i in range(4)])",
    "wait_loop": (
        "refs = [work.remote(i) for i in range(6)]\nout = []\n"
        "while refs:\n    ready, refs = ray.wait(refs, num_returns=1)\n"
        "    out.append(ray.get(ready[0]))"
    ),
    "pass_refs": "results = ray.get(work.remote(work.remote(2)))",
}


@pytest.fixture(scope="module")
def k(kernel: Kernel) -> Kernel:
    kernel.run(SETUP)
    return kernel


@pytest.mark.parametrize("code", list(BAD))
def test_flags_each_anti_pattern_with_its_fix(k: Kernel, code: str) -> None:
    res = k.run("%%ray_explain\n" + BAD[code])
    report = res.texts()[-1]
    assert report.startswith("How this ran:\n")
    assert "1 thing(s) to fix:" in report, report
    title, evidence, fix = report.split("1 thing(s) to fix:\n", 1)[1].splitlines()[:3]
    expected = {
        "get_in_loop": ("ray.get inside the submit loop", r"5 times the driver submitted work"),
        "large_by_value": ("passed by value again and again", r"ndarray of 15\.3 MiB .* 4 times"),
        "tiny_tasks": ("overhead dominates", r"300 add_one tasks ran \d+\.\d\d ms each"),
        "get_in_task": ("ray.get inside a task", r"2 task\(s\) \(outer x2\) blocked in get"),
    }[code]
    assert expected[0] in title
    assert re.search(expected[1], evidence), evidence
    assert fix.strip().startswith("Fix: ")
    assert "text/html" in res.displays[-1]


@pytest.mark.parametrize("code", list(GOOD))
def test_no_false_alarm_on_good_code(k: Kernel, code: str) -> None:
    report = k.run("%%ray_explain\n" + GOOD[code]).texts()[-1]
    assert report.endswith("No anti-patterns found."), report


def test_reports_parallelism_and_waiting(k: Kernel) -> None:
    res = k.run("%%ray_explain\nresults = ray.get([work.remote(i) for i in range(8)])")
    # The cell's own (text-less) output widget for late worker lines, then the report.
    assert res.texts()[0] == ""
    report = res.texts()[-1]
    assert "  8 task(s): work x8\n" in report
    assert "    finished 8, failed 0, still running 0\n" in report
    m = re.search(r"parallelism: at most (\d+) at once, ([\d.]+) on average, on 2 CPU\(s\)", report)
    assert m and int(m.group(1)) == 2 and float(m.group(2)) > 1.5, report
    m = re.search(r"driver waited (\d+\.\d\d) s in get/wait \(1 get, 0 wait call\(s\)\)", report)
    assert m and float(m.group(1)) >= 0.15, report


def test_analysis_api_for_exercise_checks(k: Kernel) -> None:
    k.run(
        "from rayground.jupyter import analysis\n"
        "with analysis.watch() as run:\n"
        "    ray.get([work.remote(i) for i in range(4)])\n"
        "r = run.report()"
    )
    assert k.value("(r.tasks_by_function, r.max_parallelism, r.findings, r.cpus)") == (
        {"work": 4},
        2,
        [],
        2.0,
    )


def test_explain_without_cluster_says_what_to_do(tmp_path) -> None:
    k = Kernel(cwd=str(tmp_path))
    try:
        k.run("%load_ext rayground")
        res = k.run("%%ray_explain\nx = 1")
        assert "UsageError: %%ray_explain needs a cluster: run %ray_init first." in res.stderr
    finally:
        k.shutdown()
