"""Files in and out: resolving paths (files, directories, globs, lists; any `pyarrow.fs`
filesystem), the read tasks that turn files into blocks on a worker, and the writers.

Paths are resolved when the dataset is created, on the driver, so a missing file fails at once
with its name, as in Ray. A URL (`s3://...`) with no `filesystem=` fails at once too: rayground
reaches only the local filesystem by itself.
"""

from __future__ import annotations

import glob as globlib
import io
import json
import os
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs

from . import block as blocks
from .block import Block

PARQUET_EXTENSIONS = ["parquet"]
JSON_EXTENSIONS = ["json", "jsonl"]
NUMPY_EXTENSIONS = ["npy"]
CSV_EXTENSIONS = ["csv"]


def _scheme(path: str) -> str | None:
    if "://" in path:
        return path.split("://", 1)[0].lower()
    return None


def _hidden(path: str, base: str) -> bool:
    rel = os.path.relpath(path, base) if base else path
    return any(part.startswith((".", "_")) for part in rel.split("/") if part)


def _matches(path: str, extensions: list[str] | None) -> bool:
    if not extensions:
        return True
    lower = path.lower()
    return any(lower.endswith("." + ext.lower()) for ext in extensions)


def resolve_paths(
    caller: str,
    paths: Any,
    filesystem: pafs.FileSystem | None,
    extensions: list[str] | None,
    ignore_missing: bool = False,
) -> tuple[pafs.FileSystem, list[str]]:
    """The files to read, in a stable order, and the filesystem to read them with.
    `ignore_missing` (Ray's `ignore_missing_paths=True`) skips paths that do not exist."""
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    if not isinstance(paths, list | tuple) or not paths:
        raise ValueError(
            f"{caller}() expects a path or a non-empty list of paths (files, directories or "
            f"glob patterns), got {paths!r}."
        )
    fs = filesystem
    files: list[str] = []
    for raw in paths:
        if not isinstance(raw, str | os.PathLike):
            raise TypeError(
                f"{caller}(): each path must be a str, got {type(raw).__name__} ({raw!r})"
            )
        path = os.fspath(raw)
        scheme = _scheme(path)
        if scheme is not None and scheme not in ("file", "local"):
            if filesystem is None:
                raise ValueError(
                    f"{caller}({path!r}): rayground reads {scheme}:// paths only through a "
                    f"filesystem you pass: {caller}(..., filesystem=pyarrow.fs.S3FileSystem(...)) "
                    f"(any pyarrow.fs filesystem works; give the path without '{scheme}://'), "
                    "or copy the data to a local directory and read that path."
                )
            path = path.split("://", 1)[1]
        elif scheme is not None:
            path = path.split("://", 1)[1]
        if fs is None:
            fs = pafs.LocalFileSystem()
            path = os.path.abspath(os.path.expanduser(path))
        if ignore_missing and fs.get_file_info(path).type == pafs.FileType.NotFound:
            continue
        files.extend(_expand(caller, fs, path, extensions))
    if not files:
        wanted = f" ending in {', '.join('.' + e for e in extensions)}" if extensions else ""
        raise FileNotFoundError(
            f"{caller}(): no files{wanted} found under {list(map(os.fspath, paths))}. Check the "
            "path, or pass file_extensions=None to read files with any name."
        )
    assert fs is not None
    return fs, files


def _expand(caller: str, fs: pafs.FileSystem, path: str, extensions: list[str] | None) -> list[str]:
    if any(c in path for c in "*?["):
        if isinstance(fs, pafs.LocalFileSystem):
            matched = sorted(globlib.glob(path, recursive=True))
        else:
            import fnmatch

            base = path[: min(path.index(c) for c in "*?[" if c in path)].rsplit("/", 1)[0]
            infos = fs.get_file_info(pafs.FileSelector(base, recursive=True))
            matched = sorted(i.path for i in infos if fnmatch.fnmatch(i.path, path))
        if not matched:
            raise FileNotFoundError(f"{caller}(): no file matches the pattern {path!r}.")
        out: list[str] = []
        for m in matched:
            out.extend(_expand(caller, fs, m, extensions))
        return out
    info = fs.get_file_info(path)
    if info.type == pafs.FileType.NotFound:
        raise FileNotFoundError(
            f"{caller}(): {path} does not exist. Check the path (relative paths are relative to "
            f"the driver's working directory, {os.getcwd()})."
        )
    if info.type == pafs.FileType.Directory:
        infos = fs.get_file_info(pafs.FileSelector(path, recursive=True))
        return sorted(
            i.path
            for i in infos
            if i.type == pafs.FileType.File
            and not _hidden(i.path, path)
            and _matches(i.path, extensions)
        )
    return [path]


# ---- read tasks (run on workers) ---------------------------------------------------------


@dataclass
class FileReadTask:
    """Read some files into one block. `kind` picks the format; `args` are its options."""

    kind: str
    paths: list[str]
    filesystem: pafs.FileSystem
    args: dict[str, Any] = field(default_factory=dict)
    include_paths: bool = False

    def read(self) -> Block:
        parts = []
        for path in self.paths:
            table = _READERS[self.kind](self.filesystem, path, **self.args)
            if self.include_paths:
                table = table.append_column("path", pa.array([path] * table.num_rows, pa.string()))
            parts.append(table)
        return blocks.concat(parts)


def _read_parquet(fs: pafs.FileSystem, path: str, **args: Any) -> Block:
    import pyarrow.parquet as pq

    return pq.read_table(path, filesystem=fs, **args)


def _read_csv(fs: pafs.FileSystem, path: str, **args: Any) -> Block:
    import pyarrow.csv as pacsv

    with fs.open_input_stream(path) as f:
        return pacsv.read_csv(f, **args)


def _read_json(fs: pafs.FileSystem, path: str, **args: Any) -> Block:
    import pyarrow.json as pajson

    with fs.open_input_stream(path) as f:
        data = f.read()
    try:
        return pajson.read_json(io.BytesIO(data), **args)
    except pa.ArrowInvalid:
        # Not JSON lines: one JSON document (a list of records, or a single record).
        doc = json.loads(data)
        return blocks.from_rows(doc if isinstance(doc, list) else [doc])


def _read_text(
    fs: pafs.FileSystem, path: str, encoding: str = "utf-8", drop_empty_lines: bool = True
) -> Block:
    with fs.open_input_stream(path) as f:
        lines = f.read().decode(encoding).splitlines()
    if drop_empty_lines:
        lines = [line for line in lines if line.strip()]
    return pa.table({"text": pa.array(lines, pa.string())})


def _read_numpy(fs: pafs.FileSystem, path: str, allow_pickle: bool = False) -> Block:
    with fs.open_input_stream(path) as f:
        arr = np.load(io.BytesIO(f.read()), allow_pickle=allow_pickle)
    return pa.table({"data": blocks.to_arrow_column(arr)})


def _read_binary(fs: pafs.FileSystem, path: str) -> Block:
    with fs.open_input_stream(path) as f:
        data = f.read()
    return pa.table({"bytes": pa.array([data], pa.binary())})


_READERS = {
    "parquet": _read_parquet,
    "csv": _read_csv,
    "json": _read_json,
    "text": _read_text,
    "numpy": _read_numpy,
    "binary": _read_binary,
}


@dataclass
class RangeReadTask:
    start: int
    stop: int
    tensor_shape: tuple[int, ...] | None = None
    paths: tuple[str, ...] = ()

    def read(self) -> Block:
        ids = np.arange(self.start, self.stop, dtype=np.int64)
        if self.tensor_shape is None:
            return pa.table({"id": ids})
        data = np.ones((len(ids), *self.tensor_shape), dtype=np.int64) * ids.reshape(
            (-1,) + (1,) * len(self.tensor_shape)
        )
        return pa.table({"data": blocks.to_arrow_column(data)})


def file_read_tasks(
    kind: str,
    fs: pafs.FileSystem,
    files: list[str],
    num_blocks: int,
    args: dict[str, Any],
    include_paths: bool,
) -> list[FileReadTask]:
    """Files grouped into `num_blocks` read tasks (contiguous groups, so order is kept)."""
    n = max(1, min(num_blocks, len(files)))
    groups = np.array_split(np.arange(len(files)), n)
    return [
        FileReadTask(kind, [files[i] for i in g], fs, dict(args), include_paths)
        for g in groups
        if len(g)
    ]


# ---- writers (run on workers, as the last step of a fused chain) --------------------------


@dataclass
class FileWriter:
    """Writes each non-empty block to `<dir>/<uuid>_<block:06d>_000000.<ext>`."""

    kind: str
    path: str
    filesystem: pafs.FileSystem
    args: dict[str, Any] = field(default_factory=dict)
    write_uuid: str = field(default_factory=lambda: uuid.uuid4().hex)

    def write(self, block: Block, index: int) -> None:
        if block.num_rows == 0:
            return
        ext = {"parquet": "parquet", "csv": "csv", "json": "json", "numpy": "npy"}[self.kind]
        target = f"{self.path.rstrip('/')}/{self.write_uuid}_{index:06d}_000000.{ext}"
        self.filesystem.create_dir(self.path, recursive=True)
        if self.kind == "parquet":
            import pyarrow.parquet as pq

            pq.write_table(block, target, filesystem=self.filesystem, **self.args)
            return
        with self.filesystem.open_output_stream(target) as out:
            if self.kind == "csv":
                import pyarrow.csv as pacsv

                pacsv.write_csv(block, out, **self.args)
            elif self.kind == "json":
                frame = blocks.to_batch(block, "pandas")
                out.write(frame.to_json(orient="records", lines=True, **self.args).encode())
            else:
                column = self.args["column"]
                if column not in block.column_names:
                    raise ValueError(
                        f"write_numpy(column={column!r}): the dataset has no such column; it "
                        f"has {block.column_names}."
                    )
                buf = io.BytesIO()
                np.save(buf, blocks.column_to_numpy(block.column(column)))
                out.write(buf.getvalue())


def writer_for(
    kind: str, path: str, filesystem: pafs.FileSystem | None, args: dict[str, Any]
) -> FileWriter:
    caller = f"write_{kind}"
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"{caller}() expects a directory path, got {type(path).__name__}")
    path = os.fspath(path)
    scheme = _scheme(path)
    if scheme is not None:
        if scheme not in ("file", "local") and filesystem is None:
            raise ValueError(
                f"{caller}({path!r}): rayground writes {scheme}:// paths only through a "
                f"filesystem you pass: {caller}(..., filesystem=pyarrow.fs.S3FileSystem(...)) "
                f"(give the path without '{scheme}://'), or write to a local directory."
            )
        path = path.split("://", 1)[1]
    if filesystem is None:
        filesystem = pafs.LocalFileSystem()
        path = os.path.abspath(os.path.expanduser(path))
    return FileWriter(kind, path, filesystem, args)
