"""rayground.data is a library on Core's public API: it never imports rayground._core, and
`import rayground` does not load it (ray.data loads on first use)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "runtime" / "rayground" / "data"


def test_data_imports_only_the_public_api():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = "." * node.level + (node.module or "")
                names = [base] + [f"{base}.{a.name}" for a in node.names]
            offenders += [f"{path.name}: {n}" for n in names if "_core" in n]
    assert not offenders, offenders


def test_import_rayground_does_not_load_data():
    code = (
        "import sys, rayground as ray; assert 'rayground.data' not in sys.modules; "
        "ray.data.range; assert 'rayground.data' in sys.modules"
    )
    env_path = str(PACKAGE.parents[1])
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run(
        [sys.executable, "-c", "from rayground import data; print(data.range)"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
