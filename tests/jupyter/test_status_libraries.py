"""`%ray_status` in a real kernel shows what the libraries run: a Tune experiment's trials and a
Data pipeline, from the cluster's library status board (and nothing when none ran)."""

from __future__ import annotations

from kernel import Kernel

TUNE = """
from rayground import tune

def trainable(config):
    for i in range(2):
        tune.report({"loss": config["x"] + i})

tune.Tuner(
    trainable,
    param_space={"x": tune.grid_search([1, 2, 3])},
    tune_config=tune.TuneConfig(metric="loss", mode="min"),
    run_config=tune.RunConfig(name="status_exp", verbose=0),
).fit()
print(ray.data.range(100, override_num_blocks=2).map(lambda r: r).count())
"""


def test_ray_status_lists_the_libraries(kernel: Kernel) -> None:
    before = kernel.run("%ray_status --static").text
    assert "Tune" not in before and "Data pipeline" not in before
    assert kernel.run(TUNE, timeout=120).stdout.strip().endswith("100")
    lines = kernel.run("%ray_status --static").text.splitlines()
    assert "Tune experiment status_exp: FINISHED (TERMINATED 3)" in lines
    assert "Data pipeline ReadRange->Map(<lambda>): FINISHED" in lines
    # The board's own actor calls are no tasks of the learner's: the task graph leaves them out.
    assert "LibraryStatusBoard" not in kernel.run("%ray_dag --static").text
