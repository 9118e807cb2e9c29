"""Status hook: each execution's progress on the cluster's library status board
(`rayground.util.library_status`), so the lab panel and `%ray_status` show running pipelines,
whichever process runs them. Entry fields: "title" (the operators, joined by " -> "),
"state", "elapsed_s", "operators": [{"name", "tasks", "blocks", "rows", "rows_per_s"}]."""

from __future__ import annotations

import itertools
import os
import time
from typing import Any

from rayground.util.library_status import Publisher

from .stats import OpStats

_publisher = Publisher("data")
_counter = itertools.count(1)


class DataStatus:
    def __init__(self, ops: list[OpStats]) -> None:
        self.ops = ops
        self.key = f"{os.getpid()}-{next(_counter)}"
        self.started = time.perf_counter()

    def entry(self, state: str) -> dict[str, Any]:
        return {
            "title": " -> ".join(op.name for op in self.ops),
            "state": state,
            "elapsed_s": round(time.perf_counter() - self.started, 3),
            "operators": [
                {
                    "name": op.name,
                    "tasks": op.tasks,
                    "blocks": op.blocks,
                    "rows": op.rows,
                    "rows_per_s": round(op.rows / op.elapsed, 1) if op.elapsed > 0 else 0.0,
                }
                for op in self.ops
            ],
        }

    def update(self) -> None:
        _publisher.publish(self.key, self.entry("RUNNING"))

    def close(self, failed: bool) -> None:
        _publisher.publish(self.key, self.entry("FAILED" if failed else "FINISHED"), final=True)
