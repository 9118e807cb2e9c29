"""`Checkpoint`: a directory of files a trial saved, as `ray.tune.Checkpoint` (= ray.train's).

A checkpoint is only a path: `tune.report(..., checkpoint=Checkpoint.from_directory(tmp))` copies
the directory under the trial's folder in `storage_path` (so it outlives the trial's process and
the driver), and what the driver and the trainable get back points there.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

_METADATA_FILE = ".metadata.json"


class Checkpoint:
    """A reference to a directory holding a trial's saved state."""

    def __init__(self, path: str | os.PathLike[str], filesystem: Any = None) -> None:
        self.path = os.fspath(path)
        self.filesystem = filesystem

    @classmethod
    def from_directory(cls, path: str | os.PathLike[str]) -> Checkpoint:
        path = os.fspath(path)
        if not os.path.isdir(path):
            raise ValueError(
                f"Checkpoint.from_directory({path!r}): no such directory. Write the state files "
                "into a directory first, then make the checkpoint from it."
            )
        return cls(os.path.abspath(path))

    def to_directory(self, path: str | os.PathLike[str] | None = None) -> str:
        """Copy the checkpoint's files into `path` (a new temporary directory if None)."""
        target = os.fspath(path) if path is not None else tempfile.mkdtemp(prefix="checkpoint-")
        os.makedirs(target, exist_ok=True)
        shutil.copytree(self.path, target, dirs_exist_ok=True)
        return target

    @contextlib.contextmanager
    def as_directory(self) -> Iterator[str]:
        """The checkpoint as a local directory to read from (its own path: it is local)."""
        if not os.path.isdir(self.path):
            raise FileNotFoundError(
                f"The checkpoint directory {self.path} is gone (deleted, or num_to_keep in "
                "CheckpointConfig removed it)."
            )
        yield self.path

    def get_metadata(self) -> dict[str, Any]:
        try:
            with open(os.path.join(self.path, _METADATA_FILE)) as f:
                return dict(json.load(f))
        except FileNotFoundError:
            return {}

    def set_metadata(self, metadata: dict[str, Any]) -> None:
        with open(os.path.join(self.path, _METADATA_FILE), "w") as f:
            json.dump(metadata, f)

    def update_metadata(self, metadata: dict[str, Any]) -> None:
        merged = self.get_metadata()
        merged.update(metadata)
        self.set_metadata(merged)

    def __repr__(self) -> str:
        return f"Checkpoint(filesystem=local, path={self.path})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Checkpoint) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)
