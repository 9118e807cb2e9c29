"""Remote functions: submission, arguments, return values, scheduling, nesting, generators.

Remote functions are defined inside each test (the backend module is a fixture), so they are
pickled by value and need nothing from this test module in the workers.
"""

from __future__ import annotations

import os
import time

import pytest

from rayground.jupyter.spans import peak_parallelism


def _warm(ray, n: int = 2) -> None:
    """Make sure ``n`` workers are started, so timing tests measure scheduling, not start-up."""

    @ray.remote
    def nap():
        time.sleep(0.2)
        return os.getpid()

    ray.get([nap.remote() for _ in range(n)], timeout=60)


# --------------------------------------------------------------------------------------------------
# Submission and results


def test_remote_without_args_returns_object_ref(ray):
    @ray.remote
    def hello():
        return "hello"

    ref = hello.remote()
    assert isinstance(ref, ray.ObjectRef)
    assert ray.get(ref, timeout=30) == "hello"


def test_remote_with_args(ray):
    @ray.remote
    def add(a, b):
        return a + b

    assert ray.get(add.remote(2, 3), timeout=30) == 5


def test_get_of_a_list_keeps_order(ray):
    @ray.remote
    def square(x):
        return x * x

    refs = [square.remote(i) for i in range(10)]
    assert ray.get(refs, timeout=30) == [i * i for i in range(10)]


def test_kwargs_and_defaults(ray):
    @ray.remote
    def f(a, b=10, *, c=100):
        return a + b + c

    assert ray.get(f.remote(1), timeout=30) == 111
    assert ray.get(f.remote(1, c=1), timeout=30) == 12
    assert ray.get(f.remote(a=1, b=2, c=3), timeout=30) == 6


def test_options_num_returns(ray):
    @ray.remote
    def pair():
        return 1, 2

    a, b = pair.options(num_returns=2).remote()
    assert isinstance(a, ray.ObjectRef)
    assert isinstance(b, ray.ObjectRef)
    assert ray.get([a, b], timeout=30) == [1, 2]
    # The options() call does not change the original function: one ref holding the tuple.
    assert ray.get(pair.remote(), timeout=30) == (1, 2)


def test_decorator_num_returns(ray):
    @ray.remote(num_returns=3)
    def three():
        return "a", "b", "c"

    refs = three.remote()
    assert len(refs) == 3
    assert ray.get(list(refs), timeout=30) == ["a", "b", "c"]


def test_decorator_with_resource_options(ray):
    @ray.remote(num_cpus=1)
    def f(x):
        return x + 1

    assert ray.get(f.remote(1), timeout=30) == 2
    assert ray.get(f.options(num_cpus=0.5).remote(2), timeout=30) == 3


def test_calling_remote_function_directly_raises_type_error(ray):
    @ray.remote
    def f():
        return 1

    # Ray: "Remote functions cannot be called directly. Instead of running '<mod>.f()',
    # try '<mod>.f.remote()'."
    with pytest.raises(TypeError, match=r"\.remote\(\)"):
        f()


# --------------------------------------------------------------------------------------------------
# Arguments that are ObjectRefs


def test_top_level_ref_args_are_resolved_before_the_task_runs(ray):
    @ray.remote
    def describe(x, y):
        return type(x).__name__, x, type(y).__name__, y

    @ray.remote
    def make():
        time.sleep(0.1)
        return 41

    put_ref = ray.put([1, 2, 3])
    kind_x, x, kind_y, y = ray.get(describe.remote(make.remote(), y=put_ref), timeout=30)
    assert (kind_x, x) == ("int", 41)
    assert (kind_y, y) == ("list", [1, 2, 3])


def test_refs_nested_in_a_list_are_passed_as_refs(ray):
    @ray.remote
    def inner(refs):
        kinds = [type(r).__name__ for r in refs]
        return kinds, ray.get(refs)

    @ray.remote
    def make(i):
        return i * 10

    refs = [ray.put("a"), make.remote(2)]
    kinds, values = ray.get(inner.remote(refs), timeout=30)
    assert kinds == ["ObjectRef", "ObjectRef"]
    assert values == ["a", 20]

    # Same inside a dict: only top-level arguments are resolved.
    @ray.remote
    def from_dict(d):
        return isinstance(d["ref"], ray.ObjectRef), ray.get(d["ref"])

    assert ray.get(from_dict.remote({"ref": ray.put(7)}), timeout=30) == (True, 7)


def test_chaining_tasks_through_refs(ray):
    @ray.remote
    def inc(x):
        return x + 1

    ref = ray.put(0)
    for _ in range(10):
        ref = inc.remote(ref)
    assert ray.get(ref, timeout=30) == 10


# --------------------------------------------------------------------------------------------------
# Workers and scheduling (worker reuse first: later tests may grow the worker pool)


def test_worker_processes_are_reused(ray):
    @ray.remote
    def pid():
        return os.getpid()

    @ray.remote
    def slow_pid():
        time.sleep(0.3)
        return os.getpid()

    _warm(ray)
    driver = os.getpid()
    sequential = [ray.get(pid.remote(), timeout=30) for _ in range(20)]
    assert driver not in sequential
    # 20 tasks one after another: the same worker process (or two) serve them all.
    assert len(set(sequential)) <= 2

    parallel = set(ray.get([slow_pid.remote() for _ in range(6)], timeout=60))
    # 6 overlapping tasks on 2 CPUs: run by more than one process, but not one process per task.
    assert 2 <= len(parallel) <= 4, parallel


def test_tasks_run_in_parallel_on_two_cpus(ray):
    @ray.remote
    def nap(i):
        start = time.time()
        time.sleep(0.3)
        return i, (start, time.time())

    _warm(ray)
    results = ray.get([nap.remote(i) for i in range(8)], timeout=60)
    assert [i for i, _ in results] == list(range(8))
    # The tasks' own run times (one clock: one machine): two at once, never more.
    assert peak_parallelism(span for _, span in results) == 2, results


def test_num_cpus_two_task_runs_alone(ray):
    @ray.remote(num_cpus=2)
    def hog():
        start = time.time()
        time.sleep(0.3)
        return start, time.time()

    _warm(ray)
    spans = ray.get([hog.remote(), hog.remote()], timeout=60)
    # Each task takes both CPUs of the cluster, so they cannot overlap (their own run times).
    assert peak_parallelism(spans) == 1, spans


def test_nested_tasks_with_get_inside_tasks_do_not_deadlock(ray):
    @ray.remote
    def leaf(x):
        return x * 2

    @ray.remote
    def child(x):
        # A blocking get inside a task: the worker gives its CPU back while it waits.
        return ray.get(leaf.remote(x)) + 1

    @ray.remote
    def parent(base):
        refs = [child.remote(base + i) for i in range(4)]
        return sum(ray.get(refs))

    # The parent blocks on 4 children, which each block on a leaf: more blocked tasks than CPUs.
    assert ray.get(parent.remote(10), timeout=90) == sum(2 * (10 + i) + 1 for i in range(4))


# --------------------------------------------------------------------------------------------------
# Generators


def test_generator_task_returns_object_ref_generator(ray):
    @ray.remote
    def count_to(n):
        for i in range(n):
            yield i * 10

    gen = count_to.remote(4)
    # Ray 2.x: calling a generator function with .remote() gives a ray.ObjectRefGenerator.
    assert isinstance(gen, ray.ObjectRefGenerator)
    refs = list(gen)
    assert len(refs) == 4
    assert all(isinstance(r, ray.ObjectRef) for r in refs)
    assert ray.get(refs, timeout=30) == [0, 10, 20, 30]


def test_generator_task_next_and_stop_iteration(ray):
    @ray.remote
    def two():
        yield "first"
        yield "second"

    gen = two.remote()
    assert ray.get(next(gen), timeout=30) == "first"
    assert ray.get(next(gen), timeout=30) == "second"
    with pytest.raises(StopIteration):
        next(gen)


def test_generator_with_static_num_returns_gives_a_list_of_refs(ray):
    @ray.remote(num_returns=3)
    def gen3():
        yield from ("x", "y", "z")

    refs = gen3.remote()
    assert ray.get(list(refs), timeout=30) == ["x", "y", "z"]


def _drain(ray, gen):
    """Every value a generator delivers, then the error it ends with (None if it ends well)."""
    values = []
    for ref in gen:
        try:
            values.append(ray.get(ref, timeout=60))
        except Exception as err:  # the item after the last one raises the task's error
            return values, err
    return values, None


@pytest.mark.parametrize("when", ["while-running", "after-it-failed"])
def test_generator_delivers_every_item_yielded_before_it_raised(ray, exc, when):
    @ray.remote
    def produce(n):
        # Not `yield from`: Ray 2.60 answers a `yield from` that then raises with AttributeError.
        for i in range(n):  # noqa: UP028
            yield i
        raise ValueError(f"failed after {n} items")

    for n in (0, 1, 5, 40):
        gen = produce.remote(n)
        if when == "after-it-failed":
            ray.wait([gen.completed()], timeout=60)  # everything (the error too) has arrived
        values, err = _drain(ray, gen)
        assert values == list(range(n))
        assert isinstance(err, ValueError) and isinstance(err, exc.RayTaskError)
        assert f"failed after {n} items" in str(err)
        with pytest.raises(StopIteration):  # the error is given once, then the stream ends
            next(gen)


def test_actor_generator_delivers_every_item_before_its_error(ray, exc):
    @ray.remote
    class Source:
        def produce(self, n):
            for i in range(n):
                yield {"row": i}
            raise KeyError("source ran dry")

    source = Source.remote()
    for n in (3, 20):
        gen = source.produce.remote(n)
        ray.wait([gen.completed()], timeout=60)
        values, err = _drain(ray, gen)
        assert values == [{"row": i} for i in range(n)]
        assert isinstance(err, KeyError) and isinstance(err, exc.RayTaskError)


def test_generator_consumed_inside_a_task_keeps_items_before_the_error(ray):
    @ray.remote
    def produce(n):
        for i in range(n):  # noqa: UP028 (not `yield from`: see above)
            yield i
        raise ValueError("stop")

    @ray.remote
    def consume(n):
        gen = produce.remote(n)
        ray.wait([gen.completed()], timeout=60)
        got = []
        try:
            for ref in gen:
                got.append(ray.get(ref))
        except ValueError as err:
            return got, "stop" in str(err)
        return got, False

    assert ray.get(consume.remote(6), timeout=60) == (list(range(6)), True)


# --------------------------------------------------------------------------------------------------
# A small DAG, as in "Ray Core: Zero to Hero"


@pytest.mark.timing  # the tutorial's speed-up: 0.4 s expected, 0.7 s allowed, 0.8 s sequential
def test_dag_fetch_process_combine_runs_fetches_in_parallel(ray):
    @ray.remote
    def fetch(source):
        time.sleep(0.2)  # simulated I/O
        return [source * 10 + i for i in range(5)]

    @ray.remote
    def process(data):
        return [x * 2 for x in data]

    @ray.remote
    def combine(*parts):
        return sum(sum(p) for p in parts)

    _warm(ray)
    start = time.monotonic()
    # Four sources rather than the tutorial's three, so that two CPUs give a clear 2x.
    processed = [process.remote(fetch.remote(s)) for s in range(4)]
    total = ray.get(combine.remote(*processed), timeout=60)
    elapsed = time.monotonic() - start
    assert total == sum(2 * (s * 10 + i) for s in range(4) for i in range(5))
    # Sequential fetches alone would take 0.8 s; two CPUs run them in two waves (~0.4 s).
    assert elapsed < 0.7, elapsed
