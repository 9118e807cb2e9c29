"""init(job_config=JobConfig(...), logging_config=LoggingConfig(...)): the job's runtime_env,
namespace and metadata, and the driver's logging, as Ray takes them. Each test starts its own
cluster (the bare backend), since these are init's arguments."""

from __future__ import annotations

import importlib
import logging

import pytest


@pytest.fixture
def root_logger():
    """The root logger's handlers and level, restored after a test reconfigures them."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    yield root
    root.handlers, level = saved
    root.setLevel(level)


def test_a_job_config_gives_the_jobs_env_and_namespace(bare_backend, root_logger):
    ray = bare_backend
    job_config = importlib.import_module(f"{ray.__name__}.job_config")
    config = job_config.JobConfig(
        runtime_env={"env_vars": {"COMPAT_JOB_VAR": "from-job"}},
        ray_namespace="compat-job-ns",
        metadata={"owner": "compat"},
    )
    assert config.metadata == {"owner": "compat"}
    ray.init(
        num_cpus=1,
        job_config=config,
        logging_config=ray.LoggingConfig(encoding="JSON", log_level="WARNING"),
        include_dashboard=False,
    )

    @ray.remote
    def read_env():
        import os

        return os.environ.get("COMPAT_JOB_VAR")

    assert ray.get(read_env.remote(), timeout=60) == "from-job"
    assert ray.get_runtime_context().namespace == "compat-job-ns"
    assert root_logger.level == logging.WARNING


def test_init_arguments_win_over_the_job_config(bare_backend):
    ray = bare_backend
    job_config = importlib.import_module(f"{ray.__name__}.job_config")
    config = job_config.JobConfig(
        runtime_env={"env_vars": {"COMPAT_JOB_VAR": "from-job"}}, ray_namespace="from-job"
    )
    ray.init(
        num_cpus=1,
        job_config=config,
        runtime_env={"env_vars": {"COMPAT_JOB_VAR": "from-init"}},
        namespace="from-init",
        include_dashboard=False,
    )

    @ray.remote
    def read_env():
        import os

        return os.environ.get("COMPAT_JOB_VAR")

    assert ray.get(read_env.remote(), timeout=60) == "from-init"
    assert ray.get_runtime_context().namespace == "from-init"


def test_bad_configs_are_refused(bare_backend):
    ray = bare_backend
    job_config = importlib.import_module(f"{ray.__name__}.job_config")
    with pytest.raises(ValueError, match="encoding"):
        ray.LoggingConfig(encoding="XML")
    with pytest.raises(ValueError, match="attribute"):
        ray.LoggingConfig(additional_log_standard_attrs=["not_a_log_field"])
    with pytest.raises(ValueError):
        job_config.JobConfig(default_actor_lifetime="forever")
