"""`FilenameProvider`: how the writers name their files, as Ray Data's. The default names a file
`{dataset_uuid}_{write_uuid}_{task_index:06}.{format}` (Parquet files add `-{i}` before the
extension, one number per file a task writes)."""

from __future__ import annotations

from typing import Any


class FilenameProvider:
    """Subclass and override `get_filename_for_task` to name the files a write makes."""

    def __init__(self, dataset_uuid: str | None = None, file_format: str | None = None) -> None:
        self.dataset_uuid = dataset_uuid
        self.file_format = file_format

    def get_filename_for_task(self, write_uuid: str, task_index: int) -> str:
        """The file name for write task `task_index` of write `write_uuid`; it must be unique
        and the same every time for the same arguments."""
        name = f"{write_uuid}_{task_index:06}"
        if self.dataset_uuid is not None:
            name = f"{self.dataset_uuid}_{name}"
        if self.file_format is not None:
            name += f".{self.file_format}"
        return name

    def get_filename_for_block(
        self, block: Any, write_uuid: str, task_index: int, block_index: int
    ) -> str:
        """Ray's deprecated hook: writers call `get_filename_for_task` instead."""
        raise NotImplementedError
