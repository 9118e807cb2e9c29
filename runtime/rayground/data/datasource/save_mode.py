"""`SaveMode`: what a write does when its target directory already exists (Ray's SaveMode)."""

from __future__ import annotations

from enum import Enum


class SaveMode(str, Enum):
    CREATE = "create"  # fail if the directory exists
    APPEND = "append"  # add files beside what is there (the default)
    OVERWRITE = "overwrite"  # delete what is there, then write
    IGNORE = "ignore"  # write nothing if the directory exists
    ERROR = "error"  # fail if the directory exists
    UPSERT = "upsert"  # for table sinks; for files, the same as APPEND
