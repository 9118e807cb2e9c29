"""A dataset's write, on the driver, as Ray's file datasinks do it: the save mode decides first
(fail, skip, replace or add to an existing directory), then one write step runs after the plan
(fused into its tasks, or on groups of blocks of at least `min_rows_per_file` rows), and a
directory the write created but left empty is removed."""

from __future__ import annotations

import logging
import uuid
import warnings
from typing import Any

import pyarrow.fs as pafs

from . import plan as lp
from .compute import remote_args
from .datasource.filename_provider import FilenameProvider
from .datasource.save_mode import SaveMode
from .executor import execute
from .file_io import FILE_FORMATS, FileWriter, resolve_write_path
from .stats import DatasetStats
from .transform import MapSpec

logger = logging.getLogger(__name__)


def _positive(caller: str, name: str, value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{caller}({name}=...) must be an int >= 1, got {value!r}")


def save_mode(caller: str, mode: Any) -> SaveMode:
    try:
        return SaveMode(mode)
    except ValueError:
        raise ValueError(
            f"{caller}(mode={mode!r}) is not a save mode: use one of "
            f"{[m.value for m in SaveMode]} (or ray.data.SaveMode.OVERWRITE, ...)."
        ) from None


def write(
    op: lp.LogicalOp,
    stats: DatasetStats,
    kind: str,
    path: Any,
    *,
    dataset_uuid: str,
    filesystem: Any = None,
    try_create_dir: bool = True,
    arrow_open_stream_args: dict[str, Any] | None = None,
    filename_provider: FilenameProvider | None = None,
    min_rows_per_file: int | None = None,
    max_rows_per_file: int | None = None,
    num_rows_per_file: int | None = None,
    partition_cols: list[str] | None = None,
    ray_remote_args: dict[str, Any] | None = None,
    concurrency: int | None = None,
    mode: Any = SaveMode.APPEND,
    args: dict[str, Any] | None = None,
) -> None:
    caller = f"write_{kind}"
    mode = save_mode(caller, mode)
    if num_rows_per_file is not None:
        warnings.warn(
            "`num_rows_per_file` is deprecated and will be removed in a future release. Use "
            "`min_rows_per_file` instead.",
            DeprecationWarning,
            stacklevel=3,
        )
        if min_rows_per_file is None:
            min_rows_per_file = num_rows_per_file
    for name, value in (
        ("min_rows_per_file", min_rows_per_file),
        ("max_rows_per_file", max_rows_per_file),
        ("concurrency", concurrency),
    ):
        _positive(caller, name, value)
    if min_rows_per_file and max_rows_per_file and min_rows_per_file > max_rows_per_file:
        raise ValueError("min_rows_per_file must be less than or equal to max_rows_per_file")
    if partition_cols is not None and (
        isinstance(partition_cols, str) or not all(isinstance(c, str) for c in partition_cols)
    ):
        raise TypeError(
            f"{caller}(partition_cols=...) takes a list of column names, got {partition_cols!r}"
        )
    if filename_provider is not None and not isinstance(filename_provider, FilenameProvider):
        raise TypeError(
            f"{caller}(filename_provider=...) takes a ray.data.datasource.FilenameProvider "
            f"(subclass it and override get_filename_for_task), got {filename_provider!r}"
        )
    options = remote_args({}, ray_remote_args, f"{caller}'s write tasks")
    path, fs = resolve_write_path(caller, path, filesystem)

    write_uuid = uuid.uuid4().hex
    provider = filename_provider or FilenameProvider(dataset_uuid, FILE_FORMATS[kind])
    if kind == "parquet" and mode == SaveMode.APPEND:
        # Ray checks this in each write task; here it fails before anything is written.
        first = provider.get_filename_for_task(write_uuid, 0)
        if write_uuid not in first:
            raise ValueError(
                f"Write UUID '{write_uuid}' missing from filename template '{first}'. This "
                "could result in files being overwritten. Modify your FileNameProvider "
                "implementation to include the `write_uuid` into the filename template or "
                "change your write mode to SaveMode.OVERWRITE."
            )

    if fs.get_file_info(path).type is not pafs.FileType.NotFound:
        if mode in (SaveMode.ERROR, SaveMode.CREATE):
            raise ValueError(
                f"Path {path} already exists. If this is unexpected, use mode='ignore' to "
                "ignore those files"
            )
        if mode == SaveMode.IGNORE:
            logger.warning("[SaveMode=%s] Skipping %s", mode, path)
            return
        if mode == SaveMode.OVERWRITE:
            logger.warning("[SaveMode=%s] Replacing contents %s", mode, path)
            fs.delete_dir_contents(path)
        created = False
    else:
        created = try_create_dir
        if try_create_dir:
            fs.create_dir(path, recursive=True)

    writer = FileWriter(
        kind,
        path,
        fs,
        dict(args or {}),
        write_uuid,
        provider,
        dict(arrow_open_stream_args or {}),
        list(partition_cols) if partition_cols else None,
        max_rows_per_file,
        try_create_dir,
    )
    spec = MapSpec(kind="write", name="Write", fn=writer, batch_size=min_rows_per_file)
    compute = lp.TaskPoolStrategy(concurrency) if concurrency else None
    for _ in execute(lp.MapOp(op, spec, options, compute), stats):
        pass
    if created and not fs.get_file_info(pafs.FileSelector(path, recursive=True)):
        fs.delete_dir(path)  # nothing was written (every block empty), as Ray leaves no directory
