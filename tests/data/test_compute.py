"""`compute=` and the deprecated `concurrency=` and `**ray_remote_args`: Ray Data's rules on both
backends (a TaskPoolStrategy caps a function's tasks, a callable class needs actors, `compute`
wins over `concurrency`, extra remote options warn)."""

from __future__ import annotations

import logging
import warnings

import pytest


def _overlap_probe(marker_dir: str, wait_s: float):
    """A batch function that reports how many of its tasks were running at once: each task
    marks itself running, waits (at most wait_s) to see another, records the peak it saw."""

    def probe(batch):
        import glob
        import os
        import time
        import uuid

        me = os.path.join(marker_dir, f"running-{uuid.uuid4().hex}")
        open(me, "w").close()
        peak = len(glob.glob(os.path.join(marker_dir, "running-*")))
        deadline = time.monotonic() + wait_s
        while peak < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
            peak = max(peak, len(glob.glob(os.path.join(marker_dir, "running-*"))))
        open(os.path.join(marker_dir, f"peak-{uuid.uuid4().hex}-{peak}"), "w").close()
        os.remove(me)
        return batch

    return probe


def _peaks(tmp_path) -> list[int]:
    return sorted(int(p.name.rsplit("-", 1)[1]) for p in tmp_path.glob("peak-*"))


def test_task_pool_strategy_caps_concurrent_tasks(ray, tmp_path):
    # An uncapped executor starts a second task well within 0.5 s; with size=1 none overlaps.
    ds = ray.data.range(3, override_num_blocks=3).map_batches(
        _overlap_probe(str(tmp_path), 0.5), compute=ray.data.TaskPoolStrategy(size=1)
    )
    assert sorted(r["id"] for r in ds.take_all()) == [0, 1, 2]
    assert _peaks(tmp_path) == [1, 1, 1]


def test_rayground_runs_two_tasks_at_once_under_size_2(rg, tmp_path):
    # The other half of the cap test: where the cap allows two, two do run at once (each waits,
    # up to 30 s, for the other), so the size=1 result above is the cap's doing. (Ray Data's
    # scheduler on a 2-CPU cluster may still run these one at a time, so this half is ours.)
    ds = rg.data.range(2, override_num_blocks=2).map_batches(
        _overlap_probe(str(tmp_path), 30), compute=rg.data.TaskPoolStrategy(size=2)
    )
    assert ds.count() == 2
    assert max(_peaks(tmp_path)) == 2


def test_task_pool_strategy_validates_size(ray):
    with pytest.raises(ValueError, match="size"):
        ray.data.TaskPoolStrategy(size=0)


def test_a_class_needs_actors_and_a_function_needs_tasks(ray):
    class AddOne:
        def __call__(self, batch):
            return {"id": batch["id"] + 1}

    ds = ray.data.range(4)
    with pytest.raises(ValueError, match="can't schedule callable classes with the task pool"):
        ds.map_batches(AddOne, compute=ray.data.TaskPoolStrategy(size=1))
    with pytest.raises(ValueError, match="can't schedule regular functions with the actor pool"):
        ds.map_batches(lambda b: b, compute=ray.data.ActorPoolStrategy(size=1))


def test_compute_wins_over_concurrency(ray):
    class AddOne:
        def __call__(self, batch):
            return {"id": batch["id"] + 1}

    ds = ray.data.range(4).map_batches(
        AddOne, compute=ray.data.ActorPoolStrategy(size=1), concurrency=2
    )
    assert sorted(r["id"] for r in ds.take_all()) == [1, 2, 3, 4]


def test_concurrency_tuple_needs_a_class(ray):
    with pytest.raises(ValueError, match="not a callable class"):
        ray.data.range(4).map_batches(lambda b: b, concurrency=(1, 2))
    with pytest.raises(ValueError, match="tuple of integers"):
        ray.data.range(4).map_batches(lambda b: b, concurrency=(1, 2, 3, 4))


def test_extra_remote_args_are_deprecated_named_ones_are_not(ray):
    ds = ray.data.range(4)
    with pytest.warns(DeprecationWarning, match="`ray_remote_args` is deprecated"):
        ds.map_batches(lambda b: b, max_retries=1)
    with pytest.warns(DeprecationWarning, match="`ray_remote_args` is deprecated"):
        ds.filter(lambda r: True, max_retries=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        ds.map_batches(lambda b: b, num_cpus=1, memory=10**6)
        ds.map(lambda r: r, num_cpus=1)


def test_rayground_logs_rays_concurrency_deprecation(rg, caplog):
    with caplog.at_level(logging.WARNING, logger="rayground.data"):
        ds = rg.data.range(4).map_batches(lambda b: b, concurrency=1)
    assert "``concurrency`` is deprecated" in caplog.text
    assert ds.count() == 4
