"""Code travels with its real file name, and a notebook cell's code with its source lines, so a
remote traceback can show the failing line of a cell the worker has no file for."""

from __future__ import annotations

import linecache
import traceback

from rayground._core.serialization import dumps_code, loads_code

CELL = "def check(order):\n    if order < 0:\n        raise KeyError(order)\n    return order\n"


def _run_elsewhere(blob: bytes, cell_name: str) -> str:
    """Load the code as a worker would (the cell's lines unknown here), run it, format the
    error."""
    linecache.cache.pop(cell_name, None)
    fn = loads_code(blob)
    try:
        fn(-1)
    except KeyError as exc:
        return "".join(traceback.format_exception(exc))
    raise AssertionError("check(-1) should raise")


def test_a_cell_function_carries_its_lines():
    name = "/tmp/ipykernel_4242/1234.py"
    linecache.cache[name] = (len(CELL), None, CELL.splitlines(True), name)
    namespace: dict = {"__name__": "__main__"}
    exec(compile(CELL, name, "exec"), namespace)
    try:
        blob = dumps_code(namespace["check"])
        text = _run_elsewhere(blob, name)
    finally:
        linecache.cache.pop(name, None)
    assert f'File "{name}", line 3, in check' in text
    assert "raise KeyError(order)" in text


def test_a_script_function_keeps_its_file_name_and_ships_no_source():
    namespace: dict = {"__name__": "__main__"}
    exec(compile(CELL, __file__, "exec"), namespace)  # a file that exists on disk
    blob = dumps_code(namespace["check"])
    assert __file__.encode() in blob
    assert b"raise KeyError(order)" not in blob  # read from the file where it is shown
    assert loads_code(blob).__code__.co_filename == __file__
