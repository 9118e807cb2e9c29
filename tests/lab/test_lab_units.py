"""Pure parts of the server extension: kernel-to-cluster mapping, ids, the progress reader."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rayground.jupyter import dag
from rayground.jupyter.dag import compact_task, first_line, producer_task
from rayground.jupyter.session import OPEN_PANEL_COMMAND
from rayground.lab import curriculum
from rayground.lab.cluster_hub import ancestors, kernels_of


def test_producer_task_of_return_objects_only() -> None:
    assert producer_task("tabc-1f.0") == "tabc-1f"
    assert producer_task("tabc-1f.12") == "tabc-1f"
    assert producer_task("oabc-3") is None  # a put object
    assert producer_task("") is None


def test_compact_task_keeps_what_the_dag_needs() -> None:
    row = {
        "task_id": "t1-2",
        "name": "combine",
        "state": "FAILED",
        "depends_on": ["t1-1.0", "t1-1.0", "o9-1", "t1-0.0"],
        "worker_pid": 42,
        "start_time_ms": 5,
        "end_time_ms": 9,
        "error_message": "\nValueError: boom\n  more",
    }
    task = compact_task(row)
    assert task["deps"] == ["t1-1", "t1-0"]  # producers, once each; put objects dropped
    assert task["error"] == "ValueError: boom"
    assert first_line("") is None and first_line(None) is None


# The one DAG model: extension/src/__tests__/dag.spec.ts checks the TypeScript side against the
# same file.
FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "dag_model.json").read_text())


def test_dag_model_constants_match_the_shared_fixture() -> None:
    assert list(dag.CATEGORIES) == FIXTURE["categories"]
    assert FIXTURE["labels"] == dag.LABELS
    assert FIXTURE["colors"] == dag.COLORS
    assert FIXTURE["group_above"] == dag.GROUP_ABOVE
    assert {s: dag.category(s) for s in FIXTURE["states"]} == FIXTURE["states"]


@pytest.mark.parametrize("case", FIXTURE["cases"], ids=lambda c: c["name"])
def test_dag_model_matches_the_shared_fixture(case: dict) -> None:
    graph = dag.build(case["tasks"], group_above=case.get("group_above", FIXTURE["group_above"]))
    model = graph.model()
    for node in model["nodes"]:
        node.pop("task", None)  # the task's own fields, for details; not part of the fixture
    assert model == case["expect"]


def test_the_extension_task_type_is_generated_from_the_python_schema() -> None:
    """extension/src/taskrow.ts (ITaskRow, used by dag.ts and api.ts) is scripts/ts_types.py's
    output for `dag.Task`, and `compact_task` makes exactly that schema's keys."""
    root = Path(__file__).resolve().parents[2]
    check = subprocess.run(
        [sys.executable, str(root / "scripts" / "ts_types.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    row = {"task_id": "t1-0", "name": "f", "state": "RUNNING", "blocked": [(1.0, None)]}
    task = compact_task(row)
    assert set(task) == set(dag.Task.__annotations__) | set(dag._TaskKeys.__annotations__)
    assert task["blocked"] == [(1000, None)]


def test_kernels_of_matches_owner_drivers_and_descendants() -> None:
    # A child of this process stands for "a process the kernel started".
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        me = os.getpid()
        assert me in ancestors(child.pid)
        kernels = {"k-me": me, "k-other": 999_999_999}
        assert kernels_of(me, [], kernels) == ["k-me"]
        assert kernels_of(child.pid, [], kernels) == ["k-me"]  # owner is the kernel's child
        assert kernels_of(None, [child.pid], kernels) == ["k-me"]  # a joined driver
        assert kernels_of(None, [], kernels) == []  # `rayground start` cluster, no driver
        assert kernels_of(me, [], {}) == []
    finally:
        child.kill()
        child.wait(10)


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (None, None),
        ("{broken", "cannot read the progress file"),
        ("[1, 2]", "has no 'exercises' map"),
        ('{"version": 1, "exercises": []}', "has no 'exercises' map"),
    ],
)
def test_read_progress_reports_bad_files(tmp_path: Path, content, error) -> None:
    path = tmp_path / "progress.json"
    if content is not None:
        path.write_text(content)
    progress, problem = curriculum.read_progress(path)
    assert progress == {}
    if error is None:
        assert problem is None
    else:
        assert error in problem and str(path) in problem


def test_read_progress_normalises_entries(tmp_path: Path) -> None:
    path = tmp_path / "progress.json"
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "exercises": {
                    "01_tasks:a": {"status": "solved", "attempts": 3, "updated": "T"},
                    "01_tasks:b": {"status": "weird", "attempts": "x"},
                    "01_tasks:c": "not a dict",
                },
            }
        )
    )
    progress, problem = curriculum.read_progress(path)
    assert problem is None
    assert progress == {
        "01_tasks:a": {"status": "solved", "attempts": 3, "updated": "T"},
        "01_tasks:b": {"status": "attempted", "attempts": 0, "updated": ""},
    }


def test_progress_file_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RAYGROUND_PROGRESS_FILE", str(tmp_path / "p.json"))
    assert curriculum.progress_file() == tmp_path / "p.json"
    monkeypatch.delenv("RAYGROUND_PROGRESS_FILE")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert curriculum.progress_file() == tmp_path / "data" / "rayground" / "progress.json"


def test_status_link_runs_the_extensions_open_panel_command() -> None:
    """%ray_init's "Open the panel" names the command the extension registers."""
    commands = (Path(__file__).parents[2] / "extension/src/commands.ts").read_text()
    assert f"export const openPanel = '{OPEN_PANEL_COMMAND}';" in commands
