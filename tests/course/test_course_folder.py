"""`rayground course [DIR]`: the learner's own copy of the course, reset per lesson, opened
clean."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import tomllib
from course_notebooks import NOTEBOOKS, ROOT, lesson_stems

from rayground.course import folder


def test_make_copies_lessons_and_data_and_keeps_the_learners_work(tmp_path):
    dest = tmp_path / "course"
    dest.mkdir()
    mine = dest / "01_tasks.ipynb"
    mine.write_text("my answers")
    copied = folder.make(dest)
    assert "01_tasks.ipynb" not in copied and mine.read_text() == "my answers"
    for stem in lesson_stems():
        if stem != "01_tasks":
            assert (dest / f"{stem}.ipynb").read_bytes() == (
                NOTEBOOKS / f"{stem}.ipynb"
            ).read_bytes()
    assert (dest / "data/penguins.csv").read_bytes() == (
        NOTEBOOKS / "data/penguins.csv"
    ).read_bytes()
    assert folder.make(dest) == []  # a second run copies nothing and overwrites nothing


def test_the_folder_opens_with_lesson_00_beside_the_panel(tmp_path):
    folder.make(tmp_path)
    [workspace] = (tmp_path / folder.WORKSPACES).glob("*.jupyterlab-workspace")
    data = json.loads(workspace.read_text())["data"]
    left = data["layout-restorer:data"]["left"]
    assert left["current"] == "rayground-panel" and not left["collapsed"]
    assert data["layout-restorer:data"]["main"]["current"] == "notebook:00_welcome.ipynb"
    command = folder.lab_command(tmp_path)
    assert "--ip=127.0.0.1" in command and f"--ServerApp.root_dir={tmp_path}" in command
    assert f"--LabApp.workspaces_dir={tmp_path / folder.WORKSPACES}" in command
    assert "--LabApp.news_url=None" in command and command[-1] == "00_welcome.ipynb"


def test_reset_keeps_the_answers_aside_and_the_progress(tmp_path, monkeypatch):
    progress = tmp_path / "progress.json"
    progress.write_text('{"version": 1, "exercises": {"03_actors:pool": {"status": "solved"}}}')
    monkeypatch.setenv("RAYGROUND_PROGRESS_FILE", str(progress))
    dest = tmp_path / "course"
    folder.make(dest)
    (dest / "03_actors.ipynb").write_text("my answers")
    aside = folder.reset(dest, "3")
    assert aside is not None and aside.parent == dest / folder.ANSWERS
    assert aside.read_text() == "my answers"
    assert (dest / "03_actors.ipynb").read_bytes() == (NOTEBOOKS / "03_actors.ipynb").read_bytes()
    (dest / "03_actors.ipynb").write_text("second try")
    second = folder.reset(dest, "03_actors.ipynb")
    assert second != aside and second.read_text() == "second try" and aside.exists()
    assert "solved" in progress.read_text()
    with pytest.raises(ValueError, match="there is no lesson '42'; the lessons are 00_welcome"):
        folder.reset(dest, "42")


def test_cli_prepares_the_folder_and_names_bad_lessons(tmp_path):
    dest = tmp_path / "mine"
    cmd = [sys.executable, "-m", "rayground", "course", str(dest), "--no-open"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert f"the course is in {dest}" in proc.stdout and (dest / "00_welcome.ipynb").exists()
    bad = subprocess.run([*cmd, "--reset", "nine"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "there is no lesson 'nine'" in bad.stderr


def test_the_package_ships_the_course_and_quiet_lab_settings():
    shared = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]
    data = shared["targets"]["wheel"]["shared-data"]
    assert data["notebooks"] == "share/rayground/course"
    source = "runtime/rayground/course/jupyterlab/overrides.json"
    assert data[source] == "share/jupyter/lab/settings/overrides.json"
    overrides = json.loads((ROOT / source).read_text())
    notify = overrides["@jupyterlab/apputils-extension:notification"]
    assert notify["fetchNews"] == "false" and notify["checkForUpdates"] is False
