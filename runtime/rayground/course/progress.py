"""The learner's progress: one JSON file per user, read by the JupyterLab panel (contract 3).

    {"version": 1, "exercises": {"01_tasks:squares": {"status": "solved", "attempts": 2,
                                                      "updated": "2026-11-23T13:05:00Z"}}}

The file is `$RAYGROUND_PROGRESS_FILE`, else `${XDG_DATA_HOME:-~/.local/share}/rayground/
progress.json`. Writes go to a temp file in the same directory and are renamed over the old file,
so a reader (the panel, a second kernel) never sees half a file. A file we cannot parse is kept
aside as `progress.json.broken-<time>` rather than overwritten: nothing the learner earned is
dropped silently.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

VERSION = 1
SOLVED = "solved"
ATTEMPTED = "attempted"


def progress_path() -> Path:
    explicit = os.environ.get("RAYGROUND_PROGRESS_FILE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local/share")
    return Path(base) / "rayground" / "progress.json"


def load_progress(path: Path | None = None) -> dict[str, Any]:
    """The progress document; an empty one if there is none yet."""
    path = path or progress_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {"version": VERSION, "exercises": {}}
    try:
        doc = json.loads(text)
        if not isinstance(doc, dict) or not isinstance(doc.get("exercises"), dict):
            raise ValueError("no 'exercises' table")
    except ValueError:
        # Keep the unreadable file for the learner to inspect; start a fresh one.
        aside = path.with_name(f"{path.name}.broken-{int(time.time())}")
        os.replace(path, aside)
        return {"version": VERSION, "exercises": {}}
    doc.setdefault("version", VERSION)
    return doc


def record_attempt(key: str, solved: bool, path: Path | None = None) -> dict[str, Any]:
    """Count one graded attempt at `key` ("<lesson-stem>:<exercise-id>"); returns its entry.

    Once solved, an exercise stays solved: a later wrong experiment does not take it back.
    """
    path = path or progress_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):  # two kernels checking at once must not lose each other's attempts
        doc = load_progress(path)
        entry = _count(doc, key, solved)
        _write_atomic(path, doc)
    return entry


def _count(doc: dict[str, Any], key: str, solved: bool) -> dict[str, Any]:
    entry = doc["exercises"].get(key) or {"status": ATTEMPTED, "attempts": 0}
    entry["attempts"] = int(entry.get("attempts", 0)) + 1
    if solved or entry.get("status") == SOLVED:
        entry["status"] = SOLVED
    else:
        entry["status"] = ATTEMPTED
    entry["updated"] = _now()
    doc["exercises"][key] = entry
    return entry


@contextlib.contextmanager
def _locked(path: Path):
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _now() -> str:
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_atomic(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".progress-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
