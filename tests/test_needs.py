"""Under CI a missing requirement fails the run; locally it skips, saying why (tests/_needs.py).

CI installs every browser, extra and tool the suite uses, so a test that cannot run there is a
broken environment, not an optional one: whole files must not turn into skips unnoticed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
HELPERS = (TESTS / "_needs.py", Path(__file__).resolve())

# pytest's own ways to skip or expect failure; tests/ reaches them only through _needs (and the
# expected-difference markers, tests/_differences.py, which turn into strict xfails).
DIRECT_SKIP = re.compile(r"importorskip\(|pytest\.skip\(|mark\.skip(if)?\b|pytest\.xfail\(")

NESTED_TESTS = """
import pytest
from _needs import missing, need_module, needs, not_applicable, platform_skip


def test_missing_module():
    need_module("rayground_no_such_module", "the `nothing` extra")


@needs("no chromium at /nowhere")
def test_missing_browser():
    pass


@needs(None)
def test_nothing_missing():
    pass


def test_missing_tool():
    missing("configurable-http-proxy is not installed")


def test_other_platform():
    platform_skip("x86-64 only")


def test_by_design():
    not_applicable("rayground-only lesson")
"""


def test_every_skip_in_tests_goes_through_needs():
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        if path in HELPERS or "node_modules" in path.parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if DIRECT_SKIP.search(line):
                offenders.append(f"{path.relative_to(TESTS.parent)}:{number}: {line.strip()}")
    assert offenders == [], (
        "skip through tests/_needs.py (missing / need_module / needs, or platform_skip / "
        "on_platform_only / not_applicable), so CI fails where a requirement is missing:\n"
        + "\n".join(offenders)
    )


def _run_nested(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    for name in ("conftest.py", "_procs.py", "_needs.py", "_differences.py", "_kept_ray.py"):
        shutil.copy(TESTS / name, tmp_path / name)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    needs(reason): a requirement\n")
    (tmp_path / "test_nested.py").write_text(NESTED_TESTS)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-rfEs", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _outcomes(proc: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """test name -> PASSED/FAILED/ERROR/SKIPPED, from pytest's verbose lines."""
    found = {}
    for line in proc.stdout.splitlines():
        m = re.match(r"\S*::(test_\w+) (PASSED|FAILED|SKIPPED|ERROR)", line)
        if m:
            found[m.group(1)] = m.group(2)
    return found


@pytest.mark.parametrize("ci", [None, "false", "0"])
def test_locally_a_missing_requirement_skips_saying_why(tmp_path, ci):
    proc = _run_nested(tmp_path, ci)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert set(_outcomes(proc).values()) == {"SKIPPED", "PASSED"}, proc.stdout[-3000:]
    assert "1 passed, 5 skipped" in proc.stdout, proc.stdout[-3000:]
    assert "the `nothing` extra (ModuleNotFoundError" in proc.stdout
    assert "no chromium at /nowhere" in proc.stdout


@pytest.mark.parametrize("ci", ["true", "1"])
def test_under_ci_a_missing_requirement_fails(tmp_path, ci):
    proc = _run_nested(tmp_path, ci)
    assert proc.returncode == 1, proc.stdout[-3000:]
    outcomes = _outcomes(proc)
    # A `needs` mark acts before the test's fixtures, so it fails in setup: an ERROR.
    assert outcomes == {
        "test_missing_module": "FAILED",
        "test_missing_browser": "ERROR",
        "test_missing_tool": "FAILED",
        "test_nothing_missing": "PASSED",
        "test_other_platform": "SKIPPED",  # not an install problem: skips under CI too
        "test_by_design": "SKIPPED",
    }, proc.stdout[-3000:]
    assert "CI must run this test, but: no chromium at /nowhere" in proc.stdout
    assert "CI must run this test, but: configurable-http-proxy is not installed" in proc.stdout
