"""`ray.util.multiprocessing.Pool`: the multiprocessing.Pool interface on actors (map, imap,
imap_unordered, starmap, apply, the async forms with callbacks, chunksize, initializer,
maxtasksperchild, close/terminate/join), held to the same assertions on both backends.

Where Ray 2.60 departs from its own documentation and from multiprocessing (an item's error is
yielded by `imap` as a `PoolTaskError` value, and `error_callback` gets that wrapper), rayground
follows the documentation; those tests declare the difference (`@pytest.mark.differs`) and
assert each backend's behaviour (docs/ray-compatibility.md is generated from them)."""

from __future__ import annotations

import importlib
import itertools
import multiprocessing
import os
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

WAIT_S = 60
DIFFERENCES_SECTION = "`rayground.util.multiprocessing.Pool`"


@pytest.fixture(scope="module")
def mp(ray):
    return importlib.import_module(f"{ray.__name__}.util.multiprocessing")


@pytest.fixture(scope="module")
def pool(mp):
    with mp.Pool() as p:
        yield p


@pytest.fixture(scope="module")
def fn():
    """The functions the pool runs, defined here so both runtimes ship them by value (Ray's
    workers cannot import a test module)."""

    def square(x):
        return x * x

    def fail_on_three(x):
        if x == 3:
            raise ValueError(f"bad item {x}")
        return x

    def wait_for_file(path):
        # Blocks until the test creates `path`; bounded, so a broken test cannot hang a worker.
        import time

        deadline = time.monotonic() + WAIT_S
        while not os.path.exists(path):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path} never appeared")
            time.sleep(0.01)
        return os.getpid()

    def pid(_=None):
        return os.getpid()

    def mark_started(directory):
        Path(directory, str(os.getpid())).touch()

    return SimpleNamespace(
        square=square,
        fail_on_three=fail_on_three,
        wait_for_file=wait_for_file,
        pid=pid,
        mark_started=mark_started,
    )


def test_map_keeps_order_for_any_chunksize(pool, fn):
    assert pool.map(fn.square, range(10)) == [x * x for x in range(10)]
    assert pool.map(fn.square, range(10), chunksize=3) == [x * x for x in range(10)]
    assert pool.map(fn.square, []) == []


def test_starmap_unpacks_arguments(pool):
    assert pool.starmap(pow, [(2, 3), (3, 2), (10, 0)]) == [8, 9, 1]


def test_apply_and_apply_async(pool, fn):
    assert pool.apply(divmod, (17, 5)) == (3, 2)
    assert pool.apply(int, ("ff",), {"base": 16}) == 255
    result = pool.apply_async(fn.square, (7,))
    assert result.get(timeout=WAIT_S) == 49
    assert result.ready() and result.successful()


def test_imap_reads_an_endless_iterator_lazily(pool, fn):
    results = pool.imap(fn.square, itertools.count())
    assert list(itertools.islice(results, 6)) == [0, 1, 4, 9, 16, 25]


def test_imap_in_order_and_unordered_gives_every_result(pool, fn):
    assert list(pool.imap(fn.square, range(9), chunksize=2)) == [x * x for x in range(9)]
    assert sorted(pool.imap_unordered(fn.square, range(9))) == [x * x for x in range(9)]


def test_an_items_error_is_raised_as_the_users_type(ray, pool, fn):
    with pytest.raises(ValueError, match="bad item 3") as info:
        pool.map(fn.fail_on_three, range(6), chunksize=2)
    assert not isinstance(info.value, ray.exceptions.RayTaskError)
    with pytest.raises(ValueError, match="bad item 3"):
        pool.apply(fn.fail_on_three, (3,))


@pytest.mark.differs(
    "ray",
    what="An item's error in `imap`/`imap_unordered`",
    ray="yielded as a `PoolTaskError` value",
    rayground="raised from `next()`, as multiprocessing",
    why="Ray's own docs and multiprocessing raise; a value silently stands in for a failure.",
)
def test_imap_error(pool, fn, differs):
    results = pool.imap(fn.fail_on_three, range(5))
    assert [next(results) for _ in range(3)] == [0, 1, 2]
    if differs:
        assert isinstance(next(results).underlying, ValueError)
    else:
        with pytest.raises(ValueError, match="bad item 3"):
            next(results)
    assert next(results) == 4


@pytest.mark.differs(
    "ray",
    what="`map_async` `callback`'s list",
    ray="in the order chunks finished",
    rayground="in item order",
    why="multiprocessing passes the results in order.",
)
def test_map_async_callback_gets_all_results_once(pool, fn, differs):
    got = []
    done = threading.Event()

    def callback(values):
        got.append(values)
        done.set()

    result = pool.map_async(fn.square, range(5), callback=callback)
    assert result.get(timeout=WAIT_S) == [0, 1, 4, 9, 16]
    assert done.wait(WAIT_S)
    assert len(got) == 1
    if differs:
        assert sorted(got[0]) == [0, 1, 4, 9, 16]  # in whatever order the chunks finished
    else:
        assert got[0] == [0, 1, 4, 9, 16]  # in order, as multiprocessing


@pytest.mark.differs(
    "ray",
    what="`error_callback`'s argument",
    ray="Ray's `PoolTaskError` wrapper",
    rayground="the exception itself",
    why="multiprocessing's and Ray's documented contract.",
)
def test_error_callback_hears_of_the_first_error(pool, fn, differs):
    errors = []
    results = []
    async_result = pool.map_async(
        fn.fail_on_three, range(5), callback=results.append, error_callback=errors.append
    )
    async_result.wait(WAIT_S)
    assert async_result.ready()
    assert not async_result.successful()
    with pytest.raises(ValueError, match="bad item 3"):
        async_result.get(timeout=WAIT_S)
    assert results == []  # the callback is for success only
    assert len(errors) == 1
    if differs:
        assert isinstance(errors[0].underlying, ValueError)
    else:
        assert isinstance(errors[0], ValueError)


@pytest.mark.differs(
    "ray",
    what="`starmap_async` signature",
    ray="`(func, iterable, callback, error_callback)`",
    rayground="multiprocessing's `(func, iterable, chunksize, callback, error_callback)`",
    why="a callback passed by position to Ray's form fails here with a clear `chunksize` error; "
    "pass callbacks by keyword on both.",
)
def test_starmap_async_third_argument(pool, differs):
    got = []
    if differs:
        result = pool.starmap_async(divmod, [(7, 2), (9, 4)], got.append)
        assert result.get(timeout=WAIT_S) == [(3, 1), (2, 1)]
        assert sorted(got[0]) == [(2, 1), (3, 1)]
    else:
        with pytest.raises(ValueError, match="chunksize must be an int >= 1, got <built-in"):
            pool.starmap_async(divmod, [(7, 2), (9, 4)], got.append)
    # By keyword, the same call works on both.
    result = pool.starmap_async(divmod, [(7, 2), (9, 4)], callback=got.append)
    assert result.get(timeout=WAIT_S) == [(3, 1), (2, 1)]


@pytest.mark.differs(
    "ray",
    what="`chunksize=0`",
    ray="`AssertionError`",
    rayground="`ValueError` saying what is allowed",
    why="errors say what to do.",
)
def test_chunksize_zero_is_refused(pool, fn, differs):
    expected = AssertionError if differs else ValueError
    with pytest.raises(expected, match="^$" if differs else "chunksize must be an int >= 1, got 0"):
        pool.map(fn.square, range(3), chunksize=0)


def test_get_times_out_with_multiprocessings_error(pool, tmp_path, fn):
    release = tmp_path / "release"
    result = pool.apply_async(fn.wait_for_file, (str(release),))
    with pytest.raises(multiprocessing.TimeoutError):
        result.get(timeout=0.2)
    assert not result.ready()
    with pytest.raises(ValueError, match="not ready"):
        result.successful()
    release.touch()
    assert isinstance(result.get(timeout=WAIT_S), int)
    assert result.successful()


def test_imap_next_times_out(pool, tmp_path, fn):
    release = tmp_path / "release"
    results = pool.imap(fn.wait_for_file, [str(release)])
    with pytest.raises(multiprocessing.TimeoutError):
        results.next(timeout=0.2)
    release.touch()
    assert isinstance(results.next(timeout=WAIT_S), int)
    with pytest.raises(StopIteration):
        next(results)


def test_initializer_runs_once_in_each_process(mp, tmp_path, fn):
    with mp.Pool(2, initializer=fn.mark_started, initargs=(str(tmp_path),)) as p:
        started = {int(name) for name in os.listdir(tmp_path)}
        assert len(started) == 2  # both ran before the pool was handed out
        assert set(p.map(fn.pid, range(20), chunksize=1)) <= started


def test_maxtasksperchild_replaces_the_process(mp, fn):
    p = mp.Pool(1, maxtasksperchild=1)
    pids = p.map(fn.pid, range(3), chunksize=1)
    assert len(set(pids)) == 3  # one chunk per process, then a fresh one
    p.close()
    p.join()


def test_close_join_and_misuse(mp, fn):
    p = mp.Pool(1)
    with pytest.raises(ValueError, match="Pool is still running"):
        p.join()
    assert p.map(fn.square, [3]) == [9]
    p.close()
    p.join()
    with pytest.raises(ValueError, match="Pool not running"):
        p.map(fn.square, [1])
    with pytest.raises(ValueError, match="Pool not running"):
        p.apply_async(fn.square, (1,))


def test_terminate_fails_unfinished_work(ray, mp, tmp_path, fn):
    p = mp.Pool(1)
    result = p.apply_async(fn.wait_for_file, (str(tmp_path / "never"),))
    p.terminate()
    with pytest.raises(ray.exceptions.RayActorError):
        result.get(timeout=WAIT_S)
    p.join()


def test_process_count_is_checked(mp):
    with pytest.raises(ValueError, match="only 2 CPUs"):
        mp.Pool(3)
    with pytest.raises(ValueError, match="must be >0"):
        mp.Pool(0)
