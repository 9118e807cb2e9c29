"""Helpers for the course tests: find lessons and exercise cells, build test variants, execute."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat

from rayground.course.lesson import exercises_of

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
CHECK = re.compile(r'lesson\.check\("(?P<id>[a-z0-9_]+)",\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\)')


def lesson_stems() -> list[str]:
    return sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def read(stem: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / f"{stem}.ipynb", as_version=4)


def exercise_key(cell: nbformat.NotebookNode) -> str | None:
    if cell.cell_type != "code" or "exercise" not in cell.metadata.get("tags", []):
        return None
    return cell.metadata.get("rayground", {}).get("exercise_id")


def _code(source: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(source)


def with_answers(
    nb: nbformat.NotebookNode, solutions: dict[str, str], wrong: dict[str, list]
) -> nbformat.NotebookNode:
    """The lesson as a test runs it. For every exercise: the untouched placeholder must check as
    "not started"; then the exercise cell holds the reference solution and its check cell must
    say solved; then each wrong/sequential answer must be caught with the expected phrase; then
    the solution is defined again so later cells build on a correct answer."""
    out = copy.deepcopy(nb)
    cells = []
    key = None
    for cell in out.cells:
        this_key = exercise_key(cell)
        if this_key is not None:
            key = this_key
            stem, ex_id = key.split(":", 1)
            name = exercises_of(stem)[ex_id].answer
            cells.append(
                _code(
                    f"{cell.source}\n_v = lesson.check({ex_id!r}, {name})\n"
                    "assert _v.status == 'not started', _v\n"
                    "assert 'NotImplementedError' in _v.text(), _v\n_v"
                )
            )
            cell.source = solutions[key]
            cells.append(cell)
            continue
        match = CHECK.search(cell.source) if cell.cell_type == "code" else None
        if match is None or key is None:
            cells.append(cell)
            continue
        assert key.endswith(":" + match["id"]), f"check of {match['id']} follows exercise {key}"
        call = match.group(0)
        cell.source = f"_v = {call}\nassert _v.solved, _v\n_v"
        cells.append(cell)
        for label, source, phrase in wrong.get(key, []):
            # A phrase may be a tuple: what the feedback says on rayground, and on Ray where a
            # different record caught the same mistake.
            phrases = (phrase,) if isinstance(phrase, str) else tuple(phrase)
            cells.append(
                _code(
                    f"{source}\n_v = {call}\n"
                    f"assert _v.status == 'not solved yet', ({label!r}, _v)\n"
                    f"assert any(p in _v.text() for p in {phrases!r}), ({label!r}, _v)\n_v"
                )
            )
        cells.append(_code(solutions[key]))
        key = None
    out.cells = cells
    return out


def execute(nb: nbformat.NotebookNode, timeout: int = 90) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel (shut down afterwards, also on failure)."""
    from nbclient import NotebookClient

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
        shutdown_kernel="immediate",
    )
    client.execute()
    return nb


def on_real_ray(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The lesson as a learner would switch it to real Ray: the backend flag and the imports."""
    out = copy.deepcopy(nb)
    swaps = [
        ("%ray_init --num-cpus 4", "%ray_init --num-cpus 4 --backend ray"),
        ("import rayground as ray  # on real Ray: import ray", "import ray"),
        ("from rayground.util import state  # on real Ray: from ray.util import state",
         "from ray.util import state"),
        ("from rayground import serve  # on real Ray: from ray import serve",
         "from ray import serve"),
        ("from rayground import serve, tune  # on real Ray: from ray import serve, tune",
         "from ray import serve, tune"),
    ]  # fmt: skip
    for cell in out.cells:
        if cell.cell_type == "code":
            for old, new in swaps:
                cell.source = cell.source.replace(old, new)
    return out


def store_outputs(stem: str) -> None:
    """Run a lesson as a learner gets it and keep its outputs in the file (for the lessons that
    are compared strictly). Live views' cells (tag nbval-ignore-output) keep no output."""
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["RAYGROUND_PROGRESS_FILE"] = os.path.join(tmp, "progress.json")
        nb = execute(read(stem))
    for cell in nb.cells:
        cell.metadata.pop("execution", None)  # run timestamps: noise in every diff
        if cell.cell_type == "code" and "nbval-ignore-output" in cell.metadata.get("tags", []):
            cell.outputs = []
            cell.execution_count = None
    _keep_widget_state_in_use(nb)
    nbformat.write(nb, NOTEBOOKS / f"{stem}.ipynb")


def _keep_widget_state_in_use(nb: nbformat.NotebookNode) -> None:
    """Keep the saved state of the widgets the stored outputs show (the empty output areas that
    catch late worker lines) so JupyterLab can render them, and drop the rest (live views)."""
    import json

    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    models = state.get("state", {})
    wanted = [
        out["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in out.get("data", {})
    ]
    keep: dict = {}
    while wanted:
        model_id = wanted.pop()
        if model_id in keep or model_id not in models:
            continue
        keep[model_id] = models[model_id]
        wanted += re.findall(r"IPY_MODEL_([0-9a-f]+)", json.dumps(models[model_id]))
    if keep:
        state["state"] = keep
    else:
        nb.metadata.pop("widgets", None)


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 3 or sys.argv[1] != "--store-outputs":
        sys.exit("usage: python tests/course/course_notebooks.py --store-outputs NN_slug")
    store_outputs(sys.argv[2])
