"""The README's 30-second tour runs as written and prints what its comments promise."""

from __future__ import annotations

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_readme_tour_runs():
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    tour = text.split("## 30-second tour", 1)[1]
    code = re.search(r"```python\n(.*?)```", tour, re.S).group(1)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "[0, 1, 4, 9]" in proc.stdout
    assert "[1, 2, 3]" in proc.stdout
    sums = sorted(int(x) for x in re.findall(r"partial sum: (\d+)", proc.stdout))
    assert sum(sums) == sum(range(1_000_000)) and len(sums) == 4
