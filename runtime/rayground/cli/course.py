"""`rayground course`: copy the course into a folder of the learner's and open JupyterLab there."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from .args import UsageError


def add_parser(sub: Any) -> None:
    course = sub.add_parser(
        "course",
        help="copy the course into a folder of your own and open it in JupyterLab",
        description="Copy the lessons, their images and data into DIR (lessons already there "
        "are your work and are kept) and open JupyterLab there, with lesson 00 next to the "
        "rayground panel. The shipped lessons are never edited.",
    )
    course.add_argument("dir", nargs="?", default="rayground-course", help="the working folder")
    course.add_argument(
        "--reset",
        metavar="LESSON",
        help="put the shipped LESSON (e.g. 03 or 03_actors) back; your copy is kept in "
        "DIR/.answers/ and your progress stays",
    )
    course.add_argument("--no-open", action="store_true", help="prepare the folder only")
    course.set_defaults(func=_course)


def _course(args: argparse.Namespace) -> int:
    from rayground.course import folder

    dest = Path(args.dir).expanduser().resolve()
    if args.reset:
        try:
            aside = folder.reset(dest, args.reset)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        print(f"{args.reset}: the shipped lesson is back in {dest}")
        if aside is not None:
            print(f"your previous copy is kept as {aside}")
    copied = folder.make(dest)
    print(f"the course is in {dest} ({len(copied)} file(s) copied, your work kept)")
    if args.no_open:
        return 0
    command = folder.lab_command(dest)
    print(f"starting JupyterLab on 127.0.0.1 in {dest} (Ctrl-C to stop)", flush=True)
    os.chdir(dest)
    os.execv(command[0], command)
    return 0  # not reached
