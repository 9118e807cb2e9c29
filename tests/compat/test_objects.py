"""The object store from the user's side: ObjectRef, put/get, wait."""

from __future__ import annotations

import asyncio
import pickle
import time

import numpy as np
import pytest

# --------------------------------------------------------------------------------------------------
# ObjectRef


def test_object_ref_is_hashable_and_comparable(ray):
    a = ray.put(1)
    b = ray.put(2)
    assert isinstance(a, ray.ObjectRef)
    assert a == a
    assert a != b
    lookup = {a: "a", b: "b"}
    assert lookup[a] == "a"
    assert len({a, b, a}) == 2


def test_object_ref_hex_is_a_stable_string(ray):
    ref = ray.put("x")
    assert isinstance(ref.hex(), str)
    assert ref.hex() == ref.hex()
    assert ref.hex() != ray.put("x").hex()


def test_object_ref_survives_pickle_and_can_be_passed_into_a_task(ray):
    @ray.remote
    def read(refs):
        return [type(r).__name__ for r in refs], ray.get(refs)

    ref = ray.put({"payload": 42})  # keep the original alive: it owns the object
    refs = pickle.loads(pickle.dumps([ref]))
    assert refs[0] == ref
    assert ray.get(refs[0], timeout=30) == {"payload": 42}
    kinds, values = ray.get(read.remote(refs), timeout=30)
    assert kinds == ["ObjectRef"]
    assert values == [{"payload": 42}]


def test_object_ref_is_awaitable_in_asyncio(ray):
    @ray.remote
    def slow_double(x):
        time.sleep(0.05)
        return 2 * x

    async def main():
        one = await slow_double.remote(1)
        many = await asyncio.gather(*[slow_double.remote(i) for i in range(5)])
        put = await ray.put("stored")
        return one, list(many), put

    one, many, put = asyncio.run(asyncio.wait_for(main(), timeout=60))
    assert one == 2
    assert many == [0, 2, 4, 6, 8]
    assert put == "stored"


def test_object_ref_task_id_names_the_task_that_makes_it(ray):
    @ray.remote(num_returns=2)
    def pair():
        return ray.get_runtime_context().get_task_id(), 2

    first, second = pair.remote()
    inside, _ = ray.get([first, second], timeout=30)
    task_id = first.task_id()
    assert isinstance(task_id.hex(), str)
    assert isinstance(task_id.binary(), bytes)
    assert task_id.hex() == second.task_id().hex() == inside  # one task, two returns
    assert task_id.hex() != pair.remote()[0].task_id().hex()


def test_object_ref_futures(ray):
    @ray.remote
    def double(x):
        return 2 * x

    assert double.remote(4).future().result(timeout=30) == 8

    async def main():
        future = double.remote(5).as_future()
        assert isinstance(future, asyncio.Future)
        return await future

    assert asyncio.run(asyncio.wait_for(main(), timeout=60)) == 10


# --------------------------------------------------------------------------------------------------
# put / get


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1, "b": [1, 2, 3], "c": {"nested": None}},
        "a string",
        b"bytes\x00here",
        12345678901234567890,
        3.5,
        None,
        (1, "two", 3.0),
        {1, 2, 3},
    ],
    ids=["dict", "str", "bytes", "bigint", "float", "None", "tuple", "set"],
)
def test_put_get_round_trip(ray, value):
    assert ray.get(ray.put(value), timeout=30) == value


def test_put_get_numpy_round_trip(ray):
    small = np.arange(10, dtype=np.int64)
    big = np.random.default_rng(0).random((500, 400))  # 1.6 MB
    for arr in (small, big):
        out = ray.get(ray.put(arr), timeout=30)
        assert isinstance(out, np.ndarray)
        assert out.dtype == arr.dtype
        assert out.shape == arr.shape
        np.testing.assert_array_equal(out, arr)


def test_get_of_large_numpy_array_is_read_only(ray):
    arr = np.ones(200_000, dtype=np.float64)  # 1.6 MB: lives in shared memory, zero-copy read
    out = ray.get(ray.put(arr), timeout=30)
    # Ray hands back a read-only view of the object store's buffer.
    assert out.flags.writeable is False
    with pytest.raises(ValueError):
        out[0] = 2.0
    assert arr.flags.writeable is True  # the caller's own array is untouched


@pytest.mark.parametrize(
    "make",
    [
        lambda: np.arange(3),  # 24 bytes: travels inline, in the pickle itself
        lambda: np.zeros((4, 4), dtype=np.float32),
        lambda: np.asfortranarray(np.ones((3, 5))),
        lambda: np.arange(5_000),  # 40 kB
    ],
    ids=["tiny", "2d", "fortran", "40kB"],
)
def test_get_of_a_small_numpy_array_is_read_only_too(ray, make):
    @ray.remote
    def make_one():
        return {"array": make()}

    @ray.remote
    def writeable(box):
        return box["array"].flags.writeable

    arr = make()
    # From put, from a task's return value, and as a task's argument: read-only everywhere.
    for out in (ray.get(ray.put(arr), timeout=30), ray.get(make_one.remote(), timeout=30)["array"]):
        np.testing.assert_array_equal(out, arr)
        assert out.flags.writeable is False
        with pytest.raises(ValueError, match="read-only"):
            out.flat[0] = 7
    assert ray.get(writeable.remote({"array": arr}), timeout=30) is False
    assert arr.flags.writeable is True  # the caller's own array is untouched
    # A copy is the user's to change (what Ray's docs advise).
    copy = ray.get(ray.put(arr), timeout=30).copy()
    copy.flat[0] = 7


def test_non_contiguous_and_object_arrays_come_back_as_writable_copies(ray):
    # NumPy pickles these by copy (no zero-copy buffer), on both backends.
    strided = np.arange(100).reshape(10, 10)[:, ::2]
    objects = np.array([{"a": 1}, None], dtype=object)
    for arr in (strided, objects):
        assert ray.get(ray.put(arr), timeout=30).flags.writeable is True


def test_get_of_a_non_ref_raises(ray):
    # Ray: a bare non-ref raises ValueError ("Invalid type of object refs, <class 'int'>, is
    # given. 'object_refs' must either be an ObjectRef or a list of ObjectRefs.").
    with pytest.raises(ValueError):
        ray.get(123)
    with pytest.raises(ValueError):
        ray.get("not a ref")
    # Ray: a non-ref inside a list raises TypeError ("Attempting to call `get` on the value 1,
    # which is not an ray.ObjectRef.").
    with pytest.raises(TypeError):
        ray.get([ray.put(0), 1])


def test_get_of_an_empty_list(ray):
    assert ray.get([], timeout=5) == []


@pytest.mark.timing  # the timeout is the feature: 0.1 s asked, 1.5 s allowed
def test_get_timeout_raises_get_timeout_error(ray, exc):
    @ray.remote
    def slow():
        time.sleep(1)
        return 1

    ref = slow.remote()
    start = time.monotonic()
    with pytest.raises(exc.GetTimeoutError) as info:
        ray.get(ref, timeout=0.1)
    assert time.monotonic() - start < 1.5
    # GetTimeoutError is a RayError and a builtin TimeoutError.
    assert isinstance(info.value, TimeoutError)
    assert isinstance(info.value, exc.RayError)
    assert issubclass(exc.GetTimeoutError, TimeoutError)
    # The object is still produced; a later get succeeds.
    assert ray.get(ref, timeout=30) == 1


def test_put_once_pass_to_many_tasks(ray):
    @ray.remote
    def total(arr):
        return float(arr.sum())

    arr = np.arange(1_000_000, dtype=np.float64)  # 8 MB
    ref = ray.put(arr)
    expected = float(arr.sum())
    assert ray.get([total.remote(ref) for _ in range(8)], timeout=60) == [expected] * 8


def test_put_of_an_object_ref_is_rejected(ray):
    # Ray: "Calling 'put' on an ray.ObjectRef is not allowed." (TypeError)
    with pytest.raises(TypeError):
        ray.put(ray.put(1))


# --------------------------------------------------------------------------------------------------
# wait


def test_wait_returns_ready_and_not_ready_lists(ray):
    @ray.remote
    def sleep_for(t):
        time.sleep(t)
        return t

    slow = sleep_for.remote(1.5)
    fast = sleep_for.remote(0.0)
    ready, not_ready = ray.wait([slow, fast], timeout=30)
    assert isinstance(ready, list)
    assert isinstance(not_ready, list)
    # Default num_returns=1: the fast one, submitted second, comes back first.
    assert ready == [fast]
    assert not_ready == [slow]
    ray.get(slow, timeout=30)  # leave no task running for the next test


def test_wait_num_returns_and_completion_order(ray):
    @ray.remote
    def sleep_for(t):
        time.sleep(t)
        return t

    refs = [sleep_for.remote(t) for t in (1.5, 0.0, 0.1)]
    ready, not_ready = ray.wait(refs, num_returns=2, timeout=30)
    assert set(ready) == {refs[1], refs[2]}
    assert not_ready == [refs[0]]
    ready, not_ready = ray.wait(refs, num_returns=3, timeout=30)
    assert len(ready) == 3
    assert not_ready == []
    assert ray.get(ready, timeout=30) == [1.5, 0.0, 0.1]  # ready keeps the order of the input


@pytest.mark.timing  # the timeout is the feature: 0.3 s asked, 0.25-1.5 s allowed
def test_wait_timeout_returns_partial(ray):
    @ray.remote
    def sleep_for(t):
        time.sleep(t)
        return t

    slow = [sleep_for.remote(1.0) for _ in range(2)]
    done = ray.put("done")
    start = time.monotonic()
    ready, not_ready = ray.wait([*slow, done], num_returns=3, timeout=0.3)
    elapsed = time.monotonic() - start
    assert ready == [done]
    assert not_ready == slow
    assert 0.25 <= elapsed < 1.5

    ready, not_ready = ray.wait(slow, timeout=0)
    assert ready == []
    assert not_ready == slow
    ray.get(slow, timeout=30)


def test_wait_argument_errors(ray):
    ref = ray.put(1)
    # Ray: wait() expects a list ("wait() expected a list of ray.ObjectRef ...": TypeError),
    with pytest.raises(TypeError):
        ray.wait(ref)
    # unique refs ("Wait requires a list of unique ray_waitables.": ValueError),
    with pytest.raises(ValueError):
        ray.wait([ref, ref])
    # and num_returns <= len(refs) ("num_returns cannot be greater than ...": ValueError).
    with pytest.raises(ValueError):
        ray.wait([ref], num_returns=2)
    assert ray.wait([], timeout=1) == ([], [])


def test_wait_over_a_thousand_refs(ray):
    @ray.remote
    def one(i):
        return i

    refs = [one.remote(i) for i in range(1000)]
    ready, not_ready = ray.wait(refs, num_returns=len(refs), timeout=60)
    assert len(ready) == 1000
    assert not_ready == []
    assert set(ready) == set(refs)
    assert sum(ray.get(refs, timeout=60)) == sum(range(1000))


def test_wait_loop_processes_results_as_they_finish(ray):
    @ray.remote
    def sleep_for(i, t):
        time.sleep(t)
        return i

    delays = [0.6, 0.0, 0.3, 0.1]
    pending = [sleep_for.remote(i, t) for i, t in enumerate(delays)]
    order = []
    deadline = time.monotonic() + 30
    while pending and time.monotonic() < deadline:
        ready, pending = ray.wait(pending, num_returns=1, timeout=10)
        order.extend(ray.get(ready))
    assert sorted(order) == [0, 1, 2, 3]
    assert order[-1] == 0  # the slowest one comes last
