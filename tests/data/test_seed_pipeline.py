"""Seed 001's pipeline (read_parquet -> map_batches(pandas) -> filter -> write_parquet -> count)
runs unchanged on rayground, in a fresh interpreter, and writes what it says it processed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent


def test_seed_001_pipeline_runs_unchanged(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(HERE.parents[1] / "runtime"), *filter(None, [env.get("PYTHONPATH")])]
    )
    proc = subprocess.run(
        [sys.executable, str(HERE / "seed_001_data.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # Rows whose text is longer than 50 characters: "word " * k stripped has 5k - 1 chars.
    expected = sum(1 for part in range(3) for i in range(40) if 5 * ((part * 7 + i) % 30) - 1 > 50)
    match = re.search(r"Processed (\d+) records", proc.stdout)
    assert match and int(match.group(1)) == expected, proc.stdout
    written = pq.read_table(tmp_path / "processed")
    assert written.num_rows == expected
    assert set(written.column_names) == {"text", "text_length"}
    assert min(written.column("text_length").to_pylist()) > 50
