"""`DataContext`: the settings of Ray Data's executor that a user may change, as Ray names them.

One context per driver process (`DataContext.get_current()`), read when an execution starts.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class ExecutionOptions:
    """preserve_order: outputs come in input order (always true here: the executor keeps input
    order, which Ray only promises when asked)."""

    preserve_order: bool = True
    verbose_progress: bool = False


@dataclass
class DataContext:
    # Blocks a reader or range() aims for; large inputs are cut into blocks of about this size.
    target_max_block_size: int = 16 * 1024 * 1024
    # Read/map tasks (or actor calls) each operator keeps in flight: the backpressure bound.
    # None = twice the cluster's CPUs. Each in-flight task holds at most one output block.
    max_tasks_in_flight_per_operator: int | None = None
    # Actor calls queued per actor in an actor pool (Ray: max_tasks_in_flight_per_actor).
    max_tasks_in_flight_per_actor: int = 2
    enable_progress_bars: bool = True
    execution_options: ExecutionOptions = field(default_factory=ExecutionOptions)

    @staticmethod
    def get_current() -> DataContext:
        global _current
        with _lock:
            if _current is None:
                _current = DataContext()
            return _current


_lock = threading.Lock()
_current: DataContext | None = None
