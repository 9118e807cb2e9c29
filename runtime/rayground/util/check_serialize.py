"""inspect_serializability: find what stops a function or object from being sent to a worker, as
`ray.util.inspect_serializability`.

A remote function travels with what it uses: its closure and the module globals it names. When
one of those cannot be pickled (a lock, an open file, a database connection), the error names
the outer function only; this walks into it and reports the innermost culprits, with the path
from the object you passed.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from .._core.serialization import pickle_error, pickle_parts


class FailureTuple:
    """One part that cannot be serialized: the object, its `path` of names from the object
    inspected (a variable, an attribute, a key), and the `parent` that holds it."""

    def __init__(self, obj: Any, path: tuple[str, ...], parent: Any) -> None:
        self.obj = obj
        self.path = path
        self.parent = parent

    @property
    def name(self) -> str:
        return self.path[-1] if self.path else "unknown"

    def __repr__(self) -> str:
        route = " -> ".join(self.path) or "unknown"
        return f"FailTuple({self.name} [path={route}, obj={self.obj!r}, parent={self.parent!r}])"


def inspect_serializability(
    base_obj: Any, name: str | None = None, depth: int = 3, print_file: TextIO | None = None
) -> tuple[bool, set[FailureTuple]]:
    """Check whether `base_obj` can be serialized; print what cannot and return
    `(serializable, failures)`, looking up to `depth` levels into closures, globals,
    attributes and containers."""
    out = print_file or sys.stdout
    label = name or _short(base_obj)
    line = "=" * min(len(f"Checking Serializability of {label}"), 80)
    print(line, file=out)
    print(f"Checking Serializability of {label}", file=out)
    print(line, file=out)
    failures: set[FailureTuple] = set()
    path = (name,) if name is not None else ()
    ok = _check(base_obj, path, None, depth, failures, out, indent=0)
    if ok:
        print(f"{label} is serializable.", file=out)
    else:
        print(line, file=out)
        print("Variable(s) found to be non-serializable:\n", file=out)
        for failure in failures:
            print(f"\t{failure}", file=out)
        print(
            "\nPass these as arguments or create them inside the function or actor instead of "
            "capturing them, or give their class __reduce__.",
            file=out,
        )
        print(line, file=out)
    return ok, failures


def _check(
    obj: Any,
    path: tuple[str, ...],
    parent: Any,
    depth: int,
    failures: set[FailureTuple],
    out: TextIO,
    indent: int,
) -> bool:
    """Whether `obj` pickles; if not, record the innermost parts to blame (up to `depth`)."""
    error = pickle_error(obj)
    if error is None:
        return True
    pad = "    " * indent
    print(f"{pad}!!! FAIL serialization: {error}", file=out)
    if depth <= 0:
        failures.add(FailureTuple(obj, path, parent))
        return False
    found_inner = False
    for step, child in pickle_parts(obj):
        child_name = step.lstrip(".")
        print(f"{pad}    Serializing {child_name!r} {_short(child)}...", file=out)
        if not _check(child, (*path, child_name), obj, depth - 1, failures, out, indent + 1):
            found_inner = True  # it recorded itself or something more specific inside it
    if not found_inner:  # nothing inside to blame: this object itself
        failures.add(FailureTuple(obj, path, parent))
    return False


def _short(obj: Any, limit: int = 80) -> str:
    text = repr(obj)
    return text if len(text) <= limit else text[: limit - 3] + "..."
