"""How task run intervals overlap: the one parallelism sweep, and the length of their union.

The run analysis (analysis.py: `%%ray_explain`, the report under an exercise's feedback) and the
course's run record (course/observe.py: `RunRecord.max_parallel`, which the exercise checks
compare against) both count "how many ran at once" here, so a learner never sees two different
answers for one run. Plain functions over `(start, end)` pairs in seconds: no cluster, no IPython.
"""

from __future__ import annotations

from collections.abc import Iterable

# The head may start a worker's next task just before it records the previous one finished;
# within this margin an end counts a moment early, so a hand-over never reads as one more at once.
HANDOVER_S = 0.002

Span = tuple[float, float]


def parallelism(spans: Iterable[Span]) -> tuple[int, float]:
    """The most spans running at the same moment, and the time-weighted mean of how many ran
    over the window from the first start to the last end (the peak when that window is empty)."""
    spans = list(spans)
    if not spans:
        return 0, 0.0
    points = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    running = 0
    area = 0.0
    last = points[0][0]
    for t, delta in points:
        area += running * (t - last)
        last = t
        running += delta
    peak = peak_parallelism(spans)
    window = max(e for _, e in spans) - min(s for s, _ in spans)
    return peak, (area / window if window > 0 else float(peak))


def peak_parallelism(spans: Iterable[Span]) -> int:
    """The most spans running at the same moment; an end within `HANDOVER_S` of a start does
    not overlap it (at most half the span is taken off, so a tiny task still counts)."""
    edges = []
    for s, e in spans:
        edges.append((s, 1))
        edges.append((e - min(HANDOVER_S, max(0.0, e - s) / 2), -1))
    running = peak = 0
    for _, step in sorted(edges):  # an end and a start at the same instant: the end sorts first
        running += step
        peak = max(peak, running)
    return peak


def union_length(spans: Iterable[Span]) -> float:
    """Seconds covered by at least one span (overlaps counted once)."""
    total = 0.0
    cur_s = cur_e = None
    for s, e in sorted(spans):
        if cur_e is None or s > cur_e:
            if cur_s is not None and cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_s is not None and cur_e is not None:
        total += cur_e - cur_s
    return total
