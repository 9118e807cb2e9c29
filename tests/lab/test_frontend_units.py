"""The extension's frontend unit tests (jest, extension/src/__tests__), run from pytest so that
`bash scripts/test.sh` and CI run them too: DAG grouping and layout, progress, formatting."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from _needs import missing

EXTENSION = Path(__file__).resolve().parents[2] / "extension"


def test_jest_suite_passes() -> None:
    jest = EXTENSION / "node_modules" / ".bin" / "jest"
    if not jest.exists():
        reason = (
            "extension/node_modules is missing (the install-time build fetches it; or run "
            "`cd extension && jlpm install`)"
        )
        missing(reason)
    node = shutil.which("node")
    if node is None:
        missing("node is not installed (scripts/setup.sh installs it)")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(
        [node, str(jest), "--ci", "--colors=false"],
        cwd=EXTENSION,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    # jest reports on stderr; make sure the suites really ran.
    assert (
        "Tests:" in proc.stderr and " failed" not in proc.stderr.split("Tests:")[1].split("\n")[0]
    )
