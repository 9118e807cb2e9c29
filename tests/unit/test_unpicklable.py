"""Errors for values that cannot be sent to a worker name the part to blame: a function's
captured variable or global, an attribute, an item deep in a container."""

import threading

import pytest

from rayground._core.serialization import export_code, find_unpicklable


def test_export_names_the_variable_a_function_captured():
    lock = threading.Lock()

    def uses_lock():
        with lock:
            return 1

    with pytest.raises(TypeError, match=r"the function uses_lock: .*\(through `lock`, a lock\)"):
        export_code(uses_lock, "the function uses_lock", "Create it inside the function.")


def test_find_unpicklable_gives_the_path_into_containers_and_attributes():
    class Box:
        def __init__(self):
            self.inner = {"items": [1, threading.Lock()]}

    path, part = find_unpicklable({"box": Box()})
    assert path == "['box'].inner['items'][1]"
    assert type(part).__name__ == "lock"
    assert find_unpicklable({"fine": [1, "two"]}) is None
