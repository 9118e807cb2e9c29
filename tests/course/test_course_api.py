"""The exercise API as a learner and a lesson author meet it, on a real local cluster."""

from __future__ import annotations

import json
import time

import pytest

import rayground as ray
from rayground.course import Lesson, lesson_stems
from rayground.course.observe import RunRecord, TaskSpan


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=4)
    yield
    ray.shutdown()


@pytest.fixture
def progress_file(tmp_path, monkeypatch):
    path = tmp_path / "progress.json"
    monkeypatch.setenv("RAYGROUND_PROGRESS_FILE", str(path))
    return path


def test_bad_names_say_what_exists():
    with pytest.raises(ValueError, match="named like its notebook"):
        Lesson("tasks")
    with pytest.raises(ValueError, match="01_tasks"):
        Lesson("99_nothing")
    with pytest.raises(ValueError, match="squares, chain, deadline"):
        Lesson("01_tasks").check("nope", print)
    assert lesson_stems()[:5] == [
        "00_welcome", "01_tasks", "02_task_graphs", "03_actors", "04_object_store",
    ]  # fmt: skip


def test_hints_one_at_a_time_then_point_to_the_solution():
    lesson = Lesson("01_tasks")
    hints = [lesson.hint("squares").text for _ in range(4)]
    assert [h[:8] for h in hints[:3]] == ["Hint 1/3", "Hint 2/3", "Hint 3/3"]
    assert 'lesson.solution("squares")' in hints[3]
    assert "def parallel_squares" in lesson.solution("01_tasks:squares").text


@pytest.mark.parametrize("stem", lesson_stems())
def test_hints_come_in_three_steps_and_never_give_the_solution_away(stem):
    for ex in Lesson(stem).exercises.values():
        assert len(ex.hints) == 3, f"{stem}:{ex.id} has {len(ex.hints)} hints; give three steps"
        code = [
            line.strip()
            for line in ex.solution.splitlines()
            if len(line.strip()) >= 30 and not line.strip().startswith(("def ", "@", "class "))
        ]
        for hint in ex.hints:
            leaked = [line for line in code if line in hint]
            assert not leaked, f"{stem}:{ex.id}'s hint gives the solution's {leaked[0]!r}"


def test_placeholder_is_not_an_attempt(cluster, progress_file):
    def parallel_squares(numbers):
        """Docstrings and comments do not count as an answer."""
        raise NotImplementedError  # your code

    verdict = Lesson("01_tasks").check("squares", parallel_squares)
    assert verdict.status == "not started" and not verdict.solved
    assert "not solved yet" in verdict.text() and 'lesson.hint("squares")' in verdict.text()
    assert not progress_file.exists()


def test_an_answer_that_raises_is_feedback_not_an_exception(cluster, progress_file):
    def parallel_squares(numbers):
        return 1 / 0

    verdict = Lesson("01_tasks").check("squares", parallel_squares)
    assert verdict.status == "not solved yet"
    assert "raised ZeroDivisionError: division by zero" in verdict.text()
    saved = json.loads(progress_file.read_text())["exercises"]["01_tasks:squares"]
    assert saved["status"] == "attempted" and saved["attempts"] == 1


def test_a_task_error_is_reported_with_its_type(cluster, progress_file):
    @ray.remote
    def greet(name):
        raise KeyError(name)

    verdict = Lesson("00_welcome").check("greet", greet)
    assert verdict.status == "not solved yet"
    assert "KeyError" in verdict.text()


def test_solved_verdict_reports_how_it_ran(cluster, progress_file):
    @ray.remote
    def nap(seconds):
        time.sleep(seconds)
        return seconds

    def two_naps():
        return ray.get([nap.remote(0.5), nap.remote(0.5)])

    verdict = Lesson("00_welcome").check("two_naps", two_naps)
    assert verdict.solved, verdict
    text = verdict.text()
    assert "up to 2 at once" in text
    assert "faster than one after another (measured by the workers)" in text
    assert "2 task(s): nap x2" in text  # the run analysis's summary
    entry = json.loads(progress_file.read_text())["exercises"]["00_welcome:two_naps"]
    assert entry["status"] == "solved" and entry["attempts"] == 1


def _span(name: str, created: float, start: float, end: float) -> TaskSpan:
    return TaskSpan(name, name, "NORMAL_TASK", "FINISHED", created, start, end, [], [], None, 1)


def test_run_record_arithmetic():
    record = RunRecord(backend="rayground", known=True, started=0.0, wall_s=1.0, cpus=4)
    together = [_span("a", 0.0, 0.0, 0.5), _span("b", 0.0, 0.0, 0.5)]
    record.spans = together
    assert record.max_parallel() == 2 and record.speedup() == pytest.approx(1.0)
    assert not record.submitted_one_by_one(together)
    # back to back: the next starts exactly when the previous one ends, submitted after it
    serial = [_span("a", 0.0, 0.0, 0.5), _span("b", 0.5, 0.5, 1.0)]
    record.spans = serial
    assert record.max_parallel() == 1
    assert record.submitted_one_by_one(serial)
