"""Hooks for tools that watch what this driver does (the Jupyter layer's run analysis and cell
output routing). The runtime calls them on its hot paths; with no hook installed that costs one
truth test. Hooks run in the calling thread and must be quick and never raise.

    submit_hooks: fn(spec, args, kwargs)   a task, actor call or actor creation is about to be
                                           sent (spec["kind"]: "task" | "actor_call" |
                                           "actor_create", which has no task_id)
    block_hooks:  fn(kind, start, end, oids)  the driver was blocked in get/wait from start to
                                              end (time.time()), on these refs; kind "get" (it
                                              returned the values), "get_error" (it raised) or
                                              "wait"
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

submit_hooks: list[Callable[[dict[str, Any], tuple, dict[str, Any]], None]] = []
block_hooks: list[Callable[[str, float, float, list[str]], None]] = []


def submitted(spec: dict[str, Any], args: tuple, kwargs: dict[str, Any]) -> None:
    for hook in list(submit_hooks):
        try:
            hook(spec, args, kwargs)
        except Exception:  # an observer must never break the user's call
            pass


def blocked(kind: str, start: float, end: float, oids: list[str]) -> None:
    for hook in list(block_hooks):
        try:
            hook(kind, start, end, oids)
        except Exception:
            pass
