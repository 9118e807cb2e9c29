"""`num_returns="dynamic"` (deprecated in Ray in favour of "streaming", and still run by it):
the task returns one ObjectRef whose value is a `DynamicObjectRefGenerator`, the refs of each
value the generator yielded, known once the task has finished.

Each yielded value is stored by the worker that ran the task (`put`), so its refs stay valid
while that worker lives (in Ray the caller owns them); the streaming form has no such limit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["DynamicObjectRefGenerator"]


class DynamicObjectRefGenerator:
    """The refs a `num_returns="dynamic"` task yielded, in order (iterate, or take `len`)."""

    def __init__(self, refs: list[Any]) -> None:
        self._refs = list(refs)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._refs)

    def __len__(self) -> int:
        return len(self._refs)

    def __repr__(self) -> str:
        return f"DynamicObjectRefGenerator({len(self._refs)} refs)"


class DynamicReturns:
    """What a worker runs for a dynamic task: the user's generator, each value stored."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.__name__ = getattr(function, "__name__", "dynamic")

    def __call__(self, *args: Any, **kwargs: Any) -> DynamicObjectRefGenerator:
        from . import put

        return DynamicObjectRefGenerator([put(value) for value in self.function(*args, **kwargs)])
