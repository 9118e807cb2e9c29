"""The "How cost grows" section of docs/benchmarks.md, from the cost_curve workload
(bench/scale.py): each backend's figures side by side, with the ratio where both have one."""

from __future__ import annotations

from rows import BASELINE, SUBJECT, fmt

# (label, measurement, field, unit, higher is better, scale): {n} is the measurement's count.
# Values are multiplied by scale before formatting (bytes per task are shown in kB).
# fmt: off
FIGURES = [
    ("No-op tasks, {n} submitted at once: rate", "tasks_per_s", "1/s", True, 1),
    ("No-op tasks, {n} at once: peak RSS of driver + head", "peak_rss", "B", False, 1),
    ("No-op tasks, {n} at once: memory per task in flight", "bytes_per_task", "kB", False,
     1e-3),
]
OTHERS = [
    ("{n} small objects: `put` rate", "small_objects", "put_per_s", "1/s", True, 1),
    ("{n} small objects: `get` rate (one call)", "small_objects", "get_per_s", "1/s", True, 1),
    ("{n} small objects: driver + head memory per object", "small_objects", "bytes_per_object",
     "kB", False, 1e-3),
    ("{n} actors created and called once: time per actor", "actors", "seconds_per_actor", "s",
     False, 1),
    ("{n} actors created and called once: PSS per actor", "actors", "pss_per_actor", "B", False,
     1),
    ("Chain of {n} tasks, each passed the last one's ref: time", "chain", "seconds", "s", False,
     1),
    ("Session of {n} no-op tasks in batches: rate", "session", "tasks_per_s", "1/s", True, 1),
    ("Head RSS when idle, before any of the above", "session", "head_idle_rss", "B", False, 1),
    ("Head RSS at its peak during the session", "session", "head_peak_rss", "B", False, 1),
    ("Head RSS after all of the above, refs freed (3 s settle)", "session", "head_after_rss",
     "B", False, 1),
    ("Head RSS after ÷ idle", "session", "head_after_over_idle", "count", False, 1),
]
# fmt: on


def _metrics(backend: dict) -> dict:
    wr = backend.get("workloads", {}).get("cost_curve")
    return wr.get("metrics", {}) if wr and wr.get("ok") else {}


def cost_lines(backends: dict) -> list[str]:
    """Markdown lines of the section (empty when no backend ran cost_curve)."""
    per = {name: _metrics(b) for name, b in backends.items()}
    if not any(per.values()):
        return []
    names = list(backends)
    rows: list[tuple[str, str, str, str, bool, float]] = []
    counts = sorted(
        {int(k.split("_", 1)[1]) for m in per.values() for k in m if k.startswith("tasks_")}
    )
    for n in counts:
        rows += [(label, f"tasks_{n}", *rest) for label, *rest in FIGURES]  # type: ignore[misc]
    rows += OTHERS
    lines = [
        "## How cost grows",
        "",
        "From the `cost_curve` workload (bench/scale.py), one cluster per backend. Memory is "
        'resident set size: "driver + head" is the driver process plus the cluster\'s control '
        "processes (rayground's head; Ray's gcs_server and raylet), sampled every 50 ms; per "
        "task = (peak - before) ÷ tasks. PSS per actor is the growth of the whole cluster's PSS "
        "÷ actors. Counts are in each label (they can differ: Ray's actors are separate "
        "processes of their own, so it creates fewer).",
        "",
        "| Measurement | " + " | ".join(names) + f" | ratio ({SUBJECT} better > 1) |",
        "|---|" + "---:|" * len(names) + "---:|",
    ]
    for label, key, field, unit, higher, scale in rows:
        values, cells, n = {}, [], None
        counts_here = {node.get("n") for node in (per[name].get(key) for name in names) if node}
        for name in names:
            node = per[name].get(key)
            if not isinstance(node, dict):
                cells.append("—")
                continue
            if "error" in node:
                cells.append("error: " + str(node["error"]).replace("|", "\\|")[:80])
                continue
            value = node.get(field)
            n = n or node.get("n")
            values[name] = value
            cell = fmt(None if value is None else value * scale, unit)
            if node.get("n") and len(counts_here) > 1:  # the backends ran different counts
                cell += f" (n={node['n']:,})"
            cells.append(cell)
        a, b = values.get(SUBJECT), values.get(BASELINE)
        ratio = "—"
        if a and b and unit != "count":
            ratio = f"{(a / b if higher else b / a):.2f}×"
        text = label.format(n=f"{n:,}" if n else "N")
        lines.append("| " + " | ".join([text, *cells, ratio]) + " |")
    for name, b in backends.items():
        wr = b.get("workloads", {}).get("cost_curve")
        if wr and not wr.get("ok") and not wr.get("not_installed"):
            error = str(wr.get("error") or "unknown").replace("|", "\\|")
            lines += ["", f"{name}: the workload failed as a whole (`{error}`), so no figures."]
    lines.append("")
    return lines
