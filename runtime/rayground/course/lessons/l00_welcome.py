"""Lesson 00 (welcome and setup check): a first task, where it ran, and two tasks at once."""

from __future__ import annotations

import os
import random
import time
from typing import Any

from ..exercise import Exercise, Grader
from ..observe import api

NAMES = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Niklaus"]


def _grade_greet(greet: Any, g: Grader) -> None:
    g.expect(
        hasattr(greet, "remote"),
        "greet is a remote function",
        "greet is a plain Python function, so it can only run here in the notebook: put "
        "@ray.remote on the line above `def greet`",
    )
    ray = api()
    # Names chosen now, and one that is empty: a greeting typed in for one name cannot pass.
    names = [*random.sample(NAMES, 2), ""]
    for name in names:
        sent = g.twins.input(name, "name")
        value = g.run(lambda sent=sent: ray.get(greet.remote(sent), timeout=30))
        want = f"Hello, {name}!"
        g.expect(
            value == want,
            f"greet.remote({name!r}) gave {want!r}",
            f"greet.remote({name!r}) gave {value!r}; expected {want!r}",
        )
    g.expect(
        g.twins.pickled("name") >= len(names),
        "each name was sent to a task, which made the greeting on a worker",
        "the names were never sent to a task: greet.remote(name) must submit a task that "
        "builds the greeting (a ray.put of a ready-made string is not a task)",
    )
    g.expect_known(
        lambda: g.record.count("greet") == 1,
        "each greeting ran as one greet task",
        f"expected one greet task per call, the cluster saw {g.record.count('greet')}",
    )


def _grade_where(where_did_it_run: Any, g: Grader) -> None:
    pid = g.run(where_did_it_run)
    g.expect(
        isinstance(pid, int) and not isinstance(pid, bool),
        "where_did_it_run() returned a process id",
        f"where_did_it_run() returned {pid!r}; it should return a process id (an int): "
        "the value of os.getpid() inside a task",
    )
    g.expect(
        pid != os.getpid(),
        "that is not the notebook's own process",
        "that is the notebook kernel's own process id: os.getpid() ran here, not in a task. "
        "Call it inside a remote function and get() the result",
    )
    ran_on = {s.worker_pid for s in g.record.tasks()}
    g.expect_known(
        lambda: pid in ran_on,
        f"a task of this run ran in worker process {pid}: your code ran outside the notebook",
        f"no task of this run ran in process {pid}; the tasks ran in {sorted(ran_on) or 'none'}: "
        "return the pid a task reported, not a number made up or taken from the notebook",
    )


def _nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def _grade_two_naps(two_naps: Any, g: Grader) -> None:
    with g.stand_in(two_naps, nap=g.twins.function("nap", _nap)):
        value = g.run(two_naps)
    g.expect(
        value == [0.5, 0.5],
        "two_naps() returned [0.5, 0.5]",
        f"two_naps() returned {value!r}; expected the two naps' results, [0.5, 0.5]",
    )
    runs = g.expect_from_tasks(value, "nap", "the list it returned", count=2)
    g.expect_overlap(runs, "the two naps")


EXERCISES = [
    Exercise(
        id="greet",
        title="Your first task",
        answer="greet",
        grade=_grade_greet,
        hints=(
            "A remote function is an ordinary function with @ray.remote on the line above it; "
            "calling .remote() on it runs it as a task.",
            "The task only has to build the text: an f-string with the name in it, exactly "
            "'Hello, <name>!'.",
            "Shape: the decorator line, then `def greet(name):` returning an f-string of the form"
            ' "Hello, {...}!".',
        ),
        solution="""@ray.remote
def greet(name):
    return f"Hello, {name}!"
""",
        try_next='decorate greet with @ray.remote and return f"Hello, {name}!".',
    ),
    Exercise(
        id="where",
        title="Where does a task run?",
        answer="where_did_it_run",
        grade=_grade_where,
        hints=(
            "os.getpid() returns the id of the process that calls it: called in the notebook, it "
            "is the notebook's.",
            "So the call to os.getpid() must happen inside a task; where_did_it_run only submits "
            "that task and waits for its result.",
            "Shape: a small @ray.remote function whose body is one return of os.getpid(); "
            "where_did_it_run returns ray.get(<that function>.remote()).",
        ),
        solution="""import os


@ray.remote
def worker_pid():
    return os.getpid()


def where_did_it_run():
    return ray.get(worker_pid.remote())
""",
        try_next="run os.getpid() inside a remote function, not in where_did_it_run itself.",
    ),
    Exercise(
        id="two_naps",
        title="Two tasks at once",
        answer="two_naps",
        grade=_grade_two_naps,
        hints=(
            "nap.remote(0.5) returns at once with an ObjectRef; the nap happens on a worker.",
            "Two naps overlap only if both are started before you wait for either.",
            "Shape: two .remote calls first (keep both refs), then one ray.get on a list of the "
            "two refs.",
        ),
        solution="""def two_naps():
    first = nap.remote(0.5)
    second = nap.remote(0.5)
    return ray.get([first, second])
""",
        try_next="start both naps before you get() either result.",
    ),
]
