"""The learner's working folder: a copy of the course that they edit, never the shipped lessons.

    rayground course [DIR]            # copy the lessons and their data into DIR, open JupyterLab
    rayground course DIR --reset 03   # the shipped 03_actors back; the learner's copy kept aside

`make()` copies what is missing (a lesson already there is the learner's work and stays as it
is). `reset()` moves the learner's copy of a lesson to `DIR/.answers/` with the time in its name
and puts the shipped lesson back; progress lives in the progress file and is not touched.
`lab_command()` is how the folder is opened: JupyterLab on loopback, rooted in the folder, with
lesson 00 open next to the rayground panel (a workspace written into the folder) and no news or
update prompts (the same settings the package installs as JupyterLab's overrides.json).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

from .lesson import _STEM

WORKSPACES = ".jupyter-workspaces"  # JupyterLab's saved layouts for this folder
ANSWERS = ".answers"  # learners' copies of lessons that were reset


def shipped() -> Path:
    """The course as shipped: the checkout's notebooks/, else the installed copy."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[3] / "notebooks", Path(sys.prefix) / "share/rayground/course"):
        if any(candidate.glob("[0-9][0-9]_*.ipynb")):
            return candidate
    raise FileNotFoundError(
        "the course's notebooks were not found next to this rayground nor in "
        f"{Path(sys.prefix) / 'share/rayground/course'}: reinstall rayground"
    )


def lessons(source: Path | None = None) -> list[str]:
    """The lesson stems, in order ("00_welcome", ...)."""
    source = source or shipped()
    return sorted(p.stem for p in source.glob("[0-9][0-9]_*.ipynb") if _STEM.match(p.stem))


def make(dest: Path, source: Path | None = None) -> list[str]:
    """Copy the lessons and their data into `dest` where missing; returns what was copied."""
    source = source or shipped()
    dest.mkdir(parents=True, exist_ok=True)
    copied = []
    for stem in lessons(source):
        target = dest / f"{stem}.ipynb"
        if not target.exists():
            shutil.copyfile(source / f"{stem}.ipynb", target)
            copied.append(target.name)
    data = source / "data"
    if data.is_dir():
        for path in sorted(data.rglob("*")):
            target = dest / "data" / path.relative_to(data)
            if path.is_file() and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
                copied.append(str(target.relative_to(dest)))
    _write_workspace(dest)
    return copied


def find_lesson(name: str, source: Path | None = None) -> str:
    """The stem a learner means by "3", "03", "03_actors" or "03_actors.ipynb"."""
    stems = lessons(source)
    wanted = name.removesuffix(".ipynb")
    if wanted.isdigit():
        wanted = f"{int(wanted):02d}"
    matches = [s for s in stems if s == wanted or s.split("_", 1)[0] == wanted]
    if len(matches) != 1:
        raise ValueError(f"there is no lesson {name!r}; the lessons are {', '.join(stems)}")
    return matches[0]


def reset(dest: Path, name: str, source: Path | None = None) -> Path | None:
    """Put the shipped lesson back in `dest`; the learner's copy goes to `dest/.answers/`
    (returned; None if there was none). Progress is not touched."""
    source = source or shipped()
    stem = find_lesson(name, source)
    target = dest / f"{stem}.ipynb"
    aside = None
    if target.exists():
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        aside = dest / ANSWERS / f"{stem}-{stamp}.ipynb"
        aside.parent.mkdir(parents=True, exist_ok=True)
        n = 1
        while aside.exists():  # two resets in one second keep both copies
            aside = aside.with_name(f"{stem}-{stamp}-{n}.ipynb")
            n += 1
        target.replace(aside)
    shutil.copyfile(source / f"{stem}.ipynb", target)
    return aside


def lab_command(dest: Path, lesson: str = "00_welcome.ipynb") -> list[str]:
    """JupyterLab on loopback in `dest`, opening `lesson`, quiet (no news, no update check)."""
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--ip=127.0.0.1",
        f"--ServerApp.root_dir={dest}",
        f"--LabApp.workspaces_dir={dest / WORKSPACES}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if os.getuid() == 0:
        command.append("--allow-root")  # containers often run as root
    return [*command, lesson]


def _write_workspace(dest: Path) -> None:
    """JupyterLab's default layout for this folder: lesson 00 in front, the rayground panel open
    in the left side bar. Written once; JupyterLab keeps it up to date as the learner works."""
    try:
        from jupyterlab_server.workspaces_handler import slugify
    except ImportError:  # no JupyterLab here (the `jupyter` extra): nothing will read it
        return
    folder = dest / WORKSPACES
    path = folder / f"{slugify('default')}.jupyterlab-workspace"
    if path.exists():
        return
    first = "notebook:00_welcome.ipynb"
    layout = {
        "data": {
            "layout-restorer:data": {
                "main": {
                    "dock": {"type": "tab-area", "currentIndex": 0, "widgets": [first]},
                    "current": first,
                },
                "left": {
                    "collapsed": False,
                    "visible": True,
                    "current": "rayground-panel",
                    "widgets": ["filebrowser", "rayground-panel"],
                },
                "right": {"collapsed": True, "visible": True, "widgets": []},
                "relativeSizes": [0.25, 0.75, 0],
            },
            first: {"data": {"path": "00_welcome.ipynb", "factory": "Notebook"}},
        },
        "metadata": {"id": "default"},
    }
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(layout, indent=1))
