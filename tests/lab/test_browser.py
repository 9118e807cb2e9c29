"""The panel in a real browser: Playwright (Python) driving Debian's chromium against JupyterLab.

JupyterLab runs on 127.0.0.1 in a temporary root holding a notebook and two lessons. The test
runs the notebook (%ray_init, a small task graph, the %ray_dag widget), opens the rayground
panel with the "Open the panel" link in %ray_init's output and checks that it found that
notebook's cluster by itself and shows its tasks; then the course list, opening a lesson, and
starting and stopping a cluster from the panel. Screenshots go to test-artifacts/lab/
(RAYGROUND_TEST_ARTIFACTS to change), which git ignores. test_notebook7.py does the views in
Notebook 7.

Playwright cannot download its own browser here; it launches /usr/bin/chromium
(RAYGROUND_CHROMIUM to change). Without chromium or playwright the test skips with the reason;
CI installs both (scripts/setup.sh), so there it runs.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _labhelpers import (
    BROWSER_TIMEOUT_MS,
    GRAPH_CELL,
    Server,
    code_cell,
    fresh_artifacts,
    markdown_cell,
    needs_chromium,
    notebook_json,
    start_server,
    stop_server,
)

pytestmark = [pytest.mark.timeout(300), needs_chromium]

NOTEBOOK_CELLS = [
    "%load_ext rayground\n%ray_init --num-cpus 2\nimport rayground as ray",
    GRAPH_CELL + "print('total =', ray.get(total))",
    "%ray_dag",
]
BIG_CELL = (
    "@ray.remote\n"
    "def tiny(i):\n"
    "    return i\n"
    "\n"
    "@ray.remote\n"
    "def add_up(*xs):\n"
    "    return sum(xs)\n"
    "\n"
    "refs = [tiny.remote(i) for i in range(10_000)]\n"
    "sums = [add_up.remote(*refs[i : i + 100]) for i in range(0, 10_000, 100)]\n"
    "print('big total =', sum(ray.get(sums)))"
)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Server]:
    labext = Path(sys.prefix) / "share/jupyter/labextensions/@rayground/lab/package.json"
    assert labext.is_file(), (
        f"the lab extension is not installed ({labext} missing): run bash scripts/setup.sh"
    )
    root = tmp_path / "root"
    (root / "notebooks").mkdir(parents=True)
    (root / "demo.ipynb").write_text(
        notebook_json([code_cell(c) for c in [*NOTEBOOK_CELLS, BIG_CELL]])
    )
    (root / "notebooks" / "00_welcome.ipynb").write_text(
        notebook_json([markdown_cell("# Welcome to rayground\n\nStart here.")])
    )
    (root / "notebooks" / "01_tasks.ipynb").write_text(
        notebook_json(
            [
                markdown_cell("# Remote functions"),
                code_cell(
                    "# your answer",
                    tags=["exercise"],
                    rayground={"exercise_id": "01_tasks:square"},
                ),
                code_cell("# more", tags=["exercise"], rayground={"exercise_id": "01_tasks:map"}),
            ]
        )
    )
    (tmp_path / "progress.json").write_text(
        json.dumps(
            {
                "version": 1,
                "exercises": {
                    "01_tasks:square": {
                        "status": "solved",
                        "attempts": 1,
                        "updated": "2026-11-23T10:00:00Z",
                    }
                },
            }
        )
    )
    server = start_server(tmp_path, app="lab")
    try:
        yield server
    finally:
        stop_server(server)


def test_panel_finds_the_notebooks_cluster_and_shows_its_tasks(lab: Server, browser) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=BROWSER_TIMEOUT_MS)
    out = fresh_artifacts("", ("*.png", "*.log"))
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    try:
        page.goto(f"{lab.url}/lab/tree/demo.ipynb?token={lab.token}")
        page.wait_for_selector(".jp-Notebook .jp-Cell")
        # The kernel is connected once the status bar says so (the toolbar's indicator can
        # read idle earlier, and a cell run before the kernel is attached is dropped).
        expect(page.get_by_text(re.compile(r"Python 3 \(ipykernel\) \| Idle"))).to_be_visible()

        # Run the notebook as a learner would: the first cell, then the next (Shift+Enter).
        page.locator(".jp-Notebook .jp-Cell").first.click()
        page.keyboard.press("Escape")
        for _ in NOTEBOOK_CELLS:
            page.keyboard.press("Shift+Enter")
        expect(page.locator(".jp-Notebook .jp-InputPrompt").first).to_contain_text("[1]")
        page.wait_for_selector(".jp-OutputArea-output:has-text('total = 6')", timeout=90_000)
        # The notebook's own live DAG widget (%ray_dag) shows the same tasks.
        page.wait_for_selector(".jp-OutputArea-output:has-text('Task graph: 7 task(s)')")

        # The panel has its tab in the left bar; %ray_init's output links to it: a click on
        # "Open the panel" (run by JupyterLab's CommandLinker) shows it.
        expect(page.locator(".jp-SideBar [data-id='rayground-panel']")).to_have_count(1)
        panel = page.locator("[data-testid='rg-panel']")
        expect(panel).to_be_hidden()
        link = page.locator(".jp-OutputArea-output .rayground-open-panel")
        expect(link).to_have_count(1)  # %ray_init's; the views' widgets have none
        expect(link).to_be_visible()
        expect(link).to_have_text("Open the panel")
        link.click()
        expect(panel).to_be_visible()
        # It finds this notebook's cluster by itself, with no address.
        mine = panel.locator(".rg-cluster.rg-mod-mine.rg-mod-watched")
        mine.wait_for()
        assert "this notebook" in mine.inner_text()
        # The panel redraws its sections, so wait through locators (re-queried), not handles.
        expect(mine.locator("[data-testid='rg-resources']")).to_contain_text("CPU 0/2 in use")
        summary = panel.locator("[data-testid='rg-dag-summary']")
        expect(summary).to_contain_text("7 tasks")
        expect(summary).to_contain_text("7 finished")
        dag = panel.locator("[data-testid='rg-dag']")
        assert dag.locator(".rg-dag-node[data-name='load']").count() == 4
        assert dag.locator(".rg-dag-node[data-name='combine']").count() == 3
        assert dag.locator(".rg-dag-node[data-state='finished']").count() == 7
        assert dag.locator(".rg-dag-edge").count() == 6  # 4 loads -> 2 combines -> 1 combine
        functions = panel.locator("[data-testid='rg-functions']")
        expect(functions.locator("tr[data-function='load'] td").nth(1)).to_have_text("4")
        expect(functions.locator("tr[data-function='combine'] td").nth(1)).to_have_text("3")
        assert panel.locator("[data-testid='rg-store-fill']").count() == 1
        page.screenshot(path=str(out / "panel-dag.png"))
        panel.screenshot(path=str(out / "panel-only.png"))

        # A large DAG (10,100 more tasks) is grouped by function and stays quick to draw.
        page.locator(".jp-Notebook .jp-Cell").nth(len(NOTEBOOK_CELLS)).click()
        page.keyboard.press("Shift+Enter")
        page.wait_for_selector(".jp-OutputArea-output:has-text('big total = 49995000')")
        started = time.monotonic()
        expect(summary).to_contain_text("10107 tasks (grouped by function)")
        expect(summary).to_contain_text("10107 finished")
        caught_up = time.monotonic() - started
        assert dag.locator(".rg-dag-node").count() == 4  # load, combine, tiny, add_up
        expect(dag.locator(".rg-dag-node[data-label='tiny ×10000']")).to_have_count(1)
        print(f"panel caught up {caught_up:.1f} s after the 10,100-task cell finished")
        panel.screenshot(path=str(out / "panel-10k-grouped.png"))

        # The course: lessons with progress; a click opens the lesson.
        lessons = panel.locator("[data-testid='rg-lessons'] .rg-lesson")
        expect(lessons).to_have_count(2)
        assert "Welcome to rayground" in lessons.nth(0).inner_text()
        assert "1/2" in lessons.nth(1).inner_text()
        assert (
            "1 of 2 exercises solved"
            in panel.locator("[data-testid='rg-course-summary']").inner_text()
        )
        lessons.nth(1).click()
        page.wait_for_selector(".lm-TabBar-tab:has-text('01_tasks.ipynb')")
        page.screenshot(path=str(out / "lesson-opened.png"))

        # Start a cluster from the panel, then stop it.
        before = panel.locator(".rg-cluster").count()
        panel.locator("[data-testid='rg-cpus']").fill("1")
        panel.locator("[data-testid='rg-start']").click()
        started = panel.locator(".rg-cluster[data-kind='server']")
        started.wait_for()
        expect(started.locator("[data-testid='rg-resources']")).to_contain_text("CPU 0/1 in use")
        assert panel.locator(".rg-cluster").count() == before + 1
        page.screenshot(path=str(out / "panel-started-cluster.png"))
        started.locator("[data-testid='rg-stop']").click()
        started.wait_for(state="detached")
        assert panel.locator(".rg-cluster").count() == before
    except Exception:
        page.screenshot(path=str(out / "failure.png"))
        (out / "console.log").write_text("\n".join(console))
        (out / "jupyter.log").write_text(lab.log())
        raise
    finally:
        (out / "console.log").write_text("\n".join(console))
        context.close()
