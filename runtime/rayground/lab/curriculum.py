"""The course as the panel lists it: lessons (`NN_slug.ipynb`) and the learner's progress file.

Lessons live in the Jupyter server's root or its `notebooks/` folder. A lesson's title is the first
`# ` heading of its first markdown cell; its exercises are code cells tagged `exercise` whose
metadata names them (`{"rayground": {"exercise_id": "<stem>:<id>"}}`). Progress is the JSON file
the course writes (`$RAYGROUND_PROGRESS_FILE`, else `$XDG_DATA_HOME/rayground/progress.json`):
`{"version": 1, "exercises": {"<stem>:<id>": {"status", "attempts", "updated"}}}`. Summing it up
per lesson is the browser's job (extension/src/progress.ts); this module only reads files, and a
broken file is reported, never fatal.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

LESSON_NAME = re.compile(r"^(\d\d)_[\w.-]+\.ipynb$")
LESSON_DIRS = ("", "notebooks")


def progress_file() -> Path:
    explicit = os.environ.get("RAYGROUND_PROGRESS_FILE")
    if explicit:
        return Path(explicit).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or os.path.join("~", ".local", "share")
    return Path(data_home).expanduser() / "rayground" / "progress.json"


def read_progress(path: Path | None = None) -> tuple[dict[str, Any], str | None]:
    """The progress file's `exercises` map and an error text (None when the file is fine)."""
    path = path or progress_file()
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}, None
    except (OSError, ValueError) as exc:
        return {}, f"cannot read the progress file {path}: {exc}"
    exercises = data.get("exercises") if isinstance(data, dict) else None
    if not isinstance(exercises, dict):
        return {}, f"the progress file {path} has no 'exercises' map (version {data!r:.40})"
    clean = {}
    for key, entry in exercises.items():
        if isinstance(key, str) and isinstance(entry, dict):
            clean[key] = {
                "status": entry.get("status")
                if entry.get("status") in ("solved", "attempted")
                else "attempted",
                "attempts": int(entry.get("attempts") or 0)
                if str(entry.get("attempts") or 0).isdigit()
                else 0,
                "updated": str(entry.get("updated") or ""),
            }
    return clean, None


def _lesson_info(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        nb = json.load(f)
    cells = nb.get("cells") or []
    title = None
    for cell in cells:
        if cell.get("cell_type") != "markdown":
            continue
        for line in _source(cell).splitlines():
            if line.startswith("# "):
                title = line[2:].strip()
                break
        break  # only the first markdown cell names the lesson
    exercises = []
    for cell in cells:
        meta = cell.get("metadata") or {}
        if cell.get("cell_type") != "code" or "exercise" not in (meta.get("tags") or ()):
            continue
        ex_id = (meta.get("rayground") or {}).get("exercise_id")
        if isinstance(ex_id, str) and ex_id and ex_id not in exercises:
            exercises.append(ex_id)
    return {"title": title or path.stem, "exercises": exercises}


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source") or ""
    return "".join(src) if isinstance(src, list) else str(src)


class Curriculum:
    """Lessons under a server root, re-read only when a notebook's mtime changes."""

    def __init__(self, root: str) -> None:
        self.root = Path(root)
        self._cache: dict[Path, tuple[float, dict[str, Any]]] = {}

    def lessons(self) -> list[dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for sub in LESSON_DIRS:
            folder = self.root / sub if sub else self.root
            try:
                names = sorted(os.listdir(folder))
            except OSError:
                continue
            for name in names:
                if not LESSON_NAME.match(name):
                    continue
                path = folder / name
                stem = path.stem
                if stem in found:  # the root's copy wins over notebooks/ (the learner's own)
                    continue
                found[stem] = self._lesson(path, stem)
        return sorted(found.values(), key=lambda lesson: (lesson["number"], lesson["stem"]))

    def _lesson(self, path: Path, stem: str) -> dict[str, Any]:
        rel = path.relative_to(self.root).as_posix()
        base = {"path": rel, "stem": stem, "number": int(stem[:2])}
        try:
            mtime = path.stat().st_mtime
            cached = self._cache.get(path)
            if cached is None or cached[0] != mtime:
                cached = (mtime, _lesson_info(path))
                self._cache[path] = cached
            return {**base, **cached[1], "error": None}
        except (OSError, ValueError, AttributeError) as exc:
            return {**base, "title": stem, "exercises": [], "error": f"cannot read {rel}: {exc}"}

    def state(self) -> dict[str, Any]:
        path = progress_file()
        progress, error = read_progress(path)
        return {
            "lessons": self.lessons(),
            "progress": progress,
            "progress_file": str(path),
            "progress_error": error,
        }
