"""Tasks per worker over time. The live picture is the task stream (extension/src/stream.ts and
streamview.ts, drawn by the notebook widget as in the panel); here are the spans the analysis
and tests read, the stable text form nbval compares, and the copies between nodes the stream
marks as transfers."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any


def spans(rows: list[dict[str, Any]], now: float) -> dict[Any, list[tuple[str, float, float, str]]]:
    """worker pid -> [(name, start, end, state)] for tasks that started running."""
    out: dict[Any, list[tuple[str, float, float, str]]] = defaultdict(list)
    for r in rows:
        times = dict(r.get("events") or [])
        start = times.get("RUNNING")
        if start is None and r.get("start_time_ms"):
            start = r["start_time_ms"] / 1000
        if start is None:
            continue
        end = times.get("FINISHED") or times.get("FAILED")
        if end is None and r.get("end_time_ms"):
            end = r["end_time_ms"] / 1000
        state = r.get("state", "")
        if end is None:
            end = now
        out[r.get("worker_pid")].append((r.get("name") or "?", start, max(end, start), state))
    return out


def text(rows: list[dict[str, Any]], now: float) -> str:
    """Stable across runs: which worker ran which task varies, so that is left to the picture."""
    by_worker = spans(rows, now)
    items = [item for v in by_worker.values() for item in v]
    if not items:
        return "timeline: no task has run yet"
    t0 = min(s for _, s, _, _ in items)
    t1 = max(e for _, _, e, _ in items)
    counts = Counter(name for name, *_ in items)
    what = ", ".join(f"{name} x{c}" for name, c in sorted(counts.items()))
    return f"timeline: {len(items)} task(s) over {t1 - t0:.2f} s: {what}"


# Copies remembered per view (the oldest go first), as the panel does (stream.ts absorbCopies).
MAX_COPIES = 5000


def absorb_copies(seen: dict[str, dict[str, Any]], objects: list[dict[str, Any]]) -> None:
    """Remember each task result that an object-table read shows copied to another node (the
    stream's ICopy), so a transfer stays drawn after the object is freed."""
    for obj in objects:
        task_id, node = obj.get("task_id"), obj.get("node_id")
        if not task_id or not node:
            continue
        for to in obj.get("copies") or ():
            seen.setdefault(
                f"{obj['object_id']}>{to}",
                {
                    "oid": obj["object_id"],
                    "task_id": task_id,
                    "size": int(obj.get("object_size") or 0),
                    "from": node,
                    "to": to,
                },
            )
    while len(seen) > MAX_COPIES:
        del seen[next(iter(seen))]
