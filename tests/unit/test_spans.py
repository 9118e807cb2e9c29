"""The one parallelism sweep (rayground/jupyter/spans.py) that %%ray_explain's report and the
course's run record both count "how many ran at once" with."""

from __future__ import annotations

import pytest

from _needs import need_module
from rayground.course.observe import RunRecord, TaskSpan
from rayground.jupyter.spans import HANDOVER_S, parallelism, peak_parallelism, union_length


def test_back_to_back_tasks_on_one_worker_are_one_at_a_time() -> None:
    # The head starts the next task a moment before it records the previous one finished.
    spans = [(0.0, 1.0), (1.0 - HANDOVER_S / 2, 2.0), (2.0, 3.0)]
    assert peak_parallelism(spans) == 1
    peak, mean = parallelism(spans)
    assert peak == 1
    assert mean == pytest.approx(1.0, abs=0.01)


def test_overlapping_tasks_count_at_once_even_when_tiny() -> None:
    assert peak_parallelism([(0.0, 1.0), (0.5, 1.5)]) == 2
    # Two 1 ms tasks at the same time: the hand-over margin takes at most half of each.
    assert peak_parallelism([(0.0, 0.001), (0.0, 0.001)]) == 2
    assert parallelism([(0.0, 1.0), (0.0, 1.0), (0.0, 2.0)]) == (3, pytest.approx(2.0))


def test_no_spans_and_zero_length_spans() -> None:
    assert parallelism([]) == (0, 0.0)
    assert union_length([]) == 0.0
    # A span of no length is never running (its end sorts before its start).
    assert parallelism([(5.0, 5.0), (5.0, 5.0)]) == (0, 0.0)
    # All of a window at one task: the mean is the peak.
    assert parallelism([(1.0, 2.0)]) == (1, 1.0)


def test_union_length_counts_overlaps_once() -> None:
    assert union_length([(0.0, 1.0), (0.5, 2.0), (3.0, 4.0)]) == pytest.approx(3.0)
    assert union_length([(3.0, 4.0), (0.0, 10.0)]) == pytest.approx(10.0)


def _span(i: int, start: float, end: float) -> TaskSpan:
    return TaskSpan(f"t{i}", "f", "NORMAL_TASK", "FINISHED", start, start, end, [], [], None, 1)


def test_course_record_counts_with_the_same_sweep_as_the_report() -> None:
    spans = [(0.0, 1.0), (0.2, 0.9), (0.95, 2.0), (1.5, 1.6)]
    record = RunRecord(
        "rayground", True, 0.0, wall_s=2.0, spans=[_span(i, *s) for i, s in enumerate(spans)]
    )
    assert record.max_parallel() == parallelism(spans)[0] == 2


def test_peak_is_the_most_running_at_any_start() -> None:
    """Against the definition: at each start instant, count the spans running then (an end
    moved `HANDOVER_S` early, at most half the span, sorts before a start at the same time)."""
    hypothesis = need_module("hypothesis", "hypothesis is not installed: the `test` extra")
    from hypothesis import strategies as st

    def brute(spans: list[tuple[float, float]]) -> int:
        ends = [e - min(HANDOVER_S, max(0.0, e - s) / 2) for s, e in spans]
        pairs = list(zip(spans, ends, strict=True))
        return max((sum(1 for (s, _), e in pairs if s <= t < e) for t, _ in spans), default=0)

    times = st.integers(0, 40).map(lambda n: n * 0.001)  # millisecond grid: ties and hand-overs
    spans = st.lists(st.tuples(times, times).map(lambda p: (min(p), max(p))), max_size=12)

    @hypothesis.settings(max_examples=300, deadline=None)
    @hypothesis.given(spans)
    def check(spans: list[tuple[float, float]]) -> None:
        assert peak_parallelism(spans) == brute(spans)

    check()
