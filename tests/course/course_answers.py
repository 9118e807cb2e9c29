"""Deliberately wrong and sequential answers for every exercise, and what the check must say.

For each exercise key: a list of (label, source, phrase). The source redefines the exercise's
answer name; the check must come back "not solved yet" and its feedback must contain `phrase`
(so we know it caught the right mistake, not just any; a tuple lists what rayground and Ray say,
where they catch it from different records). "sequential" answers compute the right values one
task at a time (or without tasks at all); "wrong" answers compute wrong values; "cheat: ..."
answers take the shortcuts a check must not fall for (values computed or typed in the notebook,
data fetched that must stay on the cluster, answers right for one input only, fallbacks,
fabricated results, anti-patterns the lesson teaches against).
"""

from __future__ import annotations

from answers_12_serve import SERVE_ANSWERS
from answers_13_ml_capstone import CAPSTONE_ANSWERS

ANSWERS: dict[str, list[tuple[str, str, str]]] = {
    "00_welcome:greet": [
        (
            "wrong",
            '@ray.remote\ndef greet(name):\n    return f"Hi {name}"\n',
            "expected 'Hello, ",
        ),
        (
            "sequential",
            'def greet(name):\n    return f"Hello, {name}!"\n',
            "plain Python function",
        ),
        (
            "cheat: one name hard-coded",
            '@ray.remote\ndef greet(name):\n    return "Hello, Ada!"\n',
            "expected 'Hello, ",
        ),
        (
            "cheat: no task, a put of the greeting",
            "class greet:\n"
            "    @staticmethod\n"
            "    def remote(name):\n"
            '        return ray.put(f"Hello, {name}!")\n',
            "the names were never sent to a task",
        ),
    ],
    "00_welcome:where": [
        ("wrong", "def where_did_it_run():\n    return 'worker'\n", "should return a process id"),
        (
            "sequential",
            "def where_did_it_run():\n    return os.getpid()\n",
            "notebook kernel's own process id",
        ),
        (
            "cheat: the kernel's parent",
            "def where_did_it_run():\n    return os.getppid()\n",
            "no task of this run ran in process",
        ),
        (
            "cheat: a made-up pid after a task",
            "@ray.remote\ndef _noop():\n    return 0\n\n\n"
            "def where_did_it_run():\n    ray.get(_noop.remote())\n    return os.getpid() + 1\n",
            "no task of this run ran in process",
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
        (
            "cheat: naps run, values typed in",
            "def two_naps():\n    ray.get([nap.remote(0.5), nap.remote(0.5)])\n"
            "    return [0.5, 0.5]\n",
            "did not come back from the nap tasks",
        ),
        (
            "cheat: one nap counted twice",
            "def two_naps():\n    return ray.get([nap.remote(0.5)] * 2)\n",
            "made from 1 nap task result(s); expected 2",
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
                "cheat: tasks for show, squares computed here",
                "def parallel_squares(numbers):\n"
                "    ray.get([slow_square.remote(n) for n in numbers])\n"
                "    return [n * n for n in numbers]\n",
                "did not come back from the slow_square tasks",
            ),
            (
                "cheat: the example's answer typed in",
                "def parallel_squares(numbers):\n"
                "    ray.get([slow_square.remote(n) for n in numbers])\n"
                "    return [9, 1, 16, 1, 25, 81, 4, 36]\n",
                "returned [9, 1, 16",
            ),
            (
                "cheat: breaks on no numbers",
                "def parallel_squares(numbers):\n"
                "    refs = [slow_square.remote(n) for n in numbers]\n"
                "    return ray.get(refs) if refs else None\n",
                "parallel_squares([]) returned None",
            ),
        ],
        "01_tasks:chain": [
            (
                "wrong",
                "def double_then_add_one(x):\n"
                "    return ray.get(double.remote(add_one.remote(x)))\n",
                "double first, then add one",
            ),
            (
                "sequential",
                "def double_then_add_one(x):\n"
                "    return ray.get(add_one.remote(ray.get(double.remote(x))))\n",
                "double result(s) were fetched into the notebook",
            ),
            (
                "cheat: computed here",
                "def double_then_add_one(x):\n"
                "    ray.get(add_one.remote(double.remote(x)))\n"
                "    return 2 * x + 1\n",
                "did not come back from the add_one tasks",
            ),
            (
                "cheat: ref passed, but fetched first",
                "def double_then_add_one(x):\n"
                "    doubled = double.remote(x)\n"
                "    ray.get(doubled)\n"
                "    return ray.get(add_one.remote(doubled))\n",
                "fetched into the notebook",
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
            (
                "cheat: a fixed deadline",
                "def results_or_none(refs, seconds):\n"
                "    try:\n"
                "        return ray.get(refs, timeout=0.3)\n"
                "    except ray.exceptions.GetTimeoutError:\n"
                "        return None\n",
                "expected their results",
            ),
            (
                "cheat: sleep out the deadline",
                "def results_or_none(refs, seconds):\n"
                "    time.sleep(seconds)\n"
                "    ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)\n"
                "    return ray.get(ready) if len(ready) == len(refs) else None\n",
                "don't sleep for the deadline",
            ),
        ],
        "01_tasks:diagnose": [
            (
                "wrong",
                "def invert_all(images):\n"
                "    return ray.get([process_image.remote(image) for image in images])[::-1]\n",
                "in the input's order",
            ),
            (
                "sequential",
                "def invert_all(images):\n    return invert_all_slow(images)\n",
                ("ray.get inside the submit loop", "ran one at a time"),
            ),
            (
                "cheat: tasks for show, inverted in the notebook",
                "def invert_all(images):\n"
                "    ray.get([process_image.remote(image) for image in images])\n"
                "    return [255 - image for image in images]\n",
                "did not come back from the process_image tasks",
            ),
            (
                "cheat: right for the lesson's eight images only",
                "def invert_all(images):\n"
                "    return ray.get([process_image.remote(image) for image in images[:8]])\n",
                "returned 8 item(s)",
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
                "the sum of their squares",
            ),
            (
                "sequential",
                "def sum_of_squares(numbers):\n"
                "    squares = [ray.get(square.remote(n)) for n in numbers]\n"
                "    return ray.get(add_up.remote(*squares))\n",
                "fetched into the notebook",
            ),
            (
                "fetched",
                "def sum_of_squares(numbers):\n"
                "    squares = ray.get([square.remote(n) for n in numbers])\n"
                "    return ray.get(add_up.remote(*squares))\n",
                "square result(s) were fetched into the notebook",
            ),
            (
                "cheat: added up in the notebook",
                "def sum_of_squares(numbers):\n"
                "    return sum(ray.get([square.remote(n) for n in numbers]))\n",
                "made from 0 add_up task result(s)",
            ),
            (
                "cheat: the example's total typed in",
                "def sum_of_squares(numbers):\n"
                "    ray.get(add_up.remote(*[square.remote(n) for n in numbers]))\n"
                "    return 91\n",
                "returned 91",
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
                "but the tasks finished in the order",
            ),
            (
                "cheat: all at once, then in finishing order",
                "def as_they_finish(refs):\n"
                "    ready, _ = ray.wait(refs, num_returns=len(refs))\n"
                "    yield from ray.get(ready)\n",
                "but the tasks finished in the order",
            ),
            (
                "cheat: labels made up",
                "def as_they_finish(refs):\n"
                "    while refs:\n"
                "        ready, refs = ray.wait(refs, num_returns=1)\n"
                "        yield str(ray.get(ready[0]))\n",
                "did not come back from the sleep_then tasks",
            ),
        ],
        "02_task_graphs:budget": [
            (
                "wrong",
                "def finished_within(refs, seconds):\n"
                "    ready, _ = ray.wait(refs, num_returns=len(refs), timeout=seconds)\n"
                "    return ray.get(ready)\n",
                "the slow tasks were not cancelled",
            ),
            (
                "sequential",
                "def finished_within(refs, seconds):\n"
                "    return [v for v in ray.get(refs) if v <= seconds]\n",
                "give ray.wait a timeout",
            ),
            (
                "cheat: cancel everything, return nothing",
                "def finished_within(refs, seconds):\n"
                "    for ref in refs:\n"
                "        ray.cancel(ref)\n"
                "    return []\n",
                "expected the results of the tasks done within",
            ),
            (
                "cheat: a fixed budget",
                "def finished_within(refs, seconds):\n"
                "    ready, rest = ray.wait(refs, num_returns=len(refs), timeout=0.05)\n"
                "    for ref in rest:\n"
                "        ray.cancel(ref)\n"
                "    return ray.get(ready)\n",
                "expected the results of the tasks done within",
            ),
        ],
        "02_task_graphs:stream": [
            (
                "wrong",
                "def first_over(samples, limit):\n"
                "    return max(ray.get(list(measure.remote(samples))))\n",
                "the first reading over",
            ),
            (
                "sequential",
                "def first_over(samples, limit):\n"
                "    readings = ray.get(list(measure.remote(samples)))\n"
                "    return next((r for r in readings if r > limit), None)\n",
                "don't collect them all first",
            ),
            (
                "cheat: measured for show, the reading computed here",
                "def first_over(samples, limit):\n"
                "    for ref in measure.remote(samples):\n"
                "        pass\n"
                "    return next((s * 10 for s in samples if s * 10 > limit), None)\n",
                "did not come back from the measure tasks",
            ),
            (
                "cheat: a made-up reading when none is over",
                "def first_over(samples, limit):\n"
                "    for ref in measure.remote(samples):\n"
                "        reading = ray.get(ref)\n"
                "        if reading > limit:\n"
                "            return reading\n"
                "    return limit + 1\n",
                "expected None",
            ),
        ],
        "02_task_graphs:diagnose": [
            (
                "wrong",
                "def pipeline(sources):\n"
                "    cleaned = [clean.remote(load.remote(source)) for source in sources]\n"
                "    return ray.get(merge.remote(*cleaned[::-1]))\n",
                "expected ['",
            ),
            (
                "sequential",
                "def pipeline(sources):\n    return pipeline_slow(sources)\n",
                "fetched into the notebook",
            ),
            (
                "cheat: merged in the notebook",
                "def pipeline(sources):\n"
                "    cleaned = [clean.remote(load.remote(source)) for source in sources]\n"
                "    return [row for part in ray.get(cleaned) for row in part]\n",
                "merge task result(s); expected 1",
            ),
            (
                "cheat: right for the lesson's three sources only",
                "def pipeline(sources):\n"
                "    cleaned = [clean.remote(load.remote(source)) for source in sources[:3]]\n"
                "    return ray.get(merge.remote(*cleaned))\n",
                "expected ['",
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
                "keep the sum in self",
            ),
            (
                "sequential",
                "class Accumulator:\n"
                "    def __init__(self):\n        self.sum = 0\n\n"
                "    def add(self, x):\n        self.sum += x\n        return self.sum\n\n"
                "    def total(self):\n        return self.sum\n",
                "plain Python class",
            ),
            (
                "cheat: no state, the example's totals",
                "@ray.remote\nclass Accumulator:\n"
                "    def __init__(self):\n        self.calls = 0\n\n"
                "    def add(self, x):\n        self.calls += 1\n"
                "        return [1, 3, 6, 10, 15][(self.calls - 1) % 5]\n\n"
                "    def total(self):\n        return 15\n",
                "keep the sum in self",
            ),
            (
                "cheat: total forgets",
                "@ray.remote\nclass Accumulator:\n"
                "    def __init__(self):\n        self.sum = 0\n\n"
                "    def add(self, x):\n        self.sum += x\n        return self.sum\n\n"
                "    def total(self):\n        return 0\n",
                "total() on a and b returned [0, 0]",
            ),
        ],
        "03_actors:shared": [
            (
                "wrong",
                "def count_visits(n):\n"
                "    refs = [visit.remote(Counter.remote()) for _ in range(n)]\n"
                "    return max(ray.get(refs))\n",
                "all counted by the same counter",
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
            (
                "cheat: visits run, n returned",
                "def count_visits(n):\n"
                "    counter = Counter.remote()\n"
                "    ray.get([visit.remote(counter) for _ in range(n)])\n"
                "    return n\n",
                "did not come back from the Counter.value tasks",
            ),
            (
                "cheat: counted from the notebook",
                "def count_visits(n):\n"
                "    counter = Counter.remote()\n"
                "    ray.get([counter.incr.remote() for _ in range(n)])\n"
                "    return ray.get(counter.value.remote())\n",
                "the visits must come from visit tasks",
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
                "expected 2 Worker actors",
            ),
            (
                "cheat: calls for show, values computed here",
                "def process_all(items):\n"
                "    workers = [Worker.remote() for _ in range(2)]\n"
                "    ray.get([workers[i % 2].process.remote(x) for i, x in enumerate(items)])\n"
                "    return [x * 10 for x in items]\n",
                "did not come back from the Worker.process tasks",
            ),
            (
                "cheat: one call per actor, the rest here",
                "def process_all(items):\n"
                "    workers = [Worker.remote() for _ in range(2)]\n"
                "    first = ray.get([w.process.remote(x) for w, x in zip(workers, items)])\n"
                "    return first + [x * 10 for x in items[2:]]\n",
                "did not come back from the Worker.process tasks",
            ),
        ],
        "03_actors:concurrent": [
            (
                "wrong",
                "def fetch_all(urls):\n"
                "    d = Downloader.options(max_concurrency=8).remote()\n"
                "    pages = ray.get([d.fetch.remote(u) for u in urls[1:]])\n"
                "    return pages, ray.get(d.fetched.remote())\n",
                "expected ['<html>",
            ),
            (
                "sequential",
                "def fetch_all(urls):\n"
                "    d = Downloader.remote()\n"
                "    pages = ray.get([d.fetch.remote(u) for u in urls])\n"
                "    return pages, ray.get(d.fetched.remote())\n",
                "ran one at a time",
            ),
            (
                "cheat: one actor per url, their counts added",
                "def fetch_all(urls):\n"
                "    ds = [Downloader.remote() for _ in urls]\n"
                "    pages = ray.get([d.fetch.remote(u) for d, u in zip(ds, urls)])\n"
                "    return pages, sum(ray.get([d.fetched.remote() for d in ds]))\n",
                "not one actor per url",
            ),
            (
                "cheat: the count typed in",
                "def fetch_all(urls):\n"
                "    d = Downloader.options(max_concurrency=8).remote()\n"
                "    return ray.get([d.fetch.remote(u) for u in urls]), len(urls)\n",
                "did not come back from the Downloader.fetched tasks",
            ),
            (
                "cheat: fetched for show, pages made here",
                "def fetch_all(urls):\n"
                "    d = Downloader.options(max_concurrency=8).remote()\n"
                "    ray.get([d.fetch.remote(u) for u in urls])\n"
                "    return [f'<html>{u}</html>' for u in urls], ray.get(d.fetched.remote())\n",
                "did not come back from the Downloader.fetch tasks",
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
                "    cuts = [len(array) * i // n for i in range(n + 1)]\n"
                "    return sum(ray.get(chunk_sum.remote(ref, lo, hi))\n"
                "               for lo, hi in zip(cuts, cuts[1:]))\n",
                "ran one at a time",
            ),
            (
                "by value",
                "def sum_chunks(array, n):\n"
                "    cuts = [len(array) * i // n for i in range(n + 1)]\n"
                "    refs = [chunk_sum.remote(array, lo, hi) for lo, hi in zip(cuts, cuts[1:])]\n"
                "    return sum(ray.get(refs))\n",
                "went into every call by value",
            ),
            (
                "cheat: drops the remainder",
                "def sum_chunks(array, n):\n"
                "    ref = ray.put(array)\n"
                "    step = len(array) // n\n"
                "    refs = [chunk_sum.remote(ref, i * step, (i + 1) * step) for i in range(n)]\n"
                "    return sum(ray.get(refs))\n",
                "including the remainder",
            ),
            (
                "cheat: tasks for show, summed here",
                "def sum_chunks(array, n):\n"
                "    ref = ray.put(array)\n"
                "    cuts = [len(array) * i // n for i in range(n + 1)]\n"
                "    ray.get([chunk_sum.remote(ref, lo, hi) for lo, hi in zip(cuts, cuts[1:])])\n"
                "    return float(array.sum())\n",
                "did not come back from the chunk_sum tasks",
            ),
            (
                "cheat: a put per task",
                "def sum_chunks(array, n):\n"
                "    cuts = [len(array) * i // n for i in range(n + 1)]\n"
                "    refs = [chunk_sum.remote(ray.put(array), lo, hi)\n"
                "            for lo, hi in zip(cuts, cuts[1:])]\n"
                "    return sum(ray.get(refs))\n",
                "the array was serialized",
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
                "make_block result(s) were fetched into the notebook",
            ),
            (
                "cheat: means computed here",
                "def block_means(n):\n"
                "    ray.get([mean_of.remote(make_block.remote(i)) for i in range(n)])\n"
                "    return [float(i) for i in range(n)]\n",
                "did not come back from the mean_of tasks",
            ),
            (
                "cheat: one block peeked at",
                "def block_means(n):\n"
                "    blocks = [make_block.remote(i) for i in range(n)]\n"
                "    assert ray.get(blocks[0]).shape\n"
                "    return ray.get([mean_of.remote(b) for b in blocks])\n",
                "1 make_block result(s) were fetched into the notebook",
            ),
        ],
        "04_object_store:free": [
            (
                "wrong",
                "kept = []\n\n\ndef block_sums(n):\n"
                "    blocks = [make_block.remote(i) for i in range(n)]\n"
                "    kept.extend(blocks)\n"
                "    return ray.get([sum_of.remote(b) for b in blocks])\n",
                "still alive after it returned",
            ),
            (
                "sequential",
                "def block_sums(n):\n"
                "    return [ray.get(sum_of.remote(ray.get(make_block.remote(i))))\n"
                "            for i in range(n)]\n",
                "fetched into the notebook",
            ),
            (
                "cheat: sums computed here",
                "def block_sums(n):\n"
                "    ray.get([sum_of.remote(make_block.remote(i)) for i in range(n)])\n"
                "    return [i * 500_000.0 for i in range(n)]\n",
                "did not come back from the sum_of tasks",
            ),
            (
                "cheat: a cache that outlives the call",
                "def block_sums(n, _cache={}):\n"
                "    _cache[n] = [make_block.remote(i) for i in range(n)]\n"
                "    return ray.get([sum_of.remote(b) for b in _cache[n]])\n",
                "still alive after it returned",
            ),
        ],
    }
)
ANSWERS.update(
    {
        "05_patterns:put_once": [
            (
                "wrong",
                "def all_column_means(table, columns):\n"
                "    ref = ray.put(table)\n"
                "    return ray.get([column_mean.remote(ref, c) for c in sorted(set(columns))])\n",
                "in the order of the columns asked for",
            ),
            (
                "by value",
                "def all_column_means(table, columns):\n"
                "    return ray.get([column_mean.remote(table, c) for c in columns])\n",
                ("the same large object was passed by value", "table was serialized 8 times"),
            ),
            (
                "put in the loop",
                "def all_column_means(table, columns):\n"
                "    return ray.get([column_mean.remote(ray.put(table), c) for c in columns])\n",
                "or put once per task",
            ),
            (
                "cheat: tasks for show, means computed here",
                "def all_column_means(table, columns):\n"
                "    ref = ray.put(table)\n"
                "    ray.get([column_mean.remote(ref, c) for c in columns])\n"
                "    return [float(table[:, c].mean()) for c in columns]\n",
                "did not come back from the column_mean tasks",
            ),
            (
                "cheat: the first column computed here",
                "def all_column_means(table, columns):\n"
                "    ref = ray.put(table)\n"
                "    rest = ray.get([column_mean.remote(ref, c) for c in columns[1:]])\n"
                "    return [float(table[:, columns[0]].mean())] + rest\n",
                "was computed or typed in the notebook",
            ),
        ],
        "05_patterns:batches": [
            (
                "wrong",
                "def sum_of_cubes(numbers):\n"
                "    chunks = [numbers[i : i + 1000] for i in range(0, 2000, 1000)]\n"
                "    return sum(ray.get([cubes_of_batch.remote(c) for c in chunks]))\n",
                "every number must be in exactly one batch",
            ),
            (
                "tiny tasks",
                "def sum_of_cubes(numbers):\n"
                "    return sum(ray.get([cube.remote(n) for n in numbers]))\n",
                "one per number",
            ),
            (
                "sequential",
                "def sum_of_cubes(numbers):\n"
                "    chunks = [numbers[i : i + 300] for i in range(0, len(numbers), 300)]\n"
                "    return sum(ray.get(cubes_of_batch.remote(c)) for c in chunks)\n",
                "ran one at a time",
            ),
            (
                "one task",
                "def sum_of_cubes(numbers):\n    return ray.get(cubes_of_batch.remote(numbers))\n",
                "expected between 2 and 64",
            ),
            (
                "cheat: chunking that drops the remainder",
                "def sum_of_cubes(numbers):\n"
                "    size = len(numbers) // 8\n"
                "    chunks = [numbers[i * size : (i + 1) * size] for i in range(8)]\n"
                "    return sum(ray.get([cubes_of_batch.remote(c) for c in chunks]))\n",
                "every number must be in exactly one batch",
            ),
            (
                "cheat: half on the cluster, half here",
                "def sum_of_cubes(numbers):\n"
                "    half = len(numbers) // 2\n"
                "    refs = [cubes_of_batch.remote(numbers[:half // 2]),\n"
                "            cubes_of_batch.remote(numbers[half // 2 : half])]\n"
                "    return sum(ray.get(refs)) + sum(n**3 for n in numbers[half:])\n",
                "did not come back from the cubes_of_batch tasks",
            ),
        ],
        "05_patterns:no_get_in_task": [
            (
                "wrong",
                "def total_size(names):\n"
                "    refs = [fetch_size.remote(n) for n in names[1:]]\n"
                "    return ray.get(add_sizes.remote(*refs))\n",
                "total_size([",
            ),
            (
                "get in a task",
                "@ray.remote\n"
                "def add_all(names):\n"
                "    return sum(ray.get([fetch_size.remote(n) for n in names]))\n\n\n"
                "def total_size(names):\n"
                "    return ray.get(add_all.remote(names))\n",
                "made from 0 add_sizes task result(s)",
            ),
            (
                "sequential",
                "def total_size(names):\n"
                "    sizes = [ray.get(fetch_size.remote(n)) for n in names]\n"
                "    return ray.get(add_sizes.remote(*sizes))\n",
                "fetch_size result(s) were fetched into the notebook",
            ),
            (
                "cheat: the composition hidden in a task that waits",
                "@ray.remote\n"
                "def outer(names):\n"
                "    return ray.get(add_sizes.remote(*[fetch_size.remote(n) for n in names]))\n\n\n"
                "def total_size(names):\n"
                "    return ray.get(outer.remote(names))\n",
                ("ray.get inside a task", "a task of your own (outer)"),
            ),
            (
                "cheat: sizes computed here",
                "def total_size(names):\n"
                "    ray.get(add_sizes.remote(*[fetch_size.remote(n) for n in names]))\n"
                "    return sum(len(n) * 100 for n in names)\n",
                "did not come back from the add_sizes tasks",
            ),
        ],
        "05_patterns:diagnose": [
            (
                "wrong",
                "def scores(weights, row_sets):\n"
                "    ref = ray.put(weights)\n"
                "    return ray.get([score.remote(ref, rows) for rows in row_sets if rows])\n",
                "one score per row set",
            ),
            (
                "sequential",
                "def scores(weights, row_sets):\n    return scores_slow(weights, row_sets)\n",
                ("passed by value again and again", "serialized"),
            ),
            (
                "cheat: tasks for show, scores computed in the notebook",
                "def scores(weights, row_sets):\n"
                "    ref = ray.put(weights)\n"
                "    ray.get([score.remote(ref, rows) for rows in row_sets])\n"
                "    return [float(weights[rows].sum()) for rows in row_sets]\n",
                "did not come back from the score tasks",
            ),
            (
                "cheat: put, but once per task",
                "def scores(weights, row_sets):\n"
                "    return ray.get([score.remote(ray.put(weights), rows) for rows in row_sets])\n",
                "serialized",
            ),
        ],
    }
)
ANSWERS.update(
    {
        "06_fault_tolerance:retries": [
            (
                "wrong",
                "def fetch_with_retries(marker):\n"
                "    return ray.get(flaky_download.remote(marker, 2))\n",
                "raised RayTaskError(ConnectionError)",
            ),
            (
                "retried in the notebook",
                "def fetch_with_retries(marker):\n"
                "    while True:\n"
                "        try:\n"
                "            return ray.get(flaky_download.remote(marker, 2))\n"
                "        except ConnectionError:\n"
                "            pass\n",
                "the retries were done in the notebook",
            ),
            (
                "cheat: the expected text typed in",
                "def fetch_with_retries(marker):\n"
                "    task = flaky_download.options(\n"
                "        retry_exceptions=[ConnectionError], max_retries=3)\n"
                "    ray.get(task.remote(marker, 2))\n"
                "    return 'downloaded on attempt 3'\n",
                "did not come back from the flaky_download tasks",
            ),
            (
                "cheat: no retries, a fallback value",
                "def fetch_with_retries(marker):\n"
                "    try:\n"
                "        return ray.get(flaky_download.remote(marker, 2))\n"
                "    except ConnectionError:\n"
                "        return 'downloaded on attempt 3'\n",
                "did not come back from the flaky_download tasks",
            ),
        ],
        "06_fault_tolerance:restart": [
            (
                "wrong",
                "def make_counter():\n    return Counter.remote()\n",
                "the actor stayed dead",
            ),
            (
                "in-flight call lost",
                "def make_counter():\n    return Counter.options(max_restarts=1).remote()\n",
                "add max_task_retries=1",
            ),
            (
                "cheat: an old actor handed back",
                "_old = Counter.options(max_restarts=1, max_task_retries=1).remote()\n"
                "ray.get(_old.incr.remote())\n\n\n"
                "def make_counter():\n    return _old\n",
                "from a new Counter",
            ),
            (
                "cheat: an actor of our own with counts made up",
                "@ray.remote(max_restarts=1, max_task_retries=1)\n"
                "class _Fake:\n"
                "    def __init__(self):\n        self.calls = 0\n\n"
                "    def incr(self):\n        self.calls += 1\n        return self.calls\n\n"
                "    def pid(self):\n        return os.getpid()\n\n"
                "    def nap(self, seconds):\n        time.sleep(seconds)\n\n\n"
                "def make_counter():\n    return _Fake.remote()\n",
                "did not come back from the Counter.incr tasks",
            ),
        ],
        "06_fault_tolerance:count_failures": [
            (
                "wrong",
                "def results_and_failures(refs):\n    return ray.get(refs), 0\n",
                "raised",
            ),
            (
                "only exceptions",
                "def results_and_failures(refs):\n"
                "    results, failures = [], 0\n"
                "    for ref in refs:\n"
                "        try:\n"
                "            results.append(ray.get(ref))\n"
                "        except ValueError:\n"
                "            failures += 1\n"
                "    return results, failures\n",
                "WorkerCrashedError",
            ),
            (
                "did not wait",
                "def results_and_failures(refs):\n"
                "    results, failures = [], 0\n"
                "    for ref in refs:\n"
                "        ready, _ = ray.wait([ref], timeout=0.01)\n"
                "        if not ready:\n"
                "            failures += 1\n"
                "            continue\n"
                "        try:\n"
                "            results.append(ray.get(ref))\n"
                "        except ray.exceptions.RayError:\n"
                "            failures += 1\n"
                "    return results, failures\n",
                "maybe_fail task result(s)",
            ),
            (
                "cheat: the example's answer typed in",
                "def results_and_failures(refs):\n    return [0, 2, 4], 3\n",
                "did not come back from the maybe_fail tasks",
            ),
            (
                "cheat: everything cancelled, nothing kept",
                "def results_and_failures(refs):\n"
                "    for ref in refs:\n"
                "        ray.cancel(ref)\n"
                "    return [], len(refs)\n",
                "made from 0 maybe_fail task result(s)",
            ),
        ],
    }
)
ANSWERS.update(
    {
        "07_resources:two_at_a_time": [
            (
                "wrong",
                "def two_at_a_time(items):\n"
                "    big = heavy_step.options(num_cpus=2)\n"
                "    return ray.get([big.remote(i) for i in items[:-1]])\n",
                "two_at_a_time([",
            ),
            (
                "no request",
                "def two_at_a_time(items):\n"
                "    return ray.get([heavy_step.remote(i) for i in items])\n",
                "ask for 2 with .options(num_cpus=2)",
            ),
            (
                "sequential",
                "def two_at_a_time(items):\n"
                "    big = heavy_step.options(num_cpus=2)\n"
                "    return [ray.get(big.remote(i)) for i in items]\n",
                "at most 1 heavy_step task(s) ran at once",
            ),
            (
                "cheat: tasks for show, values computed here",
                "def two_at_a_time(items):\n"
                "    big = heavy_step.options(num_cpus=2)\n"
                "    ray.get([big.remote(i) for i in items])\n"
                "    return [i * 10 for i in items]\n",
                "did not come back from the heavy_step tasks",
            ),
            (
                "cheat: two at a time by the notebook, not the scheduler",
                "def two_at_a_time(items):\n"
                "    out = []\n"
                "    for i in range(0, len(items), 2):\n"
                "        out += ray.get([heavy_step.remote(x) for x in items[i : i + 2]])\n"
                "    return out\n",
                "ask for 2 with .options(num_cpus=2)",
            ),
        ],
        "07_resources:share_gpus": [
            (
                "whole GPUs",
                "def share_the_gpus(n):\n"
                "    return ray.get([gpu_step.options(num_gpus=1).remote() for _ in range(n)])\n",
                "ask for 0.5 with .options(num_gpus=0.5)",
            ),
            (
                "wrong",
                "def share_the_gpus(n):\n"
                "    return ray.get([gpu_step.remote() for _ in range(n)])\n",
                "expected each of GPU 0 and GPU 1 twice",
            ),
            (
                "sequential",
                "def share_the_gpus(n):\n"
                "    half = gpu_step.options(num_gpus=0.5)\n"
                "    return [ray.get(half.remote()) for _ in range(n)]\n",
                "expected each of GPU 0 and GPU 1 twice",
            ),
            (
                "cheat: the ids typed in",
                "def share_the_gpus(n):\n"
                "    ray.get([gpu_step.options(num_gpus=0.5).remote() for _ in range(n)])\n"
                "    return [[0], [0], [1], [1]]\n",
                "did not come back from the gpu_step tasks",
            ),
            (
                "cheat: two tasks, each result counted twice",
                "def share_the_gpus(n):\n"
                "    ids = ray.get([gpu_step.options(num_gpus=1).remote() for _ in range(2)])\n"
                "    return ids + ids\n",
                "made from 2 gpu_step task result(s)",
            ),
        ],
        "07_resources:licences": [
            (
                "wrong",
                "def licensed_runs(jobs):\n"
                "    return ray.get([solver.remote(j) for j in sorted(jobs, reverse=True)])\n",
                "expected ['solved",
            ),
            (
                "no licence",
                "def licensed_runs(jobs):\n    return ray.get([solver.remote(j) for j in jobs])\n",
                "did not ask for a licence",
            ),
            (
                "sequential",
                "def licensed_runs(jobs):\n"
                "    licensed = solver.options(resources={'licence': 1})\n"
                "    return [ray.get(licensed.remote(j)) for j in jobs]\n",
                "at most 1 solver task(s) ran at once",
            ),
            (
                "cheat: results made up",
                "def licensed_runs(jobs):\n"
                "    licensed = solver.options(resources={'licence': 1})\n"
                "    ray.get([licensed.remote(j) for j in jobs])\n"
                "    return [f'solved {j}' for j in jobs]\n",
                "did not come back from the solver tasks",
            ),
            (
                "cheat: two at a time by the notebook, no licence",
                "def licensed_runs(jobs):\n"
                "    out = []\n"
                "    for i in range(0, len(jobs), 2):\n"
                "        out += ray.get([solver.remote(j) for j in jobs[i : i + 2]])\n"
                "    return out\n",
                "did not ask for a licence",
            ),
        ],
        "07_resources:gang": [
            (
                "outside the group",
                "def gang_run(n):\n    return ray.get([shard.remote(i) for i in range(n)])\n",
                "schedule each one into the group",
            ),
            (
                "wrong strategy",
                "def gang_run(n):\n"
                "    pg = placement_group([{'CPU': 1}] * n, strategy='SPREAD')\n"
                "    ray.get(pg.ready())\n"
                "    s = [PlacementGroupSchedulingStrategy(pg, i) for i in range(n)]\n"
                "    out = ray.get([shard.options(scheduling_strategy=s[i]).remote(i) "
                "for i in range(n)])\n"
                "    remove_placement_group(pg)\n"
                "    return out\n",
                "with strategy='STRICT_PACK'",
            ),
            (
                "group left reserved",
                "def gang_run(n):\n"
                "    pg = placement_group([{'CPU': 1}] * n, strategy='STRICT_PACK')\n"
                "    ray.get(pg.ready())\n"
                "    s = [PlacementGroupSchedulingStrategy(pg, i) for i in range(n)]\n"
                "    return ray.get([shard.options(scheduling_strategy=s[i]).remote(i) "
                "for i in range(n)])\n",
                "remove_placement_group(pg) when the shards are done",
            ),
            (
                "cheat: results typed in with a made-up group",
                "def gang_run(n):\n    return [f'shard {i} in ' + '0' * 36 for i in range(n)]\n",
                "did not come back from the shard tasks",
            ),
        ],
        "07_resources:diagnose": [
            (
                "wrong",
                "def render_all(frames):\n"
                "    return ray.get([render.options(num_cpus=1).remote(f) for f in frames[1:]])\n",
                "expected ['frame ",
            ),
            (
                "sequential",
                "def render_all(frames):\n    return render_all_slow(frames)\n",
                ("asked for [4.0] CPU(s) each", "ran one at a time"),
            ),
            (
                "sequential, 1 CPU each",
                "def render_all(frames):\n"
                "    return [ray.get(render.options(num_cpus=1).remote(f)) for f in frames]\n",
                "submitted one after another",
            ),
            (
                "cheat: rendered in the notebook",
                "def render_all(frames):\n"
                "    ray.get([render.options(num_cpus=1).remote(f) for f in frames])\n"
                "    return [f'frame {f} rendered' for f in frames]\n",
                "did not come back from the render tasks",
            ),
            (
                "cheat: ask for nothing, so nothing limits them",
                "def render_all(frames):\n"
                "    return ray.get([render.options(num_cpus=0).remote(f) for f in frames])\n",
                "ask for what it uses, 1 CPU",
            ),
        ],
    }
)
ANSWERS.update(
    {
        "08_scaling_out:spread": [
            (
                "wrong",
                "def tasks_per_node(n):\n"
                "    ids = ray.get([where_am_i.remote() for _ in range(n)])\n"
                "    return {ip.replace('127', 'node'): c for ip, c in Counter(ids).items()}\n",
                "did not come back from the where_am_i tasks",
            ),
            (
                "sequential",
                "def tasks_per_node(n):\n"
                "    return dict(Counter(ray.get(where_am_i.remote()) for _ in range(n)))\n",
                "ran one at a time",
            ),
            (
                "cheat: tasks for show, an even split typed in",
                "def tasks_per_node(n):\n"
                "    ray.get([where_am_i.remote() for _ in range(n)])\n"
                "    ips = sorted({x['NodeManagerAddress'] for x in ray.nodes() if x['Alive']})\n"
                "    return {ip: n // len(ips) for ip in ips}\n",
                "did not come back from the where_am_i tasks",
            ),
            (
                "cheat: one task's answer counted n times",
                "def tasks_per_node(n):\n    return {ray.get(where_am_i.remote()): n}\n",
                "where_am_i tasks; the cluster saw 1",
            ),
        ],
        "08_scaling_out:pin": [
            (
                "wrong",
                "def run_on(ip):\n"
                "    head = where_am_i.options(resources={'node:127.0.0.1': 0.01})\n"
                "    return ray.get(head.remote())\n",
                "ask for the node's own resource",
            ),
            (
                "lucky",
                "def run_on(ip):\n"
                "    ips = ray.get([where_am_i.remote() for _ in range(3)])\n"
                "    return ip if ip in ips else ips[0]\n",
                "did not come back from the where_am_i tasks",
            ),
            (
                "cheat: the asked-for ip handed back",
                "def run_on(ip):\n    ray.get(where_am_i.remote())\n    return ip\n",
                "did not come back from the where_am_i tasks",
            ),
            (
                "cheat: run anywhere until it lands there",
                "def run_on(ip):\n"
                "    for _ in range(50):\n"
                "        got = ray.get(where_am_i.remote())\n"
                "        if got == ip:\n"
                "            return got\n"
                "    return got\n",
                "ask for the node's own resource",
            ),
        ],
        "08_scaling_out:near_data": [
            (
                "wrong",
                "def sum_where_it_lives(block, ip):\n"
                "    there = block_sum.options(resources={f'node:{ip}': 0.01})\n"
                "    return ray.get(there.remote(block))\n",
                "expected",
            ),
            (
                "data moved",
                "def sum_where_it_lives(block, ip):\n"
                "    away = block_sum.options(resources={'node:127.0.0.1': 0.01})\n"
                "    return ray.get(away.remote(block))[0]\n",
                "so the 32 MB block was copied there",
            ),
            (
                "cheat: summed in the notebook",
                "def sum_where_it_lives(block, ip):\n    return int(ray.get(block).sum())\n",
                "did not come back from the block_sum tasks",
            ),
            (
                "cheat: the block fetched, then sent back",
                "def sum_where_it_lives(block, ip):\n"
                "    there = block_sum.options(resources={f'node:{ip}': 0.01})\n"
                "    return ray.get(there.remote(ray.get(block)))[0]\n",
                "make_block result(s) were fetched into the notebook",
            ),
        ],
    }
)
ANSWERS.update(
    {
        "09_capstone:map": [
            (
                "wrong",
                "def map_shards(rows, n_shards):\n"
                "    return [summarize.remote(rows[i::n_shards]) for i in range(n_shards - 1)]\n",
                "expected a list of",
            ),
            (
                "values",
                "def map_shards(rows, n_shards):\n"
                "    refs = [summarize.remote(rows[i::n_shards]) for i in range(n_shards)]\n"
                "    return ray.get(refs)\n",
                "expected a list of",
            ),
            (
                "sequential",
                "def map_shards(rows, n_shards):\n"
                "    done = [ray.get(summarize.remote(rows[i::n_shards]))\n"
                "            for i in range(n_shards)]\n"
                "    return [ray.put(part) for part in done]\n",
                "ran one at a time",
            ),
            (
                "cheat: all the data in one shard",
                "def map_shards(rows, n_shards):\n"
                "    empty = [summarize.remote([]) for _ in range(n_shards - 1)]\n"
                "    return [summarize.remote(rows)] + empty\n",
                "one shard does most of the work",
            ),
            (
                "cheat: chunking that drops the remainder",
                "def map_shards(rows, n_shards):\n"
                "    size = len(rows) // n_shards\n"
                "    return [summarize.remote(rows[i * size : (i + 1) * size])\n"
                "            for i in range(n_shards)]\n",
                "every row must be in exactly one shard",
            ),
        ],
        "09_capstone:reduce": [
            (
                "wrong",
                "def reduce_partials(partial_refs):\n    return merge.remote(*partial_refs[:-1])\n",
                "summarize task result(s); expected",
            ),
            (
                "fetched",
                "def reduce_partials(partial_refs):\n"
                "    return merge.remote(*ray.get(partial_refs))\n",
                "summarize result(s) were fetched into the notebook",
            ),
            (
                "cheat: totals typed in",
                "def reduce_partials(partial_refs):\n"
                "    merge.remote(*partial_refs)\n"
                "    return ray.put({'Adelie': (151, 558800.0, 2.1e9)})\n",
                "did not come back from the merge tasks",
            ),
            (
                "cheat: merged by a task that waits inside",
                "@ray.remote\n"
                "def _merge_all(refs):\n"
                "    return ray.get(merge.remote(*refs))\n\n\n"
                "def reduce_partials(partial_refs):\n"
                "    return _merge_all.remote(partial_refs)\n",
                ("ray.get inside a task", "a task of your own (_merge_all)"),
            ),
        ],
        "09_capstone:bootstrap": [
            (
                "wrong",
                "def confidence_intervals(masses, n_resamples):\n"
                "    return {s: (min(v), max(v)) for s, v in masses.items()}\n",
                "did not come back from the bootstrap tasks",
            ),
            (
                "no tasks",
                "def confidence_intervals(masses, n_resamples):\n"
                "    return {s: bootstrap(v, n_resamples) for s, v in masses.items()}\n",
                "did not come back from the bootstrap tasks",
            ),
            (
                "sequential",
                "def confidence_intervals(masses, n_resamples):\n"
                "    return {s: ray.get(bootstrap_ci.remote(v, n_resamples)) "
                "for s, v in masses.items()}\n",
                "ran one at a time",
            ),
            (
                "cheat: intervals made up around the mean",
                "def confidence_intervals(masses, n_resamples):\n"
                "    ray.get([bootstrap_ci.remote(v, 100) for v in masses.values()])\n"
                "    return {s: (sum(v) / len(v) - 60, sum(v) / len(v) + 60)\n"
                "            for s, v in masses.items()}\n",
                "did not come back from the bootstrap tasks",
            ),
            (
                "cheat: n_resamples ignored",
                "def confidence_intervals(masses, n_resamples):\n"
                "    refs = {s: bootstrap_ci.remote(v, 2_000) for s, v in masses.items()}\n"
                "    return dict(zip(refs, ray.get(list(refs.values()))))\n",
                "pass each species' own masses and n_resamples",
            ),
        ],
        "09_capstone:sturdy": [
            (
                "wrong",
                "def produce(masses, n_resamples, board):\n"
                "    ref = ray.put(masses)\n"
                "    task = bootstrap_species.options(num_cpus=2, max_retries=3, "
                "retry_exceptions=True)\n"
                "    pending = {task.remote(ref, s, 60_000): s for s in masses}\n"
                "    while pending:\n"
                "        [ready], _ = ray.wait(list(pending), num_returns=1)\n"
                "        board.post.remote(pending.pop(ready), ready)\n"
                "    return ray.get(board.results.remote())\n",
                "its bootstrap gives",
            ),
            (
                "sequential",
                "def produce(masses, n_resamples, board):\n"
                "    ref = ray.put(masses)\n"
                "    task = bootstrap_species.options(num_cpus=2, max_retries=3, "
                "retry_exceptions=True)\n"
                "    refs = {s: task.remote(ref, s, n_resamples) for s in masses}\n"
                "    for s, interval in zip(refs, ray.get(list(refs.values()))):\n"
                "        board.post.remote(s, interval)\n"
                "    return ray.get(board.results.remote())\n",
                "posted only after",
            ),
            (
                "cheat: the masses passed by value to every task",
                "def produce(masses, n_resamples, board):\n"
                "    task = bootstrap_species.options(num_cpus=2, max_retries=3, "
                "retry_exceptions=True)\n"
                "    pending = {task.remote(masses, s, n_resamples): s for s in masses}\n"
                "    while pending:\n"
                "        [ready], _ = ray.wait(list(pending), num_returns=1)\n"
                "        board.post.remote(pending.pop(ready), ready)\n"
                "    return ray.get(board.results.remote())\n",
                "serialized 3 times",
            ),
            (
                "cheat: retried in the notebook",
                "def produce(masses, n_resamples, board):\n"
                "    ref = ray.put(masses)\n"
                "    task = bootstrap_species.options(num_cpus=2)\n"
                "    pending = {task.remote(ref, s, n_resamples): s for s in masses}\n"
                "    while pending:\n"
                "        [ready], _ = ray.wait(list(pending), num_returns=1)\n"
                "        species = pending.pop(ready)\n"
                "        try:\n"
                "            board.post.remote(species, ray.get(ready))\n"
                "        except ConnectionError:\n"
                "            pending[task.remote(ref, species, n_resamples)] = species\n"
                "    return ray.get(board.results.remote())\n",
                "not by submitting a new task",
            ),
            (
                "cheat: intervals computed in the notebook, tasks for show",
                "def produce(masses, n_resamples, board):\n"
                "    ref = ray.put(masses)\n"
                "    task = bootstrap_species.options(num_cpus=2, max_retries=3, "
                "retry_exceptions=True)\n"
                "    ray.get([task.remote(ref, s, n_resamples) for s in masses])\n"
                "    for s, values in masses.items():\n"
                "        board.post.remote(s, bootstrap(values, n_resamples))\n"
                "    return ray.get(board.results.remote())\n",
                "made from 0 bootstrap_species task result(s)",
            ),
            (
                "cheat: no resources asked, so more run at once",
                "def produce(masses, n_resamples, board):\n"
                "    ref = ray.put(masses)\n"
                "    task = bootstrap_species.options(max_retries=3, retry_exceptions=True)\n"
                "    pending = {task.remote(ref, s, n_resamples): s for s in masses}\n"
                "    while pending:\n"
                "        [ready], _ = ray.wait(list(pending), num_returns=1)\n"
                "        board.post.remote(pending.pop(ready), ready)\n"
                "    return ray.get(board.results.remote())\n",
                "ask for 2 with .options(num_cpus=2)",
            ),
        ],
    }
)

# Lesson 10 (Ray Data, the data branch) keeps its answers in its own module.
from answers_10_data import DATA_ANSWERS  # noqa: E402

ANSWERS.update(DATA_ANSWERS)
ANSWERS.update(
    {
        "11_tune:grid": [
            ("hard-coded", "def best_x(trainable):\n    return 3\n", "should return 4"),
            (
                "local",
                "def best_x(trainable):\n"
                "    return min([1, 2, 3, 4, 5], key=lambda x: (x - 3) ** 2)\n",
                "should return 4",
            ),
            (
                "fetched",
                "def best_x(trainable):\n"
                "    return min([1, 2, 3, 4, 5], key=lambda x: trainable({'x': x}))\n",
                "outside a Tune trial",
            ),
        ],
        "11_tune:asha": [
            (
                "wrong",
                "def run_asha(trainable):\n"
                "    return tune.Tuner(trainable, param_space={'rate': tune.uniform(0.1, 1.0)},\n"
                "        tune_config=tune.TuneConfig(metric='loss', mode='min', num_samples=8),\n"
                "        run_config=tune.RunConfig(storage_path=STORAGE, verbose=0)).fit()\n",
                "nothing stopped early",
            ),
            (
                "hard-coded",
                "def run_asha(trainable):\n    return [{'training_iteration': 2}] * 8\n",
                "return what tuner.fit() returns",
            ),
        ],
        "11_tune:checkpoint": [
            (
                "starts-over",
                "def train_counter(config):\n"
                "    total = 0\n"
                "    for epoch in range(1, config['epochs'] + 1):\n"
                "        total += config['step']\n"
                "        with tempfile.TemporaryDirectory() as d:\n"
                "            tune.report({'total': total, 'epoch': epoch},\n"
                "                        checkpoint=tune.Checkpoint.from_directory(d))\n",
                "it started over",
            ),
            (
                "no-checkpoint",
                "def train_counter(config):\n"
                "    for epoch in range(1, config['epochs'] + 1):\n"
                "        tune.report({'total': epoch * config['step'], 'epoch': epoch})\n",
                "no checkpoint was reported",
            ),
        ],
    }
)
ANSWERS.update(SERVE_ANSWERS)
ANSWERS.update(CAPSTONE_ANSWERS)
