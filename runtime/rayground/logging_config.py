"""`LoggingConfig`, as Ray's `ray.LoggingConfig`: how Python's logging is set up, given to
`init(logging_config=...)`. In the driver, `init` applies it to the root logger: TEXT lines (time,
level, file:line, message) or JSON objects (one per line), at `log_level`, with the extra
LogRecord attributes asked for. Workers keep Python's default logging in rayground (their output
still reaches the driver); `init` says so when it is given one.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, fields
from typing import Any

__all__ = ["LoggingConfig"]

ENCODINGS = ("TEXT", "JSON")
# Python's own LogRecord attributes (what additional_log_standard_attrs may name).
STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime"}
)


@dataclass
class LoggingConfig:
    encoding: str = "TEXT"
    log_level: str = "INFO"
    additional_log_standard_attrs: list = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise ValueError(
                f"Invalid encoding type: {self.encoding}. Valid encoding types are: "
                f"{list(ENCODINGS)}"
            )
        if not isinstance(logging.getLevelName(str(self.log_level).upper()), int):
            raise ValueError(
                f"Invalid log level: {self.log_level!r}. Use DEBUG, INFO, WARNING, ERROR or "
                "CRITICAL."
            )
        for attr in self.additional_log_standard_attrs:
            if attr not in STANDARD_ATTRS:
                raise ValueError(
                    f"Unknown python logging standard attribute: {attr}. The valid attributes "
                    f"are: {sorted(STANDARD_ATTRS)}"
                )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoggingConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def _apply(self) -> None:
        """Set up this process's root logger as the config says."""
        handler = logging.StreamHandler()
        handler.setFormatter(_Formatter(self.encoding, list(self.additional_log_standard_attrs)))
        root = logging.getLogger()
        root.handlers = [handler]
        root.setLevel(str(self.log_level).upper())


class _Formatter(logging.Formatter):
    def __init__(self, encoding: str, extra: list[str]) -> None:
        super().__init__()
        self.encoding = encoding
        self.extra = extra

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        if self.encoding == "JSON":
            out: dict[str, Any] = {
                "asctime": self.formatTime(record),
                "levelname": record.levelname,
                "message": message,
                "filename": record.filename,
                "lineno": record.lineno,
            }
            out.update({attr: getattr(record, attr, None) for attr in self.extra})
            return json.dumps(out, default=str)
        extras = "".join(f" {attr}={getattr(record, attr, None)}" for attr in self.extra)
        return (
            f"{self.formatTime(record)}\t{record.levelname} {record.filename}:{record.lineno} "
            f"-- {message}{extras}"
        )
