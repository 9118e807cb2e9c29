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
ANSWERS.update(
    {
        "01_tasks:squares": [
            (
                "wrong",
                "def parallel_squares(numbers):\n"
                "    return sorted(ray.get([slow_square.remote(n) for n in numbers]))\n",
                "same order as the input",
            ),
            (
                "sequential",
                "def parallel_squares(numbers):\n"
                "    return [ray.get(slow_square.remote(n)) for n in numbers]\n",
                "ran one at a time",
            ),
            (
                "no tasks",
                "def parallel_squares(numbers):\n    return [n * n for n in numbers]\n",
                "expected 8 slow_square tasks",
            ),
        ],
        "01_tasks:chain": [
            (
                "wrong",
                "def double_then_add_one(x):\n"
                "    return ray.get(double.remote(add_one.remote(x)))\n",
                "expected 41",
            ),
            (
                "sequential",
                "def double_then_add_one(x):\n"
                "    return ray.get(add_one.remote(ray.get(double.remote(x))))\n",
                "add_one got a plain number",
            ),
        ],
        "01_tasks:deadline": [
            (
                "wrong",
                "def results_or_none(refs, seconds):\n"
                "    ready, _ = ray.wait(refs, num_returns=len(refs), timeout=seconds)\n"
                "    return ray.get(ready)\n",
                "expected None",
            ),
            (
                "sequential",
                "def results_or_none(refs, seconds):\n"
                "    values = ray.get(refs)\n"
                "    return None if len(values) < len(refs) else values\n",
                "expected None",
            ),
        ],
    }
)
ANSWERS.update(
    {
        "02_task_graphs:fan_in": [
            (
                "wrong",
                "def sum_of_squares(numbers):\n    return ray.get(add_up.remote(*numbers))\n",
                "expected 91",
            ),
            (
                "sequential",
                "def sum_of_squares(numbers):\n"
                "    squares = [ray.get(square.remote(n)) for n in numbers]\n"
                "    return ray.get(add_up.remote(*squares))\n",
                "ran one at a time",
            ),
            (
                "fetched",
                "def sum_of_squares(numbers):\n"
                "    squares = ray.get([square.remote(n) for n in numbers])\n"
                "    return ray.get(add_up.remote(*squares))\n",
                "add_up did not receive the square tasks' refs",
            ),
        ],
        "02_task_graphs:as_they_finish": [
            (
                "wrong",
                "def as_they_finish(refs):\n    for ref in refs:\n        yield ray.get(ref)\n",
                "use ray.wait",
            ),
            (
                "sequential",
                "def as_they_finish(refs):\n    yield from sorted(ray.get(refs))\n",
                "you waited for more than the next task",
            ),
        ],
        "02_task_graphs:budget": [
            (
                "wrong",
                "def finished_within(refs, seconds):\n"
                "    ready, _ = ray.wait(refs, num_returns=len(refs), timeout=seconds)\n"
                "    return ray.get(ready)\n",
                "kept running after the budget",
            ),
            (
                "sequential",
                "def finished_within(refs, seconds):\n"
                "    return [v for v in ray.get(refs) if v <= seconds]\n",
                "for a budget of 0.5 s",
            ),
        ],
    }
)
ANSWERS.update(
    {
        "03_actors:accumulator": [
            (
                "wrong",
                "@ray.remote\nclass Accumulator:\n"
                "    def __init__(self):\n        self.sum = 0\n\n"
                "    def add(self, x):\n        return self.sum + x\n\n"
                "    def total(self):\n        return self.sum\n",
                "expected the running totals",
            ),
            (
                "sequential",
                "class Accumulator:\n"
                "    def __init__(self):\n        self.sum = 0\n\n"
                "    def add(self, x):\n        self.sum += x\n        return self.sum\n\n"
                "    def total(self):\n        return self.sum\n",
                "plain Python class",
            ),
        ],
        "03_actors:shared": [
            (
                "wrong",
                "def count_visits(n):\n"
                "    refs = [visit.remote(Counter.remote()) for _ in range(n)]\n"
                "    return max(ray.get(refs))\n",
                "expected 6",
            ),
            (
                "sequential",
                "def count_visits(n):\n"
                "    counter = Counter.remote()\n"
                "    for _ in range(n):\n"
                "        ray.get(visit.remote(counter))\n"
                "    return ray.get(counter.value.remote())\n",
                "ran one at a time",
            ),
        ],
        "03_actors:pool": [
            (
                "wrong",
                "def process_all(items):\n"
                "    workers = [Worker.remote() for _ in range(2)]\n"
                "    refs = [workers[i % 2].process.remote(x) for i, x in enumerate(items)]\n"
                "    return ray.get(refs[::2]) + ray.get(refs[1::2])\n",
                "in the input's order",
            ),
            (
                "sequential",
                "def process_all(items):\n"
                "    worker = Worker.remote()\n"
                "    return ray.get([worker.process.remote(x) for x in items])\n",
                "over 2 Worker actors",
            ),
        ],
    }
)
ANSWERS.update(
    {
        "04_object_store:share_once": [
            (
                "wrong",
                "def sum_chunks(array, n):\n"
                "    ref = ray.put(array)\n"
                "    step = len(array) // n\n"
                "    return ray.get(chunk_sum.remote(ref, 0, step))\n",
                "expected the sum of the whole array",
            ),
            (
                "sequential",
                "def sum_chunks(array, n):\n"
                "    ref = ray.put(array)\n"
                "    step = len(array) // n\n"
                "    return sum(ray.get(chunk_sum.remote(ref, i * step, (i + 1) * step))\n"
                "               for i in range(n))\n",
                "ran one at a time",
            ),
            (
                "by value",
                "def sum_chunks(array, n):\n"
                "    step = len(array) // n\n"
                "    refs = [chunk_sum.remote(array, i * step, (i + 1) * step) for i in range(n)]\n"
                "    return sum(ray.get(refs))\n",
                "went into every call by value",
            ),
        ],
        "04_object_store:keep_out": [
            (
                "wrong",
                "def block_means(n):\n"
                "    return ray.get([mean_of.remote(make_block.remote(0)) for i in range(n)])\n",
                "expected the mean of each block",
            ),
            (
                "sequential",
                "def block_means(n):\n"
                "    blocks = ray.get([make_block.remote(i) for i in range(n)])\n"
                "    return ray.get([mean_of.remote(b) for b in blocks])\n",
                "mean_of got blocks as values",
            ),
        ],
        "04_object_store:free": [
            (
                "wrong",
                "kept = []\n\n\ndef block_sums(n):\n"
                "    blocks = [make_block.remote(i) for i in range(n)]\n"
                "    kept.extend(blocks)\n"
                "    return ray.get([sum_of.remote(b) for b in blocks])\n",
                "still in the object store",
            ),
            (
                "sequential",
                "def block_sums(n):\n"
                "    return [ray.get(sum_of.remote(ray.get(make_block.remote(i))))\n"
                "            for i in range(n)]\n",
                "ran one at a time",
            ),
        ],
    }
)
