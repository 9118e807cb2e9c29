"""The task graph: tasks as nodes, an edge from each task to the tasks that consumed its result
(rayground records the refs each task consumed; on Ray only parent -> child submissions are
known), coloured by state. Past `MAX_TASK_NODES` tasks the graph is drawn grouped by function
(one node per function, with its state counts, one edge per pair of functions), so 10,000 tasks
stay readable and the browser draws a few dozen shapes, not 10,000.

`build(rows)` gives a `Graph`; `graph.svg()` draws it, `graph.text()` is its stable plain form.
"""

from __future__ import annotations

import html
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

MAX_TASK_NODES = 150

# Ray's task states, in the five groups a learner needs to tell apart.
STATE_GROUPS = {
    "PENDING_ARGS_AVAIL": "pending",
    "PENDING_NODE_ASSIGNMENT": "waiting",
    "SUBMITTED_TO_WORKER": "waiting",
    "PENDING_ACTOR_TASK_ARGS_FETCH": "pending",
    "PENDING_ACTOR_TASK_ORDERING_OR_CONCURRENCY": "waiting",
    "RUNNING": "running",
    "FINISHED": "finished",
    "FAILED": "failed",
}
GROUP_ORDER = ("pending", "waiting", "running", "finished", "failed")
COLORS = {
    "pending": "#b0b7c3",  # arguments not ready
    "waiting": "#f2b134",  # waiting for resources or a worker
    "running": "#2a7ae2",
    "finished": "#3aa35c",
    "failed": "#d9463e",
}
LABELS = {
    "pending": "pending (args)",
    "waiting": "waiting for resources",
    "running": "running",
    "finished": "finished",
    "failed": "failed",
}


def group_of(state: str) -> str:
    return STATE_GROUPS.get(state, "pending")


@dataclass
class Node:
    key: str
    label: str
    states: Counter = field(default_factory=Counter)  # state group -> count
    order: float = 0.0  # first creation time, for a stable layout
    layer: int = 0


@dataclass
class Graph:
    nodes: dict[str, Node]
    edges: Counter  # (from key, to key) -> count
    grouped: bool
    total_tasks: int
    parent_edges: bool  # True when edges are submissions (Ray), not data

    # ------------------------------------------------------------ text
    def text(self) -> str:
        states = Counter()
        for node in self.nodes.values():
            states.update(node.states)
        state_text = ", ".join(f"{states[g]} {g}" for g in GROUP_ORDER if states[g])
        kind = "submitted by" if self.parent_edges else "data"
        lines = [f"task graph: {self.total_tasks} task(s), {state_text or 'none'}"]
        by_fn: dict[str, Counter] = defaultdict(Counter)
        fn_edges: Counter = Counter()
        label = {k: n.label for k, n in self.nodes.items()}
        for node in self.nodes.values():
            by_fn[_fn_of(node.label)].update(node.states)
        for (a, b), n in self.edges.items():
            fn_edges[(_fn_of(label[a]), _fn_of(label[b]))] += n
        first = {}
        for node in sorted(self.nodes.values(), key=lambda n: n.order):
            first.setdefault(_fn_of(node.label), node.order)
        for fn in sorted(by_fn, key=lambda f: first[f]):
            c = by_fn[fn]
            lines.append(f"  {fn} x{sum(c.values())}")
        for (a, b), n in sorted(
            fn_edges.items(), key=lambda kv: (first[kv[0][0]], first[kv[0][1]])
        ):
            lines.append(f"  {a} -> {b} ({n} {kind} edge{'s' if n != 1 else ''})")
        return "\n".join(lines)

    # ------------------------------------------------------------ drawing
    def svg(self) -> str:
        if not self.nodes:
            return "<div><i>No tasks yet.</i></div>"
        layers: dict[int, list[Node]] = defaultdict(list)
        for node in sorted(self.nodes.values(), key=lambda n: n.order):
            layers[node.layer].append(node)
        box_w, box_h = (150, 40) if self.grouped else (110, 22)
        gap_x, gap_y = 50, 12
        pos: dict[str, tuple[float, float]] = {}
        height = max(len(v) for v in layers.values()) * (box_h + gap_y) + gap_y
        for layer, nodes in layers.items():
            col_h = len(nodes) * (box_h + gap_y)
            top = (height - col_h) / 2 + gap_y / 2
            for i, node in enumerate(nodes):
                pos[node.key] = (10 + layer * (box_w + gap_x), top + i * (box_h + gap_y))
        width = 20 + (max(layers) + 1) * (box_w + gap_x)
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 10}" '
            f'font-family="sans-serif" font-size="11">',
            '<defs><marker id="rg-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
            'markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" '
            'fill="#888"/></marker></defs>',
        ]
        dash = ' stroke-dasharray="4 3"' if self.parent_edges else ""
        for (a, b), n in self.edges.items():
            if a not in pos or b not in pos:
                continue
            x1, y1 = pos[a][0] + box_w, pos[a][1] + box_h / 2
            x2, y2 = pos[b][0], pos[b][1] + box_h / 2
            width_px = 1 + min(4, n.bit_length() - 1) if self.grouped else 1
            parts.append(
                f'<path d="M{x1},{y1} C{x1 + gap_x / 2},{y1} {x2 - gap_x / 2},{y2} {x2},{y2}" '
                f'fill="none" stroke="#888" stroke-width="{width_px}"{dash} '
                f'marker-end="url(#rg-arrow)"><title>{n}</title></path>'
            )
        for key, node in self.nodes.items():
            x, y = pos[key]
            total = sum(node.states.values()) or 1
            title = html.escape(
                f"{node.label}: "
                + ", ".join(f"{node.states[g]} {g}" for g in GROUP_ORDER if node.states[g])
            )
            parts.append(f"<g><title>{title}</title>")
            if self.grouped:
                # A stacked bar of the function's tasks by state, under its name and count.
                cx = x
                for g in GROUP_ORDER:
                    w = box_w * node.states[g] / total
                    if w > 0:
                        parts.append(
                            f'<rect x="{cx:.1f}" y="{y + 22}" width="{w:.1f}" '
                            f'height="{box_h - 22}" fill="{COLORS[g]}"/>'
                        )
                        cx += w
                parts.append(
                    f'<rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="4" fill="none" '
                    f'stroke="#555"/><text x="{x + 6}" y="{y + 15}">'
                    f"{html.escape(_clip(node.label, 18))} ×{total}</text>"
                )
            else:
                group = next(g for g in GROUP_ORDER if node.states[g]) if node.states else "pending"
                parts.append(
                    f'<rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="4" '
                    f'fill="{COLORS[group]}" stroke="#555"/><text x="{x + 5}" y="{y + 15}" '
                    f'fill="white">{html.escape(_clip(node.label, 16))}</text>'
                )
            parts.append("</g>")
        parts.append("</svg>")
        return "".join(parts)


def legend_html() -> str:
    items = "".join(
        f'<span style="margin-right:10px"><span style="display:inline-block;width:10px;'
        f'height:10px;background:{COLORS[g]};margin-right:3px"></span>{LABELS[g]}</span>'
        for g in GROUP_ORDER
    )
    return f'<div style="font-size:12px;font-family:sans-serif">{items}</div>'


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _fn_of(label: str) -> str:
    return label.split(" #", 1)[0]


def build(rows: list[dict[str, Any]], max_nodes: int = MAX_TASK_NODES) -> Graph:
    """The graph of these task rows (rayground's state-table shape)."""
    rows = [r for r in rows if r.get("type") != "ACTOR_CREATION_TASK"]
    rows.sort(key=lambda r: r.get("creation_time_ms") or 0)
    ids = {r["task_id"] for r in rows}
    has_deps = any(r.get("depends_on") for r in rows)
    edges_by_task: list[tuple[str, str]] = []
    for r in rows:
        for oid in r.get("depends_on") or ():
            producer = oid.rsplit(".", 1)[0]
            if producer in ids:
                edges_by_task.append((producer, r["task_id"]))
    parent_edges = False
    if not has_deps:
        parent_edges = any(r.get("parent_task_id") in ids for r in rows)
        edges_by_task = [
            (r["parent_task_id"], r["task_id"]) for r in rows if r.get("parent_task_id") in ids
        ]
    grouped = len(rows) > max_nodes
    nodes: dict[str, Node] = {}
    key_of: dict[str, str] = {}
    seen_per_fn: Counter = Counter()
    for r in rows:
        name = r.get("name") or "?"
        if grouped:
            key = name
            label = name
        else:
            seen_per_fn[name] += 1
            key = r["task_id"]
            label = f"{name} #{seen_per_fn[name]}"
        key_of[r["task_id"]] = key
        node = nodes.get(key)
        if node is None:
            node = nodes[key] = Node(key, label, order=r.get("creation_time_ms") or 0)
        node.states[group_of(r.get("state", ""))] += 1
    edges: Counter = Counter()
    for a, b in edges_by_task:
        ka, kb = key_of[a], key_of[b]
        if ka != kb:
            edges[(ka, kb)] += 1
    _assign_layers(nodes, edges)
    return Graph(nodes, edges, grouped, len(rows), parent_edges)


def _assign_layers(nodes: dict[str, Node], edges: Counter) -> None:
    """Longest path from a source, in creation order (edges point forward in time, so one pass
    in that order is enough; a cycle between grouped functions is cut where it closes)."""
    incoming: dict[str, list[str]] = defaultdict(list)
    for a, b in edges:
        incoming[b].append(a)
    done: set[str] = set()
    for node in sorted(nodes.values(), key=lambda n: n.order):
        layer = 0
        for src in incoming.get(node.key, ()):
            if src in done:
                layer = max(layer, nodes[src].layer + 1)
        node.layer = layer
        done.add(node.key)
