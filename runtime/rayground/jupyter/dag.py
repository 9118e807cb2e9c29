"""The task DAG model: tasks as nodes, an edge from each task to the tasks that consumed its
result (rayground records the refs each task consumed; on Ray only parent -> child submissions
are known), coloured by state. Above `GROUP_ABOVE` tasks the graph is grouped by function (one
node per function, with its state counts, one edge per pair of functions, weighted), so 10,000
tasks stay readable and the browser draws a few dozen shapes, not 10,000.

This is the same model the JupyterLab extension builds (extension/src/dag.ts): one schema, one
set of state names, labels and colours, both checked against tests/lab/fixtures/dag_model.json.
The notebook widget sends `Graph.model()` to the extension's own drawing code (bundled for the
widget: see views_widget.py), which lays it out with dagre, as the panel does.

`build(tasks)` takes tasks in the compact schema (`compact_task` makes it from a state-table
row); `graph.text()` is the stable plain form nbval compares.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, TypedDict

GROUP_ABOVE = 300


class _TaskKeys(TypedDict):
    id: str
    name: str
    state: str
    deps: list[str]  # the tasks whose results this task consumed (producers, once each)


class Task(_TaskKeys, total=False):
    """One task in the model's schema: what `compact_task` makes, what the lab feed sends
    (`snapshot`, `tasks`) and what `build` and the extension's `buildDag` take. The one
    definition: extension/src/taskrow.ts is generated from it (scripts/ts_types.py), and a test
    holds that file to this class. Only the first four keys are needed to build a graph."""

    parent: str | None  # the task that submitted this one (edges where no task has deps)
    type: str | None  # NORMAL_TASK | ACTOR_TASK | ACTOR_CREATION_TASK
    actor_id: str | None
    pid: int | None
    node: str | None
    start_ms: int | None
    end_ms: int | None
    error: str | None  # the first line of the error
    # Spans (ms since the epoch) the task spent blocked in get/wait; an open one ends None.
    blocked: list[tuple[int, int | None]]


CATEGORIES = ("pending", "waiting", "running", "finished", "failed")
LABELS = {
    "pending": "waiting for arguments",
    "waiting": "waiting for resources",
    "running": "running",
    "finished": "finished",
    "failed": "failed",
}
# Mid tones that read on JupyterLab's light and dark themes alike.
COLORS = {
    "pending": "#9aa3b0",
    "waiting": "#e8a317",
    "running": "#2a7ae2",
    "finished": "#3aa35c",
    "failed": "#d9463e",
}
# Ray's task states, in the five groups a learner needs to tell apart (others: pending).
STATE_CATEGORY = {
    "PENDING_ARGS_AVAIL": "pending",
    "PENDING_ACTOR_TASK_ARGS_FETCH": "pending",
    "PENDING_NODE_ASSIGNMENT": "waiting",
    "SUBMITTED_TO_WORKER": "waiting",
    "PENDING_ACTOR_TASK_ORDERING_OR_CONCURRENCY": "waiting",
    "RUNNING": "running",
    "RUNNING_IN_RAY_GET": "running",
    "RUNNING_IN_RAY_WAIT": "running",
    "FINISHED": "finished",
    "FAILED": "failed",
}
# The colour of a node with tasks in several states: what is happening now comes first.
URGENCY = ("running", "failed", "waiting", "pending", "finished")


def category(state: str) -> str:
    return STATE_CATEGORY.get(state, "pending")


def dominant(counts: dict[str, int]) -> str:
    return next((c for c in URGENCY if counts.get(c)), "pending")


def producer_task(object_id: str) -> str | None:
    """The task whose return `object_id` is (`<task id>.<index>`), None for a `put` object."""
    head, sep, index = object_id.rpartition(".")
    return head if sep and index.isdigit() else None


def first_line(text: str | None, limit: int = 300) -> str | None:
    """The first line of an error text, shortened (the views show it in a tooltip)."""
    lines = (text or "").strip().splitlines()
    return lines[0][:limit] if lines else None


def compact_task(row: dict[str, Any]) -> Task:
    """A state-table task row (rayground's `list_tasks`, or Ray's through backends.py) in the
    model's schema: what the DAG, the task stream and their details need, nothing more."""
    deps = []
    for oid in row.get("depends_on") or ():
        producer = producer_task(oid)
        if producer is not None and producer not in deps:
            deps.append(producer)
    return {
        "id": row["task_id"],
        "name": row.get("name") or row.get("func_or_class_name") or "?",
        "state": row.get("state") or "?",
        "type": row.get("type"),
        "deps": deps,
        "parent": row.get("parent_task_id"),
        "actor_id": row.get("actor_id"),
        "pid": row.get("worker_pid"),
        "node": row.get("node_id"),
        "start_ms": row.get("start_time_ms"),
        "end_ms": row.get("end_time_ms"),
        "error": first_line(row.get("error_message")),
        # Spans blocked in get/wait inside the task (seconds in rows, ms here, as the times).
        "blocked": [
            (int(a * 1000), None if b is None else int(b * 1000))
            for a, b in row.get("blocked") or ()
        ],
    }


@dataclass
class Node:
    id: str
    name: str
    label: str
    counts: Counter = field(default_factory=Counter)  # category -> tasks
    task: dict[str, Any] | None = None  # the task itself, one node per task only

    @property
    def size(self) -> int:
        return sum(self.counts.values())

    @property
    def category(self) -> str:
        return dominant(self.counts)


@dataclass
class Graph:
    nodes: dict[str, Node]
    edges: Counter  # (from id, to id) -> task edges it stands for, in first-seen order
    grouped: bool
    parent_edges: bool  # True when edges are submissions (Ray), not data
    total_tasks: int
    counts: Counter

    def model(self) -> dict[str, Any]:
        """The model as JSON, in extension/src/dag.ts's `IDag` shape."""
        return {
            "grouped": self.grouped,
            "parentEdges": self.parent_edges,
            "totalTasks": self.total_tasks,
            "counts": {c: self.counts[c] for c in CATEGORIES},
            "nodes": [
                {
                    "id": n.id,
                    "name": n.name,
                    "label": n.label,
                    "size": n.size,
                    "category": n.category,
                    "counts": {c: n.counts[c] for c in CATEGORIES},
                    **({"task": n.task} if n.task is not None else {}),
                }
                for n in self.nodes.values()
            ],
            "edges": [{"from": a, "to": b, "count": k} for (a, b), k in self.edges.items()],
        }

    def text(self) -> str:
        """Stable across runs (task ids and timing left out): counts per function and the
        edges between functions."""
        state_text = ", ".join(f"{self.counts[c]} {c}" for c in CATEGORIES if self.counts[c])
        kind = "submitted by" if self.parent_edges else "data"
        lines = [f"task graph: {self.total_tasks} task(s), {state_text or 'none'}"]
        per_fn: Counter = Counter()
        for node in self.nodes.values():  # insertion order: first submitted first
            per_fn[node.name] += node.size
        lines += [f"  {fn} x{n}" for fn, n in per_fn.items()]
        fn_edges: Counter = Counter()
        for (a, b), n in self.edges.items():
            fn_edges[(self.nodes[a].name, self.nodes[b].name)] += n
        order = {fn: i for i, fn in enumerate(per_fn)}
        ranked = sorted(fn_edges.items(), key=lambda kv: (order[kv[0][0]], order[kv[0][1]]))
        for (a, b), n in ranked:
            lines.append(f"  {a} -> {b} ({n} {kind} edge{'s' if n != 1 else ''})")
        return "\n".join(lines)


def build(tasks: list[dict[str, Any]], group_above: int = GROUP_ABOVE) -> Graph:
    """The graph of these compact tasks, given oldest first."""
    tasks = [t for t in tasks if t.get("type") != "ACTOR_CREATION_TASK"]
    grouped = len(tasks) > group_above
    nodes: dict[str, Node] = {}
    node_of: dict[str, str] = {}
    seen: Counter = Counter()
    counts: Counter = Counter()
    for t in tasks:
        cat = category(t["state"])
        counts[cat] += 1
        key = f"group:{t['name']}" if grouped else t["id"]
        node_of[t["id"]] = key
        node = nodes.get(key)
        if node is None:
            seen[t["name"]] += 1
            label = t["name"] if grouped else f"{t['name']} #{seen[t['name']]}"
            node = nodes[key] = Node(key, t["name"], label, task=None if grouped else t)
        node.counts[cat] += 1
    parent_edges = not any(t.get("deps") for t in tasks)
    edges: Counter = Counter()
    for t in tasks:
        to = node_of[t["id"]]
        sources = ([t["parent"]] if t.get("parent") else []) if parent_edges else t["deps"]
        for dep in sources:
            if dep in node_of:
                edges[(node_of[dep], to)] += 1
    if grouped:
        for node in nodes.values():
            node.label = f"{node.name} ×{node.size}"
    return Graph(nodes, edges, grouped, parent_edges and bool(edges), len(tasks), counts)
