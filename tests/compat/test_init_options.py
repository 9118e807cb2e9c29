"""Options given to ``init``: custom resources and a job-wide runtime environment.

This module gets its own cluster: ``init(num_cpus=2, resources={"widget": 2},
runtime_env={"env_vars": {...}})``.
"""

from __future__ import annotations

import os
import time

import pytest

from rayground.jupyter.spans import peak_parallelism

ENV_VAR = "RAYGROUND_COMPAT_GREETING"
INIT_KWARGS = {
    "resources": {"widget": 2},
    "runtime_env": {"env_vars": {ENV_VAR: "hello", "RAYGROUND_COMPAT_SHARED": "job"}},
}


# --------------------------------------------------------------------------------------------------
# Custom resources


def test_custom_resource_is_in_cluster_resources(ray):
    resources = ray.cluster_resources()
    assert resources["widget"] == 2
    assert resources["CPU"] == 2
    assert ray.nodes()[0]["Resources"]["widget"] == 2


def test_task_with_a_custom_resource(ray):
    @ray.remote(resources={"widget": 1})
    def use_widget(x):
        return x * 2

    assert ray.get(use_widget.remote(21), timeout=30) == 42
    assert ray.get(use_widget.options(resources={"widget": 0.5}).remote(1), timeout=30) == 2


def test_custom_resource_limits_concurrency(ray):
    @ray.remote(resources={"widget": 2})
    def hog_widgets():
        start = time.time()
        time.sleep(0.3)
        return start, time.time()

    ray.get(hog_widgets.remote(), timeout=60)
    spans = ray.get([hog_widgets.remote(), hog_widgets.remote()], timeout=60)
    # Each task takes both widgets: they cannot overlap (their own run times), although two
    # CPUs are free.
    assert peak_parallelism(spans) == 1, spans


def test_more_of_a_custom_resource_than_exists_never_runs(ray, exc):
    @ray.remote(resources={"widget": 3})
    def greedy():
        return "ran"

    ref = greedy.remote()
    with pytest.raises(exc.GetTimeoutError):
        ray.get(ref, timeout=1)
    ray.cancel(ref)


def test_actor_holds_its_custom_resource(ray, wait_until):
    @ray.remote(resources={"widget": 1})
    class WidgetHolder:
        def ping(self):
            return "pong"

    holder = WidgetHolder.remote()
    assert ray.get(holder.ping.remote(), timeout=30) == "pong"
    wait_until(
        lambda: ray.available_resources().get("widget", 0) == 1,
        timeout=10,
        message="a live actor should hold one widget",
    )
    ray.kill(holder)
    wait_until(
        lambda: ray.available_resources().get("widget", 0) == 2,
        timeout=10,
        message="a killed actor should give its widget back",
    )


# --------------------------------------------------------------------------------------------------
# runtime_env


def test_runtime_env_vars_are_visible_in_tasks(ray):
    @ray.remote
    def read_env():
        return os.environ.get(ENV_VAR)

    assert ray.get(read_env.remote(), timeout=60) == "hello"


def test_runtime_env_vars_are_visible_in_actors(ray):
    @ray.remote
    class EnvReader:
        def read(self):
            return os.environ.get(ENV_VAR)

    reader = EnvReader.remote()
    assert ray.get(reader.read.remote(), timeout=60) == "hello"


def test_task_runtime_env_is_merged_with_the_job_one(ray):
    @ray.remote
    def read_env():
        return (
            os.environ.get(ENV_VAR),
            os.environ.get("RAYGROUND_COMPAT_SHARED"),
            os.environ.get("RAYGROUND_COMPAT_TASK_ONLY"),
        )

    overridden = read_env.options(
        runtime_env={
            "env_vars": {"RAYGROUND_COMPAT_SHARED": "task", "RAYGROUND_COMPAT_TASK_ONLY": "yes"}
        }
    )
    # Ray merges env_vars: the task's own win, the job's others stay.
    assert ray.get(overridden.remote(), timeout=60) == ("hello", "task", "yes")
    # Other tasks keep the job's environment only.
    assert ray.get(read_env.remote(), timeout=60) == ("hello", "job", None)
