"""The libraries' section of `%ray_status`: what Data, Tune and Serve are doing, from the
cluster's library status board (`rayground.util.library_status`; its format is documented
there). Pure functions of the board: `text()` (stable lines for nbval: names and states, no
figures that change with timing) and `html()` (the live widget, with the figures).

The lab panel draws the same board (extension/src/libraries.ts).
"""

from __future__ import annotations

import html as _html
from typing import Any

_COLORS = {
    "RUNNING": "#1f77b4",
    "HEALTHY": "#3aa35c",
    "FINISHED": "#3aa35c",
    "TERMINATED": "#3aa35c",
    "UPDATING": "#f2b134",
    "DEPLOYING": "#f2b134",
    "PENDING": "#999999",
    "UNHEALTHY": "#d9463e",
    "DEPLOY_FAILED": "#d9463e",
    "FAILED": "#d9463e",
    "ERROR": "#d9463e",
}


def _entries(board: dict[str, Any], library: str) -> list[dict[str, Any]]:
    entries = list((board.get(library) or {}).values())
    # Running first, then newest first.
    entries.sort(key=lambda e: (e.get("state") != "RUNNING", -(e.get("updated") or 0)))
    return entries


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "–" if value is None else str(value)


def _replicas(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"


def text(board: dict[str, Any]) -> str:
    """The section as lines ("" when no library has run on the cluster)."""
    lines = []
    for entry in _entries(board, "serve"):
        apps = entry.get("applications") or []
        lines.append(f"Serve: {len(apps)} application(s)")
        for app in apps:
            route = f" (route {app['route']})" if app.get("route") else ""
            lines.append(f"  {app['name']}: {app['status']}{route}")
            for dep in app.get("deployments") or ():
                lines.append(
                    f"    {dep['name']}: {dep['status']}, replicas {_replicas(dep['replicas'])}"
                )
    for entry in _entries(board, "tune"):
        counts = ", ".join(f"{k} {v}" for k, v in sorted((entry.get("counts") or {}).items()))
        lines.append(
            f"Tune experiment {entry['title']}: {entry['state']} ({counts or 'no trials'})"
        )
    for entry in _entries(board, "data"):
        lines.append(f"Data pipeline {entry['title']}: {entry['state']}")
    return "\n".join(lines)


def _state(value: str | None) -> str:
    color = _COLORS.get(str(value), "#666666")
    return f'<span style="color:{color}">{_html.escape(str(value))}</span>'


def html(board: dict[str, Any]) -> str:
    """The section as HTML ("" when no library has run on the cluster)."""
    e = _html.escape
    parts = []
    for entry in _entries(board, "serve"):
        rows = "".join(
            f"<tr><td>{e(app['name'])}</td><td>{e(str(app.get('route') or '–'))}</td>"
            f"<td>{e(dep['name'])}</td><td>{_state(dep['status'])}</td>"
            f"<td>{e(_replicas(dep['replicas']))}</td><td>{_num(dep.get('requests_per_s'))}</td>"
            f"<td>{_num(dep.get('ongoing'))}</td><td>{_num(dep.get('queued'))}</td></tr>"
            for app in entry.get("applications") or ()
            for dep in app.get("deployments") or ()
        )
        parts.append(
            "<div><b>Serve</b><table><tr><th>app</th><th>route</th><th>deployment</th>"
            "<th>status</th><th>replicas</th><th>req/s</th><th>ongoing</th><th>queued</th></tr>"
            f"{rows}</table></div>"
        )
    for entry in _entries(board, "tune"):
        best = entry.get("best")
        best_text = (
            f"best {e(str(entry.get('metric')))} {_num(best['value'])} ({e(best['trial'])}: "
            f"{e(best['config'])})"
            if best
            else "no result yet"
        )
        counts = ", ".join(
            f"{_state(k)} {v}" for k, v in sorted((entry.get("counts") or {}).items())
        )
        parts.append(
            f"<div><b>Tune</b> {e(entry['title'])}: {_state(entry['state'])}; trials {counts}; "
            f"{best_text}</div>"
        )
    for entry in _entries(board, "data"):
        ops = "".join(
            f"<tr><td>{e(op['name'])}</td><td>{op['tasks']}</td><td>{op['blocks']}</td>"
            f"<td>{op['rows']:,}</td><td>{_num(op.get('rows_per_s'))}</td></tr>"
            for op in entry.get("operators") or ()
        )
        parts.append(
            f"<div><b>Data</b> {_state(entry['state'])} in {_num(entry.get('elapsed_s'))}s"
            "<table><tr><th>operator</th><th>tasks</th><th>blocks</th><th>rows</th>"
            f"<th>rows/s</th></tr>{ops}</table></div>"
        )
    if not parts:
        return ""
    return '<div style="font-size:12px">' + "".join(parts) + "</div>"
