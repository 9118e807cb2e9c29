"""Deliberately wrong and sequential answers for every exercise, and what the check must say.

For each exercise key: a list of (label, source, phrase). The source redefines the exercise's
answer name; the check must come back "not solved yet" and its feedback must contain `phrase`
(so we know it caught the right mistake, not just any). "sequential" answers compute the right
values one task at a time (or without tasks at all); "wrong" answers compute wrong values.
"""

from __future__ import annotations

ANSWERS: dict[str, list[tuple[str, str, str]]] = {
    "00_welcome:greet": [
        (
            "wrong",
            '@ray.remote\ndef greet(name):\n    return f"Hi {name}"\n',
            "expected 'Hello, Ada!'",
        ),
        (
            "sequential",
            'def greet(name):\n    return f"Hello, {name}!"\n',
            "plain Python function",
        ),
    ],
    "00_welcome:where": [
        ("wrong", "def where_did_it_run():\n    return 'worker'\n", "should return a process id"),
        (
            "sequential",
            "def where_did_it_run():\n    return os.getpid()\n",
            "notebook kernel's own process id",
        ),
    ],
    "00_welcome:two_naps": [
        (
            "wrong",
            "def two_naps():\n    return ray.get([nap.remote(0.5)])\n",
            "expected the two naps' results",
        ),
        (
            "sequential",
            "def two_naps():\n    return [ray.get(nap.remote(0.5)), ray.get(nap.remote(0.5))]\n",
            "ran one at a time",
        ),
    ],
}
