"""`Lesson`: the learner's handle on a lesson's exercises: check, hint, solution, progress."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Any

from . import progress
from .exercise import NOT_STARTED, Exercise, Verdict, grade

_STEM = re.compile(r"^(\d\d)_([a-z0-9_]+)$")


@dataclass
class Text:
    """Plain text that displays as itself in a notebook (hints, solutions, progress tables)."""

    text: str

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__


def exercises_of(stem: str) -> dict[str, Exercise]:
    """The exercises of lesson `stem` ("01_tasks"), from `rayground.course.lessons.l01_tasks`."""
    match = _STEM.match(stem)
    if not match:
        raise ValueError(
            f"a lesson is named like its notebook without .ipynb, e.g. '01_tasks'; got {stem!r}"
        )
    try:
        module = importlib.import_module(f"rayground.course.lessons.l{stem}")
    except ModuleNotFoundError:
        raise ValueError(
            f"there is no lesson {stem!r}; lessons with exercises: {', '.join(lesson_stems())}"
        ) from None
    return {ex.id: ex for ex in module.EXERCISES}


def lesson_stems() -> list[str]:
    import pkgutil

    from . import lessons

    return sorted(m.name[1:] for m in pkgutil.iter_modules(lessons.__path__) if m.name[0] == "l")


class Lesson:
    """The exercises of one lesson. `lesson = Lesson("01_tasks")`, then in check cells
    `lesson.check("squares", parallel_squares)`; `lesson.hint("squares")` gives the next hint,
    `lesson.solution("squares")` shows our solution, `lesson.progress()` the scoreboard."""

    def __init__(self, stem: str) -> None:
        self.stem = stem
        self.exercises = exercises_of(stem)
        self._hints_shown: dict[str, int] = {}

    def _exercise(self, exercise_id: str) -> Exercise:
        if exercise_id.startswith(self.stem + ":"):
            exercise_id = exercise_id[len(self.stem) + 1 :]
        try:
            return self.exercises[exercise_id]
        except KeyError:
            raise ValueError(
                f"lesson {self.stem} has no exercise {exercise_id!r}; its exercises are "
                f"{', '.join(self.exercises)}"
            ) from None

    def key(self, exercise_id: str) -> str:
        return f"{self.stem}:{self._exercise(exercise_id).id}"

    def check(self, exercise_id: str, answer: Any) -> Verdict:
        """Grade `answer` (what the exercise cell defined); save the attempt unless untouched.

        Never raises for a wrong or unfinished answer: the verdict says what to do next.
        """
        exercise = self._exercise(exercise_id)
        verdict = grade(exercise, self.key(exercise_id), answer)
        if verdict.status != NOT_STARTED:
            try:
                entry = progress.record_attempt(verdict.key, verdict.solved)
                verdict.attempts = entry["attempts"]
            except OSError as exc:
                verdict.how.append(f"(progress not saved: {exc})")
        if not verdict.solved and exercise.hints:
            verdict.try_next = (verdict.try_next + " " if verdict.try_next else "") + (
                f'Stuck? lesson.hint("{exercise.id}") gives a hint.'
            )
        return verdict

    def hint(self, exercise_id: str) -> Text:
        """The next hint for the exercise (each call reveals one more)."""
        exercise = self._exercise(exercise_id)
        shown = self._hints_shown.get(exercise.id, 0)
        if shown >= len(exercise.hints):
            return Text(
                f"No more hints for {exercise.id}. "
                f'lesson.solution("{exercise.id}") shows our solution.'
            )
        self._hints_shown[exercise.id] = shown + 1
        return Text(f"Hint {shown + 1}/{len(exercise.hints)}: {exercise.hints[shown]}")

    def solution(self, exercise_id: str) -> Text:
        """Our reference solution, as source to read (it is not run for you)."""
        exercise = self._exercise(exercise_id)
        return Text(f"# Reference solution for {self.key(exercise_id)}\n{exercise.solution}")

    def progress(self) -> Text:
        """This lesson's exercises and how far you got with each (from your progress file)."""
        saved = progress.load_progress()["exercises"]
        lines = [f"Lesson {self.stem}:"]
        for ex in self.exercises.values():
            entry = saved.get(f"{self.stem}:{ex.id}", {})
            status = entry.get("status", "not started")
            tries = entry.get("attempts", 0)
            lines.append(f"  {ex.id:<16} {status:<10} ({tries} attempts)  {ex.title}")
        return Text("\n".join(lines))
