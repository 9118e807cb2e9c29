"""Tasks per worker over time: a Gantt chart like the seeds' diagrams, drawn with matplotlib
(a static picture serves best here; the live view redraws it as tasks run)."""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from typing import Any

from .dag import COLORS


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


def png(rows: list[dict[str, Any]], now: float, width: float = 8.0) -> bytes:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    by_worker = spans(rows, now)
    order = sorted(by_worker, key=lambda w: min(s for _, s, _, _ in by_worker[w]))
    height = 0.6 + 0.35 * max(len(order), 1)
    fig = Figure(figsize=(width, min(height, 12)), dpi=96)
    ax = fig.add_subplot(1, 1, 1)
    if not order:
        ax.text(0.5, 0.5, "no task has run yet", ha="center", va="center")
        ax.set_axis_off()
    else:
        t0 = min(s for v in by_worker.values() for _, s, _, _ in v)
        names = sorted({name for v in by_worker.values() for name, *_ in v})
        cmap = matplotlib.colormaps["tab10"]
        color = {name: cmap(i % 10) for i, name in enumerate(names)}
        for y, worker in enumerate(order):
            items = by_worker[worker]
            for name in names:
                bars = [(s - t0, max(e - s, 1e-4)) for n, s, e, _ in items if n == name]
                if bars:
                    ax.broken_barh(
                        bars,
                        (y - 0.4, 0.8),
                        facecolors=color[name],
                        edgecolor="white",
                        linewidth=0.5,
                    )
            failed = [(s - t0, max(e - s, 1e-4)) for _, s, e, st in items if st == "FAILED"]
            if failed:
                ax.broken_barh(
                    failed,
                    (y - 0.4, 0.8),
                    facecolors="none",
                    edgecolor=COLORS["failed"],
                    linewidth=1.5,
                )
        ax.set_yticks(range(len(order)))
        ax.set_yticklabels([f"pid {w}" for w in order])
        ax.invert_yaxis()
        ax.set_xlabel("seconds")
        handles = [matplotlib.patches.Patch(color=color[n], label=n) for n in names[:10]]
        ax.legend(handles=handles, loc="upper right", fontsize=8, framealpha=0.8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
