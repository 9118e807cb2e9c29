"""rayground.tune on rayground alone: layering, exports, clear errors for bad input, the trial
actors in the views, printed output, and restore after the driver is SIGKILLed."""

from __future__ import annotations

import ast
import glob
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import rayground
from _needs import need_module
from rayground import tune

REPO = Path(__file__).resolve().parents[2]
TUNE_DIR = REPO / "runtime" / "rayground" / "tune"
RAY_TUNE = "real Ray's Tune is the `ray` extra"

try:
    from _procs import wait_until
except ImportError:  # pragma: no cover - tests/ is on sys.path under pytest
    from tests._procs import wait_until


# ---------------------------------------------------------------- layering and exports
def test_tune_uses_only_rayground_public_api():
    offenders = []
    for path in [*TUNE_DIR.rglob("*.py"), *(TUNE_DIR.parent / "train").rglob("*.py")]:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if node.level >= 2 and module.startswith("_core"):
                    names = ["rayground." + module]
                names.append(module)
            offenders += [f"{path.name}: {n}" for n in names if "_core" in n.split(".")]
    assert offenders == []


def test_import_rayground_does_not_import_tune_and_the_attribute_loads_it():
    code = (
        "import sys, rayground; print('rayground.tune' in sys.modules); "
        "print(rayground.tune.__name__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout.split()
    assert out == ["False", "rayground.tune"]


@pytest.mark.ray
def test_every_export_is_a_ray_tune_name():
    ray_tune = need_module("ray.tune", RAY_TUNE)
    missing = [name for name in tune.__all__ if not hasattr(ray_tune, name)]
    assert missing == []


# ---------------------------------------------------------------- bad input, clear errors
def _fit(trainable, param_space, **tune_config):
    return tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(**tune_config),
        run_config=tune.RunConfig(storage_path=os.environ["TUNE_TEST_STORAGE"], verbose=0),
    ).fit()


@pytest.fixture
def storage_env(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNE_TEST_STORAGE", str(tmp_path))
    return tmp_path


def noop(config):
    tune.report({"loss": 0.0})


def test_a_search_space_function_not_called_is_named_with_its_path(storage_env):
    with pytest.raises(TypeError, match=r"config\['opt'\]\['lr'\] is tune.loguniform itself"):
        _fit(noop, {"opt": {"lr": tune.loguniform}})


@pytest.mark.ray
def test_a_foreign_search_space_type_is_rejected():
    sample = need_module("ray.tune.search.sample", RAY_TUNE)
    from rayground.tune.search.variant_generator import split_spec

    with pytest.raises(TypeError, match=r"config\['lr'\] is a ray.tune.search.sample.Float"):
        split_spec({"lr": sample.uniform(0, 1)})


def test_grid_search_of_a_non_list_is_rejected():
    from rayground.tune.search.variant_generator import split_spec

    with pytest.raises(TypeError, match="grid_search expects a list"):
        split_spec({"x": tune.grid_search(3)})


def test_bad_domain_arguments_say_what_to_pass():
    with pytest.raises(ValueError, match="greater than 0"):
        tune.loguniform(0, 1)
    with pytest.raises(TypeError, match=r"tune.choice\(\[32, 64, 128\]\)"):
        tune.choice(5)


def test_a_trial_larger_than_the_cluster_is_an_error_not_a_hang(storage_env):
    rayground.init(num_cpus=1)
    try:
        with pytest.raises(tune.TuneError, match=r"asks for .*CPU.*lower resources_per_trial"):
            _fit(tune.with_resources(noop, {"cpu": 4}), {})
    finally:
        rayground.shutdown()


def test_report_outside_a_trial_says_where_to_call_it():
    with pytest.raises(RuntimeError, match="outside a Tune trial"):
        tune.report({"loss": 1.0})
    with pytest.raises(TypeError, match=r"tune.report\(\{'loss': loss\}\)"):
        tune.report(0.5)  # type: ignore[arg-type]


# ---------------------------------------------------------------- ASHA: Ray's rule, exactly
@pytest.mark.ray
def test_asha_bracket_decides_as_rays_bracket_on_random_streams():
    """Random interleavings of trial results fed to our bracket and Ray 2.60's: same decisions,
    same rungs."""
    hypothesis = need_module("hypothesis", "hypothesis is not installed: the `test` extra")
    ray_asha = need_module("ray.tune.schedulers.async_hyperband", RAY_TUNE)
    from hypothesis import strategies as st

    from rayground.tune.schedulers.async_hyperband import _Bracket

    class T:
        def __init__(self, trial_id):
            self.trial_id = trial_id

    events = st.lists(
        st.tuples(
            st.integers(0, 5),
            st.integers(1, 30),
            st.floats(-10, 10, allow_nan=False),
        ),
        max_size=60,
    )

    @hypothesis.settings(max_examples=200, deadline=None)
    @hypothesis.given(
        events,
        st.sampled_from([1, 2, 3]),
        st.sampled_from([2, 3, 4]),
        st.integers(0, 1),
        st.booleans(),
    )
    def check(stream, grace, rf, s, stop_last):
        ours = _Bracket(grace, 27, rf, s, stop_last)
        theirs = ray_asha._Bracket(grace, 27, rf, s, stop_last)
        for trial, t, value in stream:
            action, _, _ = ours.on_result(T(str(trial)), t, value)
            assert action == theirs.on_result(T(str(trial)), t, value)
        assert [(m, r) for m, r in ours._rungs] == [(m, r) for m, r in theirs._rungs]

    check()


@pytest.mark.ray
def test_variant_order_matches_rays_generator():
    ray_variants = need_module("ray.tune.search.variant_generator", RAY_TUNE)
    from rayground.tune.search.variant_generator import generate_variants

    spec = {"a": {"grid_search": [1, 2, 3]}, "n": {"b": {"grid_search": ["x", "y"]}}, "c": 7}
    ours = [cfg for _, cfg in generate_variants(spec)]
    theirs = [cfg for _, cfg in ray_variants.generate_variants(spec)]
    assert ours == theirs


# ---------------------------------------------------------------- trials in the views
def test_trials_are_actors_named_after_the_trainable_and_print_with_its_prefix(tmp_path):
    script = tmp_path / "driver.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import rayground as ray
            from rayground import tune
            from rayground.util.state import list_actors

            def train_fn(config):
                print(f"hello from trial x={{config['x']}}")
                tune.report({{"loss": float(config["x"])}})

            ray.init(num_cpus=2)
            grid = tune.Tuner(train_fn, param_space={{"x": tune.grid_search([1, 2])}},
                              run_config=tune.RunConfig(storage_path={str(tmp_path)!r},
                                                        verbose=0)).fit()
            print("ACTORS", sorted({{a.class_name for a in list_actors()}}), flush=True)
            ray.shutdown()
            """
        )
    )
    env = dict(os.environ, PYTHONPATH=str(REPO / "runtime"))
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env
    )
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    hellos = [ln for ln in lines if re.fullmatch(r"\(train_fn pid=\d+\) hello from trial x=\d", ln)]
    assert len(hellos) == 2, out.stdout
    # The trials, and the live views' library status board (rayground.util.library_status).
    assert "ACTORS ['LibraryStatusBoard', 'train_fn']" in lines


# ---------------------------------------------------------------- restore after SIGKILL
TRAINABLE = """
import os, tempfile, time
from rayground import tune

def train_fn(config):
    marks = config["marks"]
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            start = int(open(os.path.join(d, "step")).read())
    for step in range(start + 1, 7):
        if step == 4:
            open(os.path.join(marks, f"reached-{config['x']}"), "w").close()
            deadline = time.monotonic() + 120
            while not os.path.exists(os.path.join(marks, "go")):
                if time.monotonic() > deadline:
                    raise TimeoutError("the test never let the trial go on")
                time.sleep(0.05)
        with tempfile.TemporaryDirectory() as d:
            open(os.path.join(d, "step"), "w").write(str(step))
            tune.report({"loss": 1.0 / step, "started_at": start},
                        checkpoint=tune.Checkpoint.from_directory(d))
"""

FIRST_DRIVER = """
import sys
sys.path.insert(0, {here!r})
import rayground as ray
from rayground import tune
from tune_kill_trainable import train_fn

ray.init(num_cpus=2)
tune.Tuner(
    train_fn,
    param_space={{"x": tune.grid_search([1, 2, 3]), "marks": {marks!r}}},
    run_config=tune.RunConfig(storage_path={storage!r}, name="killed", verbose=0),
).fit()
"""

RESUME_DRIVER = """
import json, sys
sys.path.insert(0, {here!r})
import rayground as ray
from rayground import tune
from tune_kill_trainable import train_fn

ray.init(num_cpus=2)
path = {storage!r} + "/killed"
assert tune.Tuner.can_restore(path)
grid = tune.Tuner.restore(path, trainable=train_fn).fit()
print("RESULT", json.dumps([
    {{"x": r.config["x"], "iter": r.metrics["training_iteration"],
      "started_at": r.metrics["started_at"], "error": repr(r.error)}} for r in grid
]), flush=True)
ray.shutdown()
"""


def _running_with_checkpoints(exp_dir: Path) -> bool:
    states = glob.glob(str(exp_dir / "experiment_state-*.json"))
    if not states:
        return False
    with open(states[0]) as f:
        trials = json.load(f)["trials"]
    iters = sorted(t["last_result"].get("training_iteration", 0) for t in trials)
    return iters == [0, 3, 3]


@pytest.mark.timeout(300)
def test_restore_resumes_unfinished_trials_after_the_driver_is_killed(tmp_path):
    (tmp_path / "tune_kill_trainable.py").write_text(TRAINABLE)
    marks, storage = tmp_path / "marks", tmp_path / "results"
    marks.mkdir()
    fmt = {"here": str(tmp_path), "marks": str(marks), "storage": str(storage)}
    (tmp_path / "first.py").write_text(FIRST_DRIVER.format(**fmt))
    (tmp_path / "resume.py").write_text(RESUME_DRIVER.format(**fmt))
    env = dict(os.environ, PYTHONPATH=str(REPO / "runtime"))
    first = subprocess.Popen(
        [sys.executable, str(tmp_path / "first.py")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until(
            lambda: (marks / "reached-1").exists() and (marks / "reached-2").exists(),
            timeout=120,
            message="the first two trials never reached step 4",
        )
        wait_until(
            lambda: _running_with_checkpoints(storage / "killed"),
            timeout=30,
            message="the saved state never showed both trials at their step-3 checkpoint",
        )
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
    assert first.returncode == -signal.SIGKILL

    (marks / "go").touch()
    resumed = subprocess.run(
        [sys.executable, str(tmp_path / "resume.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    line = next(ln for ln in resumed.stdout.splitlines() if ln.startswith("RESULT "))
    rows = sorted(json.loads(line[len("RESULT ") :]), key=lambda r: r["x"])
    assert rows == [
        {"x": 1, "iter": 6, "started_at": 3, "error": "None"},
        {"x": 2, "iter": 6, "started_at": 3, "error": "None"},
        {"x": 3, "iter": 6, "started_at": 0, "error": "None"},
    ]
