"""@serve.deployment and .options(): Ray Serve's names and checks, without a cluster."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "runtime"))

from rayground import serve


@serve.deployment
class Plain:
    def __call__(self) -> str:
        return "plain"


def test_defaults_match_ray_serve():
    assert Plain.name == "Plain"
    assert Plain.num_replicas == 1
    assert Plain.max_ongoing_requests == 5
    assert Plain.max_queued_requests == -1
    assert Plain.user_config is None
    assert Plain.autoscaling_config is None


def test_options_copy_and_keep_the_original():
    more = Plain.options(num_replicas=3, name="More", max_ongoing_requests=2)
    assert (more.name, more.num_replicas, more.max_ongoing_requests) == ("More", 3, 2)
    assert (Plain.name, Plain.num_replicas) == ("Plain", 1)


def test_num_replicas_auto_means_default_autoscaling():
    auto = Plain.options(num_replicas="auto")
    assert auto.num_replicas is None
    cfg = auto.autoscaling_config
    assert (cfg.min_replicas, cfg.max_replicas, cfg.target_ongoing_requests) == (1, 100, 2.0)


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"num_replicas": -1}, ValueError, "num_replicas must be"),
        ({"num_replicas": "many"}, ValueError, "num_replicas must be"),
        ({"max_ongoing_requests": 0}, ValueError, "max_ongoing_requests must be"),
        ({"max_queued_requests": -5}, ValueError, "max_queued_requests must be"),
        ({"num_repliacs": 2}, TypeError, "Unknown deployment option"),
        ({"ray_actor_options": {"num_cpu": 1}}, ValueError, "unsupported key"),
        (
            {"num_replicas": 2, "autoscaling_config": {"max_replicas": 3}},
            ValueError,
            "Manually setting num_replicas is not allowed",
        ),
        ({"autoscaling_config": {"min_replicas": 3, "max_replicas": 2}}, ValueError, "<="),
        ({"autoscaling_config": {"target": 2}}, ValueError, "Unknown autoscaling_config"),
        ({"health_check_period_s": -1}, ValueError, "health_check_period_s"),
    ],
)
def test_bad_options_say_what_is_wrong(options, error, match):
    with pytest.raises(error, match=match):
        serve.deployment(**options)(Plain.func_or_class)


def test_a_deployment_cannot_be_called_directly():
    with pytest.raises(RuntimeError, match=r"Use `deployment.bind\(\)` instead"):
        Plain()


def test_function_deployments_take_no_constructor_arguments():
    @serve.deployment
    def hello(request):
        return "hi"

    assert hello.name == "hello"
    with pytest.raises(ValueError, match="takes no constructor arguments"):
        hello.bind(1)


def test_run_refuses_what_is_not_an_application():
    with pytest.raises(TypeError, match=r"Call Plain.bind\(...\)"):
        serve.run(Plain)


def test_http_options_are_checked():
    with pytest.raises(ValueError, match="port must be in"):
        serve.HTTPOptions(port=70000)
    with pytest.raises(ValueError, match="Unknown http_options"):
        serve.HTTPOptions.from_user({"prot": 1})
    assert serve.HTTPOptions().host == "127.0.0.1"
    assert serve.HTTPOptions().port == 8000


def test_batch_checks_its_function():
    with pytest.raises(TypeError, match="must be 'async def'"):

        @serve.batch
        def not_async(items):
            return items

    with pytest.raises(ValueError, match="max_batch_size"):
        serve.batch(max_batch_size=0)
