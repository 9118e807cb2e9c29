"""The live trials view: what its table and plot show after a real ASHA run, and its fixed
text form (what nbval compares)."""

from __future__ import annotations

import pytest

import rayground
from _needs import need_module
from rayground import tune
from rayground.tune.live import TrialsView, maybe_live_view, plot_svg, table_html, trial_rows
from rayground.tune.schedulers import ASHAScheduler

need_module("ipywidgets", "ipywidgets is not installed: the `jupyter` extra")


def curve(config):
    for step in range(1, 9):
        tune.report({"loss": config["x"] + 1.0 / step})


@pytest.fixture(scope="module", autouse=True)
def cluster():
    rayground.init(num_cpus=2)
    yield
    rayground.shutdown()


def test_the_view_shows_each_trial_and_why_asha_stopped_it(tmp_path):
    view = TrialsView("loss", "min")
    tune.Tuner(
        curve,
        param_space={"x": tune.grid_search([0.0, 1.0, 2.0, 3.0])},
        tune_config=tune.TuneConfig(
            metric="loss",
            mode="min",
            max_concurrent_trials=1,
            scheduler=ASHAScheduler(max_t=8, grace_period=2, reduction_factor=2),
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path), callbacks=[view], verbose=0),
    ).fit()
    rows = trial_rows(view._trials, "loss", "min")
    assert [r["status"] for r in rows] == ["TERMINATED"] * 4
    assert [r["iter"] for r in rows] == [8, 2, 2, 2]
    assert rows[1]["why"] == (
        "stopped by ASHA at rung 2: loss 1.5 was worse than the rung's cutoff 0.5"
    )
    assert rows[0]["why"].startswith("stopped by ASHA at max_t")
    assert rows[0]["best"] == pytest.approx(0.125) and rows[0]["config"] == "x=0"
    html = view._table.value
    assert "4 trials" in html and "rung 2: loss 1.5" in html
    assert view._plot.value.count("<polyline") == 4
    assert [len(c) for c in view.curves.values()] == [8, 2, 2, 2]
    assert view.widget._repr_mimebundle_()["text/plain"] == "Tune trials (live view)"


def test_pure_renderers_escape_and_handle_no_data():
    rows = [
        {
            "trial": "t<1>",
            "status": "RUNNING",
            "config": "a=1",
            "iter": 1,
            "last": 0.5,
            "best": 0.5,
            "why": "",
        }
    ]
    assert "t&lt;1&gt;" in table_html(rows, "loss")
    assert plot_svg({}, "loss") == ""


def test_no_view_outside_a_notebook_or_with_verbose_zero():
    assert maybe_live_view(None, "loss", "min") is None
    assert maybe_live_view(0, "loss", "min") is None
