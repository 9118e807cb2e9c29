"""`Schema`: a dataset's column names and types, and the check of column-name arguments."""

from __future__ import annotations

import builtins
from typing import Any

import pyarrow as pa


class Schema:
    """A dataset's column names and types (as `ray.data.Schema`)."""

    def __init__(self, base_schema: pa.Schema) -> None:
        self.base_schema = base_schema

    @property
    def names(self) -> list[str]:
        return list(self.base_schema.names)

    @property
    def types(self) -> list[Any]:
        return list(self.base_schema.types)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schema) and other.base_schema == self.base_schema

    def __repr__(self) -> str:
        names = ["Column", *self.names]
        types = ["Type", *(str(t) for t in self.types)]
        width = builtins.max(len(n) for n in names)
        lines = [f"{n:<{width}}  {t}" for n, t in zip(names, types, strict=True)]
        lines.insert(1, f"{'-' * len('Column'):<{width}}  {'-' * len('Type')}")
        return "\n".join(lines)


def column_list(caller: str, cols: Any) -> list[str]:
    if isinstance(cols, str):
        return [cols]
    if isinstance(cols, list | tuple) and cols and all(isinstance(c, str) for c in cols):
        return list(cols)
    raise ValueError(f"{caller}() expects a column name or a non-empty list of names, got {cols!r}")
