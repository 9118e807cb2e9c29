"""The README's Clusters commands run as written (free port, own session root)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

from _cluster import child_env

ROOT = Path(__file__).resolve().parents[2]


def test_readme_cluster_commands_run_as_written(short_root: str) -> None:
    section = (ROOT / "README.md").read_text().split("## Clusters", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]
    commands = [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]
    assert [c.split()[0] for c in commands] == ["rayground", "python", "rayground"] + [
        "rayground"
    ] * 2
    env = child_env(RAYGROUND_TMPDIR=short_root)
    outputs = []
    try:
        for command in commands:
            argv = shlex.split(command)
            if argv[0] == "rayground":
                argv = [sys.executable, "-m", "rayground", *argv[1:]]
                if argv[3:5] == ["start", "--head"]:
                    argv += ["--port", "0"]  # never a fixed port in tests
            else:
                argv[0] = sys.executable
            result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
            assert result.returncode == 0, f"{command}: {result.stderr}"
            outputs.append(result.stdout)
    finally:
        subprocess.run(
            [sys.executable, "-m", "rayground", "stop"], env=env, capture_output=True, timeout=60
        )
    assert "'CPU': 4.0" in outputs[1]
    assert "CPU 0/4" in outputs[2]
    assert "Object references status" in outputs[3]
    assert "Stopped the rayground cluster" in outputs[4]
