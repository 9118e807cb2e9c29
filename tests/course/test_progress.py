"""The progress file (contract 3): format, atomic writes, concurrent kernels, broken files kept."""

from __future__ import annotations

import json
import multiprocessing
import re

from rayground.course import progress


def test_path_follows_env_then_xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("RAYGROUND_PROGRESS_FILE", str(tmp_path / "p.json"))
    assert progress.progress_path() == tmp_path / "p.json"
    monkeypatch.delenv("RAYGROUND_PROGRESS_FILE")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert progress.progress_path() == tmp_path / "xdg" / "rayground" / "progress.json"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    expected = tmp_path / "home" / ".local/share/rayground/progress.json"
    assert progress.progress_path() == expected


def test_attempts_count_and_solved_sticks(tmp_path):
    path = tmp_path / "sub" / "progress.json"
    progress.record_attempt("01_tasks:squares", False, path)
    progress.record_attempt("01_tasks:squares", True, path)
    entry = progress.record_attempt("01_tasks:squares", False, path)
    assert entry["status"] == "solved" and entry["attempts"] == 3
    doc = json.loads(path.read_text())
    assert doc["version"] == 1
    saved = doc["exercises"]["01_tasks:squares"]
    assert saved["status"] == "solved" and saved["attempts"] == 3
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", saved["updated"])
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".progress-")] == []


def test_broken_file_is_kept_aside_not_lost(tmp_path):
    path = tmp_path / "progress.json"
    path.write_text("{ not json")
    progress.record_attempt("00_welcome:greet", True, path)
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("progress.json.broken-")]
    assert len(aside) == 1 and aside[0].read_text() == "{ not json"
    assert json.loads(path.read_text())["exercises"]["00_welcome:greet"]["status"] == "solved"


def _hammer(path: str, n: int) -> None:
    from pathlib import Path

    for _ in range(n):
        progress.record_attempt("02_task_graphs:fan_in", False, Path(path))


def test_two_kernels_at_once_lose_no_attempt(tmp_path):
    path = tmp_path / "progress.json"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_hammer, args=(str(path), 25)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    entry = json.loads(path.read_text())["exercises"]["02_task_graphs:fan_in"]
    assert entry == {**entry, "status": "attempted", "attempts": 50}
