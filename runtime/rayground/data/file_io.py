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
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs

from . import block as blocks
from .block import Block

PARQUET_EXTENSIONS = ["parquet"]
JSON_EXTENSIONS = [
    f"{stem}{suffix}" for suffix in ("", ".gz", ".br", ".zst", ".lz4") for stem in ("json", "jsonl")
]
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
    partition_filter: Any = None,
    skip_paths: str | list[str] | None = None,
) -> tuple[pafs.FileSystem, list[str]]:
    """The files to read, in a stable order, and the filesystem to read them with.
    `ignore_missing` (Ray's `ignore_missing_paths=True`) skips paths that do not exist;
    `partition_filter` (a PathPartitionFilter) keeps the files of the partitions it accepts;
    `skip_paths` (Ray's read_parquet option) drops the files named, found or not.
    Found files that the filter or `extensions` leave out fail with Ray's ValueError."""
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    if not isinstance(paths, list | tuple) or not paths:
        raise ValueError(
            f"{caller}() expects a path or a non-empty list of paths (files, directories or "
            f"glob patterns), got {paths!r}."
        )
    fs = filesystem
    files: list[str] = []
    skip = _normalized(filesystem, [skip_paths] if isinstance(skip_paths, str) else skip_paths)
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
        if path in skip or (
            ignore_missing and fs.get_file_info(path).type == pafs.FileType.NotFound
        ):
            continue
        files.extend(f for f in _expand(caller, fs, path) if f not in skip)
    if not files:
        raise FileNotFoundError(
            f"{caller}(): no files found under {list(map(os.fspath, paths))}. Check the path."
        )
    if partition_filter is not None:
        files = partition_filter(files)
        if not files:
            raise ValueError(
                "No input files found to read. Please double check that 'partition_filter' "
                "field is set properly."
            )
    if extensions is not None:
        files = [f for f in files if _matches(f, extensions)]
        if not files:
            raise ValueError(
                f"No input files found to read with the following file extensions: "
                f"{extensions}. Please double check that 'file_extensions' field is set "
                "properly (file_extensions=None reads files with any name)."
            )
    assert fs is not None
    return fs, files


def _normalized(filesystem: Any, paths: list[str] | None) -> set[str]:
    """Paths as resolve_paths lists them: scheme off; absolute, for the local filesystem."""
    out = set()
    for p in paths or []:
        p = os.fspath(p)
        p = p.split("://", 1)[1] if "://" in p else p
        out.add(os.path.abspath(os.path.expanduser(p)) if filesystem is None else p)
    return out


def _expand(caller: str, fs: pafs.FileSystem, path: str) -> list[str]:
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
            out.extend(_expand(caller, fs, m))
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
            i.path for i in infos if i.type == pafs.FileType.File and not _hidden(i.path, path)
        )
    return [path]


# ---- read tasks (run on workers) ---------------------------------------------------------


@dataclass
class FileReadTask:
    """Read some files into one block. `kind` picks the format; `args` are its options;
    `open_args` go to the filesystem's open_input_stream (Ray's arrow_open_stream_args);
    `partitioning` (a Partitioning, or None) adds each file's partition keys as columns."""

    kind: str
    paths: list[str]
    filesystem: pafs.FileSystem
    args: dict[str, Any] = field(default_factory=dict)
    include_paths: bool = False
    open_args: dict[str, Any] = field(default_factory=dict)
    partitioning: Any = None

    def read(self) -> Block:
        parser = None
        if self.partitioning is not None:
            from .datasource.partitioning import PathPartitionParser

            parser = PathPartitionParser(self.partitioning)
        parts = []
        for path in self.paths:
            if self.kind == "parquet":
                table = _read_parquet(self.filesystem, path, **self.args)
            else:
                with self.filesystem.open_input_stream(path, **self.open_args) as f:
                    table = _READERS[self.kind](f, path, **self.args)
            if parser is not None:
                table = _add_partitions(table, parser(path))
            if self.include_paths:
                table = table.append_column("path", pa.array([path] * table.num_rows, pa.string()))
            parts.append(table)
        return blocks.concat(parts)


def _add_partitions(table: Block, partitions: dict[str, Any]) -> Block:
    """The partition keys as columns, as Ray adds them: a key that is already a column must
    agree with it (cast to its type), else it is appended as a new column."""
    import pyarrow.compute as pc

    for name, value in partitions.items():
        column = pa.array([value] * table.num_rows)
        if name in table.column_names:
            target = table.schema.field(name).type
            try:
                column = column.cast(target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise ValueError(
                    f"Partition value {value!r} for field {name!r} cannot be cast to target "
                    f"type {target}."
                ) from exc
            if table.num_rows and not pc.all(pc.equal(column, table[name])).as_py():
                raise ValueError(
                    f"Partition column {name} exists in table data, but partition value "
                    f"'{value}' is different from in-data values: "
                    f"{table[name].unique().to_pylist()}."
                )
            table = table.set_column(table.schema.get_field_index(name), name, column)
        else:
            table = table.append_column(name, column)
    return table


def _read_parquet(fs: pafs.FileSystem, path: str, **args: Any) -> Block:
    import pyarrow.parquet as pq

    # Partition keys come from the path through Ray's Partitioning, not pyarrow's discovery.
    return pq.read_table(path, filesystem=fs, partitioning=None, **args)


def _read_csv(f: Any, path: str, **args: Any) -> Block:
    import pyarrow.csv as pacsv

    return pacsv.read_csv(f, **args)


def _read_json(f: Any, path: str, **args: Any) -> Block:
    import pyarrow.json as pajson

    data = f.read()
    try:
        return pajson.read_json(io.BytesIO(data), **args)
    except pa.ArrowInvalid:
        # Not JSON lines: one JSON document (a list of records, or a single record).
        doc = json.loads(data)
        return blocks.from_rows(doc if isinstance(doc, list) else [doc])


def _read_text(f: Any, path: str, encoding: str = "utf-8", drop_empty_lines: bool = True) -> Block:
    lines = f.read().decode(encoding).splitlines()
    if drop_empty_lines:
        lines = [line for line in lines if line.strip()]
    return pa.table({"text": pa.array(lines, pa.string())})


def _read_numpy(f: Any, path: str, allow_pickle: bool = False, **numpy_load_args: Any) -> Block:
    arr = np.load(io.BytesIO(f.read()), allow_pickle=allow_pickle, **numpy_load_args)
    return pa.table({"data": blocks.to_arrow_column(arr)})


def _read_binary(f: Any, path: str) -> Block:
    return pa.table({"bytes": pa.array([f.read()], pa.binary())})


_READERS = {
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
    open_args: dict[str, Any] | None = None,
    partitioning: Any = None,
) -> list[FileReadTask]:
    """Files grouped into `num_blocks` read tasks (contiguous groups, so order is kept)."""
    n = max(1, min(num_blocks, len(files)))
    groups = np.array_split(np.arange(len(files)), n)
    return [
        FileReadTask(
            kind,
            [files[i] for i in g],
            fs,
            dict(args),
            include_paths,
            open_args or {},
            partitioning,
        )
        for g in groups
        if len(g)
    ]


def check_shuffle(shuffle: Any) -> None:
    from .datasource import FileShuffleConfig

    if not (shuffle is None or shuffle == "files" or isinstance(shuffle, FileShuffleConfig)):
        raise ValueError(
            f"Invalid value for 'shuffle': {shuffle}. Valid values are None, 'files', "
            "`FileShuffleConfig`."
        )


def shuffled(tasks: list[Any], shuffle: Any, execution_idx: int) -> list[Any]:
    """The read tasks with their files dealt out in a random order (Ray's shuffle="files" or a
    FileShuffleConfig), drawn anew for each execution unless the config fixes the seed."""
    if shuffle is None or not tasks or not isinstance(tasks[0], FileReadTask):
        return tasks
    seed = None if shuffle == "files" else shuffle.get_seed(execution_idx)
    files = [p for t in tasks for p in t.paths]
    np.random.default_rng(seed).shuffle(files)
    out, start = [], 0
    for t in tasks:
        out.append(replace(t, paths=files[start : start + len(t.paths)]))
        start += len(t.paths)
    return out


# ---- writers (run on workers, as the last step of a fused chain) --------------------------

FILE_FORMATS = {"parquet": "parquet", "csv": "csv", "json": "json", "numpy": "npy"}


def parquet_basename_template(filename: str) -> str:
    """pyarrow's basename template for a Parquet file name, as Ray makes it: `{i}` (one number
    per file a task writes) goes before the extension, which is added if missing."""
    if "{i}" in filename:
        return filename if "parquet" in filename else f"{filename}.parquet"
    if "parquet" not in filename:
        return f"{filename}-{{i}}.parquet"
    stem, _, suffix = filename.rpartition(".")
    return f"{stem}-{{i}}.{suffix}"


@dataclass
class FileWriter:
    """Writes each non-empty block it is given to the file(s) the filename provider names for
    the write task (`index`): `{dataset_uuid}_{write_uuid}_{index:06}.{ext}` by default, as Ray.
    Parquet goes through pyarrow.dataset.write_dataset, for `partition_cols` (hive directories)
    and `max_rows_per_file` (several files per task, `-0`, `-1`, ...)."""

    kind: str
    path: str
    filesystem: pafs.FileSystem
    args: dict[str, Any] = field(default_factory=dict)
    write_uuid: str = field(default_factory=lambda: uuid.uuid4().hex)
    filename_provider: Any = None
    open_args: dict[str, Any] = field(default_factory=dict)
    partition_cols: list[str] | None = None
    max_rows_per_file: int | None = None
    try_create_dir: bool = True

    def write(self, block: Block, index: int) -> None:
        if block.num_rows == 0:
            return
        filename = self.filename_provider.get_filename_for_task(self.write_uuid, index)
        if self.kind == "parquet":
            self._write_parquet(block, filename)
            return
        target = f"{self.path.rstrip('/')}/{filename}"
        with self.filesystem.open_output_stream(target, **self.open_args) as out:
            if self.kind == "csv":
                import pyarrow.csv as pacsv

                pacsv.write_csv(block, out, **self.args)
            elif self.kind == "json":
                frame = blocks.to_batch(block, "pandas")
                options = {"orient": "records", "lines": True, **self.args}
                out.write(frame.to_json(**options).encode())
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

    def _write_parquet(self, block: Block, filename: str) -> None:
        import pyarrow.dataset as pds

        args = dict(self.args)
        schema = args.pop("schema", None)
        if schema is not None:
            block = block.select(schema.names).cast(schema)
        row_group_size = args.pop("row_group_size", None)
        flavor = args.pop("partitioning_flavor", "hive")
        limits: dict[str, Any] = {}
        if self.max_rows_per_file is not None:
            limits["max_rows_per_file"] = self.max_rows_per_file
            limits["max_rows_per_group"] = min(self.max_rows_per_file, row_group_size or 1 << 20)
            limits["min_rows_per_group"] = 0
        elif row_group_size is not None:
            limits["max_rows_per_group"] = row_group_size
            limits["min_rows_per_group"] = 0
        pds.write_dataset(
            block,
            base_dir=self.path,
            basename_template=parquet_basename_template(filename),
            filesystem=self.filesystem,
            partitioning=self.partition_cols,
            partitioning_flavor=flavor if self.partition_cols else None,
            format="parquet",
            # The driver applied the save mode before any task ran; several tasks write here.
            existing_data_behavior="overwrite_or_ignore",
            file_options=pds.ParquetFileFormat().make_write_options(**args),
            create_dir=self.try_create_dir,
            **limits,
        )


def resolve_write_path(
    caller: str, path: Any, filesystem: pafs.FileSystem | None
) -> tuple[str, pafs.FileSystem]:
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
    return path, filesystem
