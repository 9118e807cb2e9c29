"""Remote options on map operators as Ray 2.60 takes them: named parameters (num_cpus, memory,
resources, runtime_env, max_calls, ...), the deprecated extra keywords and ray_remote_args_fn
(with Ray's warnings), and a misspelt option failing with its name."""

from __future__ import annotations

import os

import pytest


def test_named_remote_options_reach_the_tasks(ray):
    # Defined here, so that it is pickled by value: a worker started for a runtime_env may not
    # import the test module.
    def _env(batch):
        batch["flag"] = [os.environ.get("RG_DATA_FLAG", "")] * len(batch["id"])
        return batch

    ds = ray.data.range(6, override_num_blocks=2).map_batches(
        _env,
        num_cpus=0.5,
        memory=1,
        max_calls=5,
        resources=None,
        accelerator_type=None,
        runtime_env={"env_vars": {"RG_DATA_FLAG": "on"}},
    )
    assert {r["flag"] for r in ds.take_all()} == {"on"}
    rows = ray.data.range(4).filter(lambda r: r["id"] % 2 == 0, num_cpus=0.5, max_calls=2)
    assert sorted(r["id"] for r in rows.take_all()) == [0, 2]
    mapped = ray.data.range(3).map(lambda r: {"x": r["id"] + 1}, num_cpus=0.25)
    assert sorted(r["x"] for r in mapped.take_all()) == [1, 2, 3]


def test_extra_keywords_and_remote_args_fn_are_deprecated_but_work(ray):
    with pytest.warns(Warning, match="`ray_remote_args` is deprecated"):
        ds = ray.data.range(4).map(lambda r: r, max_retries=1, retry_exceptions=False)
    assert ds.count() == 4
    with pytest.warns(Warning, match="`ray_remote_args_fn` is deprecated"):
        ds = ray.data.range(4).map_batches(lambda b: b, ray_remote_args_fn=lambda: {"num_cpus": 1})
    assert ds.count() == 4


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_misspelt_option_fails_naming_it(ray):
    with pytest.raises(ValueError, match="num_cpu"):
        ray.data.range(4).map_batches(lambda b: b, num_cpu=1).count()
    with pytest.raises(ValueError, match="max_retry"):
        ray.data.range(4).flat_map(lambda r: [r], max_retry=2).count()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_misspelt_option_fails_when_the_operator_is_made_with_a_hint(rg):
    with pytest.raises(ValueError, match="Did you mean 'num_cpus'"):
        rg.data.range(4).map_batches(lambda b: b, num_cpu=1)
    with pytest.raises(ValueError, match="cannot be negative"):
        rg.data.range(4).map(lambda r: r, num_cpus=-1)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_task_only_options_on_an_actor_pool_fail_naming_them(ray):
    class _AddOne:
        def __call__(self, batch):
            batch["id"] = batch["id"] + 1
            return batch

    ds = ray.data.range(4).map_batches(
        _AddOne, compute=ray.data.ActorPoolStrategy(size=1), num_cpus=0.5
    )
    assert sorted(r["id"] for r in ds.take_all()) == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="max_retries for actors"):
        ray.data.range(4).map_batches(
            _AddOne, compute=ray.data.ActorPoolStrategy(size=1), max_retries=1
        ).count()
