"""Tests of the project's packaging, entry scripts and test harness.

These must not import rayground: they guard the skeleton even when the runtime
does not import.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from _needs import need_module, platform_skip
from _procs import descendants, process_alive, shm_entries, wait_until

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = need_module("tomli", "Python 3.10 reads TOML with tomli (the `test` extra has it)")

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
SCRIPTS = ("scripts/setup.sh", "scripts/test.sh", "scripts/demo.sh", ".ci/run")


def _pyproject() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def _names(requirements: list[str]) -> set[str]:
    """Normalized distribution names of PEP 508 requirement strings."""
    return {
        re.split(r"[\s<>=!~;\[(]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements
    }


# -- packaging ---------------------------------------------------------------------


def test_pyproject_declares_extras_and_python() -> None:
    project = _pyproject()["project"]
    extras = project["optional-dependencies"]
    assert {"test", "ray", "jupyter"} <= extras.keys()
    assert "ray" in _names(extras["ray"])
    assert {"pytest", "pytest-timeout"} <= _names(extras["test"])
    assert "jupyterlab" in _names(extras["jupyter"])
    spec = project["requires-python"].replace(" ", "")
    m = re.fullmatch(r">=(\d+)\.(\d+)(?:\.\d+)?", spec)
    assert m, f"requires-python should be a plain lower bound, got {spec!r}"
    assert (int(m[1]), int(m[2])) >= (3, 10)
    assert sys.version_info >= (int(m[1]), int(m[2]))


def test_pyproject_ships_the_runtime_package() -> None:
    cfg = _pyproject()
    assert cfg["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == ["runtime/rayground"]
    assert cfg["tool"]["pytest"]["ini_options"]["timeout"] > 0


def test_environment_yml_matches_pyproject() -> None:
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"^name:\s*rayground\s*$", text, re.M)
    section = text.split("\ndependencies:\n", 1)[1]
    deps = re.findall(r"^  - ([A-Za-z0-9_.-]+(?:[<>=!~][^\n]*)?)$", section, re.M)
    names = _names(deps) - {"pip"}
    project = _pyproject()["project"]
    extras = project["optional-dependencies"]
    # The course (Binder, a class's conda env) needs the libraries' extras too: lessons 10-12.
    course = [d for name in ("jupyter", "data", "tune", "serve") for d in extras[name]]
    need = _names(project["dependencies"] + course) | {"pytest", "pytest-timeout"}
    assert need <= names, f"environment.yml lacks {sorted(need - names)}"
    # nodejs: not a Python dependency; the extension's build needs it (setup.sh fetches it).
    # Every extra but `ray` (real Ray is for the compatibility tests and benchmarks only).
    everything = [d for name, deps in extras.items() if name != "ray" for d in deps]
    known = _names(project["dependencies"] + everything) | {
        "python",
        "nodejs",
    }
    assert names <= known, f"environment.yml has extras not in pyproject: {sorted(names - known)}"
    assert re.search(r"^\s+- -e \.\s*$", text, re.M), "environment.yml must pip-install -e ."


# -- entry points --------------------------------------------------------------------


def test_readme_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    assert text.startswith("# "), "README must start with a title line"
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, re.M | re.S)
    assert [b.strip() for b in blocks[:2]] == ["bash scripts/demo.sh", "bash scripts/test.sh"]
    # Nothing but one explanation line between the title and the first command.
    head = text.split("```", 1)[0].strip().splitlines()
    assert len([line for line in head if line.strip()]) == 2, head


def test_ci_runs_the_readme_test_command() -> None:
    run = (ROOT / ".ci" / "run").read_text()
    assert run.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in run
    commands = [line.strip() for line in run.splitlines() if not line.lstrip().startswith("#")]
    assert any(re.fullmatch(r"(exec )?bash scripts/test\.sh( \"\$@\")?", c) for c in commands)


def test_test_script_runs_setup_lint_and_pytest_unmasked() -> None:
    text = (ROOT / "scripts" / "test.sh").read_text()
    assert "set -euo pipefail" in text
    assert "scripts/setup.sh" in text
    assert "ruff check" in text and "ruff format --check" in text
    assert re.search(r"^\.venv/bin/python -m mypy\b", text, re.M)  # [tool.mypy]: rayground._core
    assert re.search(r"^exec \.venv/bin/python -m pytest tests --durations=25 \"\$@\"$", text, re.M)
    assert "|| true" not in text


def test_test_script_installs_real_ray() -> None:
    """The README's test command (CI's) compares with real Ray, so it installs the `ray` extra."""
    text = (ROOT / "scripts" / "test.sh").read_text()
    assert re.search(r"^bash scripts/setup\.sh --with-ray$", text, re.M)


def _extras(*args: str, **env: str) -> list[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("CI", "RAYGROUND_EXTRAS")}
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "setup.sh"), "--print-extras", *args],
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return proc.stdout.strip().split(",")


@pytest.mark.parametrize(
    ("args", "env", "with_ray"),
    [
        ((), {}, False),  # a learner's setup: no Ray, fast
        ((), {"CI": "false"}, False),
        ((), {"CI": "true"}, True),
        (("--with-ray",), {}, True),
        ((), {"RAYGROUND_EXTRAS": "test,ray"}, True),
        (("--with-ray",), {"RAYGROUND_EXTRAS": "test"}, True),
    ],
)
def test_setup_installs_ray_under_ci_or_when_asked(args, env, with_ray) -> None:
    extras = _extras(*args, **env)
    assert ("ray" in extras) is with_ray, extras
    assert extras.count("ray") <= 1
    assert "test" in extras


def test_setup_refuses_an_unknown_argument() -> None:
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "setup.sh"), "--wiht-ray"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 1
    assert "unknown argument '--wiht-ray' (known: --with-ray, --print-extras)" in proc.stderr


def test_the_ray_extra_pins_the_release_the_compat_tests_check() -> None:
    (ray,) = _pyproject()["project"]["optional-dependencies"]["ray"]
    assert re.fullmatch(r"ray\[default,data,serve,tune\]==\d+\.\d+\.\d+", ray), ray


@pytest.mark.parametrize("script", SCRIPTS)
def test_shell_scripts_parse(script: str) -> None:
    path = ROOT / script
    assert path.read_text().startswith("#!/usr/bin/env bash\n")
    subprocess.run(["bash", "-n", str(path)], check=True)


# -- test harness helpers ----------------------------------------------------------------


def test_process_helpers_track_a_child() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in descendants()
        assert process_alive(child.pid)
    finally:
        child.kill()
        child.wait()
    assert not process_alive(child.pid)
    assert child.pid not in descendants()


def test_wait_until_returns_value_and_times_out() -> None:
    calls = []
    assert wait_until(lambda: calls.append(1) or len(calls) >= 3, timeout=5, interval=0) is True
    with pytest.raises(AssertionError, match="never true"):
        wait_until(lambda: False, timeout=0.05, message="never true")


def test_leak_check_kills_and_reports_leaks(tmp_path: Path) -> None:
    """A nested pytest run with leaking tests must fail and clean up after them."""
    if not Path("/proc/self/stat").exists():
        platform_skip("the leak check reads /proc")
    for name in ("conftest.py", "_procs.py", "_needs.py", "_differences.py", "_kept_ray.py"):
        shutil.copy(TESTS / name, tmp_path / name)
    tag = uuid.uuid4().hex
    shm_name = f"rayground-selftest-{tag}"
    have_shm = Path("/dev/shm").is_dir()
    (tmp_path / "test_leaky.py").write_text(
        textwrap.dedent(
            f"""
            import os, subprocess, sys
            from pathlib import Path

            def test_leaks_a_child():
                subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "{tag}"])

            def test_leaks_an_orphan_and_shm():
                # The intermediate shell exits at once: the sleeper is re-parented.
                code = "import time; time.sleep(61)"
                cmd = f"'{{sys.executable}}' -c '{{code}}' {tag} >/dev/null 2>&1 &"
                subprocess.run(["sh", "-c", cmd], check=True)
                if {have_shm!r}:
                    # Shaped like a cluster of this run: a session dir and its shm entry.
                    os.makedirs(Path(os.environ["RAYGROUND_TMPDIR"]) / "selftest-{tag}")
                    Path("/dev/shm/{shm_name}").write_bytes(b"x")
            """
        )
    )
    (tmp_path / "test_clean.py").write_text("def test_ok():\n    pass\n")
    env = dict(os.environ, RAYGROUND_LEAK_WAIT_S="0.5", RAYGROUND_LEAK_CHECK="1")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "module test_leaky.py leaked" in out, out
    assert "time.sleep(60)" in out and "time.sleep(61)" in out, out
    assert "test_clean.py leaked" not in out, out
    if have_shm:
        assert shm_name in out, out
        assert shm_name not in shm_entries()

    def leftovers() -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and process_alive(int(entry.name)):
                try:
                    if tag in (entry / "cmdline").read_bytes().decode(errors="replace"):
                        found.append(int(entry.name))
                except OSError:
                    pass
        return found

    wait_until(lambda: not leftovers(), timeout=5, message="leaked processes were not killed")
