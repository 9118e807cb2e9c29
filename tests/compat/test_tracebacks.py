"""Where a remote error happened: the traceback in the message names the user's own file and line
(a module, a script, a notebook cell as IPython names it), starting at the user's frame, held to
the same assertions on both backends."""

from __future__ import annotations

import linecache
import re

import pytest

HERE = __file__


def _line_of(text: str) -> int:
    """The line number of the one line in this file that contains `text`."""
    with open(HERE) as f:
        found = [n for n, line in enumerate(f, start=1) if text in line and "_line_of" not in line]
    assert len(found) == 1, found
    return found[0]


def _frames(message: str) -> list[tuple[str, int, str]]:
    found = re.finditer(r'File "([^"]+)", line (\d+), in (\w+)', message)
    return [(m[1], int(m[2]), m[3]) for m in found]


def test_traceback_names_the_file_and_line_that_raised(ray):
    @ray.remote
    def parse(text):
        return int(text)  # marker: parse-line

    with pytest.raises(ValueError) as info:
        ray.get(parse.remote("seven"), timeout=60)
    message = str(info.value)
    frames = _frames(message)
    # The first frame shown is the user's function, not the runtime's code that called it.
    assert frames[0] == (HERE, _line_of("marker: parse-line"), "parse")
    assert "return int(text)" in message
    assert "invalid literal for int()" in message
    assert not message.splitlines()[1].startswith("Traceback")


def test_traceback_of_an_actor_method_names_its_line(ray):
    @ray.remote
    class Counter:
        def add(self, n):
            if n < 0:
                raise ValueError("negative step")  # marker: add-line
            return n

    counter = Counter.remote()
    with pytest.raises(ValueError, match="negative step") as info:
        ray.get(counter.add.remote(-1), timeout=60)
    message = str(info.value)
    assert _frames(message)[0] == (HERE, _line_of("marker: add-line"), "add")
    assert 'raise ValueError("negative step")' in message


CELL = """\
def check(order):
    if order < 0:
        raise KeyError(f"no order {order}")
    return order
"""


@pytest.mark.parametrize(
    "cell_name", ["/tmp/ipykernel_4242/2617354939.py", "<ipython-input-3-5f2a1b9c0d7e>"]
)
def test_traceback_names_a_notebook_cell_as_ipython_does(ray, cell_name):
    # What IPython does with a cell: compile it under its own file name, register the lines in
    # linecache (no file on disk), run it in __main__.
    linecache.cache[cell_name] = (len(CELL), None, CELL.splitlines(True), cell_name)
    try:
        namespace: dict = {"__name__": "__main__"}
        exec(compile(CELL, cell_name, "exec"), namespace)
        check = ray.remote(namespace["check"])
        with pytest.raises(KeyError, match="no order -1") as info:
            ray.get(check.remote(-1), timeout=60)
    finally:
        linecache.cache.pop(cell_name, None)
    assert _frames(str(info.value))[0] == (cell_name, 3, "check")
