"""The shipped nbval sanitize file makes the magics' and views' outputs reproducible: a notebook
executed once is re-run by nbval in a new kernel (strict output comparison) and matches, although
its worker pids, ids and timings are new."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import nbformat
from nbclient import NotebookClient

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SANITIZE = os.path.join(ROOT, "notebooks", "sanitize.cfg")

CELLS = [
    "%load_ext rayground",
    "%ray_init --num-cpus 2 --object-store-memory 64MiB",
    "import time\nimport rayground as ray\n\n"
    "@ray.remote\ndef work(x):\n    time.sleep(0.05)\n    return x * x\n\n"
    "@ray.remote\ndef say(text):\n    print(text)\n    return len(text)\n\n"
    "@ray.remote\nclass Counter:\n    def __init__(self):\n        self.n = 0\n"
    "    def incr(self):\n        self.n += 1\n        return self.n",
    "print(ray.get([work.remote(i) for i in range(4)]))\nprint(ray.get(say.remote('hello')))",
    "c = Counter.remote()\nprint(ray.get([c.incr.remote() for _ in range(3)]))",
    "%ray_status --static",
    "%ray_dag --static",
    "%ray_actors --static",
    "%ray_timeline --static",
    "%%ray_explain\nresults = [ray.get(work.remote(i)) for i in range(3)]",
    "%ray_shutdown",
]


def _nbval(path: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval", path, *extra],
        cwd=os.path.dirname(path),
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_sanitized_outputs_match_a_fresh_run(tmp_path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    NotebookClient(
        nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    path = str(tmp_path / "lesson.ipynb")
    nbformat.write(nb, path)
    stdout = [o.get("text", "") for o in nb.cells[3].outputs if o.output_type == "stream"]
    assert "".join(stdout).startswith("[0, 1, 4, 9]\n(say pid=")

    same = _nbval(path, "--nbval-sanitize-with", SANITIZE)
    assert same.returncode == 0, same.stdout[-4000:]
    assert f"{len(CELLS)} passed" in same.stdout

    # What made that pass: outputs that differ in every run (a new kernel's workers have new
    # pids, the cluster new ids), equal only once sanitized.
    fresh_pids = re.findall(r"pid=(\d+)", same.stdout + "".join(stdout))
    assert fresh_pids, "the stored outputs should hold worker pids"
    actors = "".join(o.get("data", {}).get("text/plain", "") for o in nb.cells[7].outputs)
    assert re.search(r"Counter: ALIVE, pid=\d+, 3 call\(s\) done", actors)
