"""The course machinery: exercises that check themselves, hints, solutions and saved progress.

In a lesson notebook (`notebooks/NN_slug.ipynb`)::

    from rayground.course import Lesson
    lesson = Lesson("01_tasks")                  # the notebook's stem

    # exercise cell (tag `exercise`, metadata {"rayground": {"exercise_id": "01_tasks:squares"}})
    def parallel_squares(numbers):
        raise NotImplementedError  # the learner replaces this line

    lesson.check("squares", parallel_squares)    # check cell: the verdict is the cell's output
    lesson.hint("squares")                       # next hint, one per call
    lesson.solution("squares")                   # our solution, shown only when asked for
    lesson.progress()                            # this lesson's scoreboard

One style everywhere: a check is a call, `lesson.check(<exercise id>, <what the cell defined>)`.
It never raises for an unfinished or wrong answer. The verdict lists what was right and wrong and
how the code ran (tasks per function, peak parallelism, measured speed-up, put refs passed, actors
created), from the cluster's recorded task events (`observe.py`, Ray's state API on Ray), and
decides from evidence that the answer did the work: the lesson's helpers are swapped for twins
whose results are marked (`evidence.py`), so values computed in the notebook, data fetched that
should stay on the cluster and copies made by value are seen on every backend. Graded attempts
go to the progress file (`progress.py`, read by
the JupyterLab panel); an untouched exercise is not counted.

Writing a lesson: add `lessons/l<stem>.py` with `EXERCISES = [Exercise(...)]`. Each exercise
names what the cell defines (`answer`), hints, a reference solution (source; the tests run the
notebook with it filled in) and `grade(answer, g)`, which calls the answer with `g.run(...)` and
states facts with `g.expect(ok, "line if true", "line if false")`, `g.expect_from_tasks(...)`,
`g.expect_stayed(...)`, `g.expect_overlap(...)` and `g.expect_known(...)` for facts from the
task records. `g.record` is the `observe.RunRecord` of the last run. See docs/teaching.md
("Writing a lesson", "What a check checks, on each backend").
"""

from __future__ import annotations

from .exercise import Exercise, Grader, Verdict
from .lesson import Lesson, lesson_stems
from .observe import RunRecord, watch
from .progress import load_progress, progress_path
from .setup_check import setup_check

__all__ = [
    "Exercise",
    "Grader",
    "Lesson",
    "RunRecord",
    "Verdict",
    "lesson_stems",
    "load_progress",
    "progress_path",
    "setup_check",
    "watch",
]
