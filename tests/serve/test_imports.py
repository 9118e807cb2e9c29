"""rayground.serve is a library on rayground's public API: it never imports rayground._core,
and `import rayground` does not load it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SERVE = Path(__file__).resolve().parents[2] / "runtime" / "rayground" / "serve"
RUNTIME = str(SERVE.parents[1])


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names.append(base)
            names += [f"{base}.{a.name}" for a in node.names]
    return names


def test_serve_uses_only_the_public_api():
    offenders = []
    for path in sorted(SERVE.rglob("*.py")):
        for name in _imports(path):
            if "_core" in name.split(".") or name.startswith(".._core"):
                offenders.append(f"{path.name}: {name}")
            if name.startswith("...") or (name.startswith("..") and "_core" in name):
                offenders.append(f"{path.name}: {name}")
    assert not offenders, offenders
    assert len(list(SERVE.glob("*.py"))) >= 10


def test_serve_loads_lazily_and_both_import_forms_work():
    code = (
        "import sys, rayground as ray\n"
        "assert 'rayground.serve' not in sys.modules\n"
        "from rayground import serve\n"
        "assert ray.serve is serve and callable(serve.deployment)\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": RUNTIME, "PATH": "/usr/bin:/bin"},
    )
    assert out.stdout.strip() == "ok", out.stderr
