"""In a notebook, each execution shows one live progress widget (updated in place, not a new
output per block) whose text form names the operators only, so stored outputs stay stable."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

RUNTIME = str(Path(__file__).resolve().parents[2] / "runtime")


@pytest.mark.timeout(180)
def test_one_progress_widget_per_execution(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([RUNTIME, os.environ.get("PYTHONPATH", "")]))
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import rayground as ray\nray.init(num_cpus=2)"),
        nbformat.v4.new_code_cell(
            "ds = ray.data.range(200, override_num_blocks=40).map(lambda r: r)\n"
            "n = sum(1 for _ in ds.iter_rows())\nprint(n)"
        ),
        nbformat.v4.new_code_cell("print(ds.count())\nprint(ds.count())"),
        nbformat.v4.new_code_cell(
            "ray.data.DataContext.get_current().enable_progress_bars = False\nprint(ds.count())"
        ),
        nbformat.v4.new_code_cell("ray.shutdown()"),
    ]
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()

    def widgets(cell):
        return [o for o in cell.outputs if o.output_type == "display_data"]

    first = widgets(nb.cells[1])
    assert len(first) == 1  # 40 blocks, one display
    data = first[0]["data"]
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["text/plain"] == "Dataset execution: ReadRange->Map(<lambda>)"
    assert "200" in "".join(o.get("text", "") for o in nb.cells[1].outputs)
    assert len(widgets(nb.cells[2])) == 2  # two executions, two displays
    assert widgets(nb.cells[3]) == []  # turned off
