"""What the state API shows after a scheduler stops trials early, on rayground and real Ray:
every call to a trial's actor FINISHED (none FAILED: a stopped trial is no error), and the
trial actors DEAD once the experiment is over. The views read the same records.

Real Ray serves the state API from its dashboard (``include_dashboard=True``; see
tests/compat/test_state.py); it reports task events with a delay, so the check polls.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import pytest

RAY_INIT_KWARGS = {"include_dashboard": True}


# the state API fixture of tests/compat/test_state.py (RAY_ADDRESS pointed at this cluster)
_spec = importlib.util.spec_from_file_location(
    "_tune_state_compat", Path(__file__).resolve().parents[1] / "compat" / "test_state.py"
)
assert _spec is not None and _spec.loader is not None
_state_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_state_module)
state = _state_module.state


def stopped_early(config):
    tune = importlib.import_module(config["_backend"] + ".tune")
    for step in range(1, 9):
        tune.report({"loss": config["x"] * (1 + 1 / step)})


@pytest.mark.timeout(300)
def test_trials_stopped_by_asha_leave_no_failed_calls(
    ray, tune, schedulers, run_config, state, wait_until
):
    grid = tune.Tuner(
        stopped_early,
        param_space={"_backend": ray.__name__, "x": tune.grid_search([1.0, 2.0, 3.0, 4.0])},
        tune_config=tune.TuneConfig(
            metric="loss",
            mode="min",
            scheduler=schedulers.ASHAScheduler(max_t=8, grace_period=2, reduction_factor=2),
        ),
        run_config=run_config("asha_state"),
    ).fit()
    assert grid.num_errors == 0
    assert min(r.metrics["training_iteration"] for r in grid) < 8  # some were stopped early
    trial_classes = {"stopped_early", "ImplicitFunc"}  # Ray names some trial actors so

    def settled():
        actors = [a for a in state.list_actors(limit=1000) if a.class_name in trial_classes]
        ids = {a.actor_id for a in actors}
        calls = [t for t in state.list_tasks(limit=10000) if t.actor_id in ids]
        done = all(a.state == "DEAD" for a in actors) and all(
            t.state in ("FINISHED", "FAILED") for t in calls
        )
        return (actors, calls) if actors and calls and done else None

    _, calls = wait_until(settled, timeout=60, interval=0.5, message="trial actors ended")
    failed = [(t.name, t.state) for t in calls if t.state == "FAILED"]
    assert failed == []
    assert {t.state for t in calls} == {"FINISHED"}
