"""Seed 001's Tune example runs on rayground in the forms that work on Ray."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


@pytest.mark.timeout(240)
def test_seed_001_tune_example(tmp_path):
    # No storage_path in the seed: results go to ~/ray_results, so HOME is a temporary folder.
    env = dict(os.environ, HOME=str(tmp_path), PYTHONPATH=str(REPO / "runtime"))
    proc = subprocess.run(
        [sys.executable, str(HERE / "seed_001_tune.py")],
        capture_output=True,
        text=True,
        timeout=220,
        env=env,
        cwd=tmp_path,
    )
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    assert "has no attribute 'get_best_result'" in out and "get_best_trial(metric, mode)" in out
    assert re.search(r"Best config: \{'lr': [\d.e-]+, 'hidden_size': (32|64|128|256)\}", out)
    assert re.search(r"Best loss: \d+\.\d{4}", out)
    assert "Best trial config matches: True" in out
    iters = [int(i) for i in re.search(r"iterations: \[([\d, ]+)\]", out).group(1).split(",")]
    assert len(iters) == 20 and set(iters) <= {5, 10, 20} and 5 in iters and 20 in iters
    assert "Tuner best config keys: ['hidden_size', 'lr']; loss is a float: True" in out
    assert (tmp_path / "ray_results").is_dir()
