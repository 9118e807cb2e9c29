"""Path-based partitions, as Ray Data's `ray.data.datasource.partitioning`: a file under
`root/year=2024/month=01/` belongs to partition {"year": "2024", "month": "01"}; the readers add
those keys as columns, and a `PathPartitionFilter` picks files by them before anything is read.
"""

from __future__ import annotations

import os
import posixpath
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any


class PartitionStyle(str, Enum):
    """HIVE: `key=value` directories. DIRECTORY: bare `value` directories, named by field_names."""

    HIVE = "hive"
    DIRECTORY = "dir"


@dataclass
class Partitioning:
    """How partition keys are written in paths (Ray's `Partitioning`).

    base_dir: partitions are looked for below it (None or "": in every directory of a path).
    field_names: the keys in order (needed for DIRECTORY). field_types: key -> int, float, bool
    or str (the default: values are strings, as in the path).
    """

    style: PartitionStyle
    base_dir: str | None = None
    field_names: list[str] | None = None
    field_types: dict[str, type] | None = None
    filesystem: Any = None

    def __post_init__(self) -> None:
        if self.base_dir is None:
            self.base_dir = ""
        if self.field_types is None:
            self.field_types = {}
        try:
            self.style = PartitionStyle(self.style)
        except ValueError:
            raise ValueError(
                f"Unsupported partition style: {self.style}. Supported styles: "
                f"{[s.value for s in PartitionStyle]}"
            ) from None

    @property
    def normalized_base_dir(self) -> str:
        """The base directory as the readers see paths: absolute for the local filesystem, with a
        trailing slash; "" when unset."""
        base = self.base_dir or ""
        if not base:
            return ""
        if "://" in base:
            base = base.split("://", 1)[1]
        elif self.filesystem is None:
            base = os.path.abspath(os.path.expanduser(base))
        return base if base.endswith("/") else base + "/"


def _cast(value: str, data_type: Any) -> Any:
    if data_type is bool:
        return value.lower() in ("true", "1")
    return data_type(value)


class PathPartitionParser:
    """Reads the partition keys and values out of one file path."""

    @staticmethod
    def of(
        style: PartitionStyle = PartitionStyle.HIVE,
        base_dir: str | None = None,
        field_names: list[str] | None = None,
        field_types: dict[str, type] | None = None,
        filesystem: Any = None,
    ) -> PathPartitionParser:
        return PathPartitionParser(
            Partitioning(style, base_dir, field_names, field_types, filesystem)
        )

    def __init__(self, partitioning: Partitioning) -> None:
        if partitioning.style == PartitionStyle.DIRECTORY and not partitioning.field_names:
            raise ValueError(
                "Directory partitioning requires a corresponding list of partition key field "
                "names. Please retry your request with one or more field names specified."
            )
        self._scheme = partitioning

    @property
    def scheme(self) -> Partitioning:
        return self._scheme

    def __call__(self, path: str) -> dict[str, Any]:
        """{key: value} for the file at `path`; {} for a file outside any partition."""
        base = self._scheme.normalized_base_dir
        if not path.startswith(base):
            return {}
        dir_path = posixpath.dirname(path[len(base) :])
        if self._scheme.style == PartitionStyle.HIVE:
            found = self._parse_hive(dir_path)
        else:
            found = self._parse_dir(dir_path)
        for name, data_type in (self._scheme.field_types or {}).items():
            if name in found:
                found[name] = _cast(found[name], data_type)
        return found

    def _parse_hive(self, dir_path: str) -> dict[str, Any]:
        pairs = [d.split("=") for d in dir_path.split("/") if d and d.count("=") == 1]
        # Writers URL-encode values (pyarrow does for cloud storage): decode to read them back.
        pairs = [[key, urllib.parse.unquote(value)] for key, value in pairs]
        names = self._scheme.field_names
        if names and pairs:
            if len(pairs) != len(names):
                raise ValueError(
                    f"Expected {len(names)} partition value(s) but found {len(pairs)}: {pairs}."
                )
            for name, (key, _) in zip(names, pairs, strict=True):
                if key != name:
                    raise ValueError(f"Expected partition key {name} but found {key}")
        return dict(pairs)

    def _parse_dir(self, dir_path: str) -> dict[str, Any]:
        dirs = [d for d in dir_path.split("/") if d]
        names = self._scheme.field_names or []
        if dirs and len(dirs) != len(names):
            raise ValueError(
                f"Expected {len(names)} partition value(s) but found {len(dirs)}: {dirs}."
            )
        return {name: value for name, value in zip(names, dirs, strict=False) if name is not None}


class PathPartitionFilter:
    """Keeps the files whose partition (a dict of strings, {} if unpartitioned) `filter_fn`
    accepts; the readers apply it to the file list before reading anything."""

    @staticmethod
    def of(
        filter_fn: Callable[[dict[str, Any]], bool],
        style: PartitionStyle = PartitionStyle.HIVE,
        base_dir: str | None = None,
        field_names: list[str] | None = None,
        field_types: dict[str, type] | None = None,
        filesystem: Any = None,
    ) -> PathPartitionFilter:
        parser = PathPartitionParser.of(style, base_dir, field_names, field_types, filesystem)
        return PathPartitionFilter(parser, filter_fn)

    def __init__(
        self, path_partition_parser: PathPartitionParser, filter_fn: Callable[[dict], bool]
    ) -> None:
        self._parser = path_partition_parser
        self._filter_fn = filter_fn

    def __call__(self, paths: list[str]) -> list[str]:
        if self._filter_fn is None:
            return paths
        return [p for p in paths if self.apply(p)]

    def apply(self, path: str) -> bool:
        return self._filter_fn(self._parser(path))

    @property
    def parser(self) -> PathPartitionParser:
        return self._parser
