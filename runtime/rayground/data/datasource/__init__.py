"""rayground.data.datasource: the public pieces of Ray Data's `ray.data.datasource` that file
reads and writes take (partitioning, file naming, save modes, file shuffling)."""

from .file_based_datasource import FileShuffleConfig
from .filename_provider import FilenameProvider
from .partitioning import Partitioning, PartitionStyle, PathPartitionFilter, PathPartitionParser
from .save_mode import SaveMode

__all__ = [
    "FileShuffleConfig",
    "FilenameProvider",
    "PartitionStyle",
    "Partitioning",
    "PathPartitionFilter",
    "PathPartitionParser",
    "SaveMode",
]
