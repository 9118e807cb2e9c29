"""The views in Notebook 7: Playwright driving Debian's chromium against `jupyter notebook`.

Notebook 7 is a different frontend from JupyterLab (its own shell, no side panel) that loads the
same widget manager and lab extensions. The test runs a notebook there (%load_ext, %ray_init, a
small task graph, %ray_dag, %ray_objects, then an actor, %ray_actors, %ray_timeline and
%ray_status) and checks what a learner sees: the DAG drawn as SVG with its nodes and edges, the
object table with an array's shape and dtype, a value shown on click, the actor's calls, the
task stream's bars (measured in the page), no widget error, and %ray_init's status saying where
the panel is (JupyterLab's left bar) with no "Open the panel" link that could do nothing here.
Screenshots go to test-artifacts/lab/notebook7/ (RAYGROUND_TEST_ARTIFACTS to change).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _labhelpers import (
    GRAPH_CELL,
    Server,
    fresh_artifacts,
    needs_chromium,
    open_page,
    serving_notebook,
)

from _needs import need_module

pytestmark = [pytest.mark.timeout(240), needs_chromium]

CELLS = [
    "%load_ext rayground\n%ray_init --num-cpus 2\nimport numpy as np\nimport rayground as ray",
    GRAPH_CELL + "grid = ray.put(np.arange(12, dtype=np.int64).reshape(3, 4))\n"
    "print('total =', ray.get(total))",
    "%ray_dag",
    "%ray_objects",
]
# Run after the checks above (they add an actor's tasks and objects to the live views).
MORE_CELLS = [
    "@ray.remote\n"
    "class Counter:\n"
    "    def __init__(self):\n"
    "        self.n = 0\n"
    "\n"
    "    def incr(self):\n"
    "        self.n += 1\n"
    "        return self.n\n"
    "\n"
    "counter = Counter.remote()\n"
    "print('count =', ray.get([counter.incr.remote() for _ in range(3)])[-1])",
    "%ray_actors",
    "%ray_timeline",
    "%ray_status",
]
FINISHED = "#3aa35c"  # dag.COLORS["finished"], the model's (tests/lab/fixtures/dag_model.json)


@pytest.fixture
def notebook7(tmp_path: Path) -> Iterator[Server]:
    need_module("notebook", "Notebook 7 is not installed (the `jupyter` extra has it)")
    labext = Path(sys.prefix) / "share/jupyter/labextensions/@rayground/lab/package.json"
    assert labext.is_file(), f"the lab extension is not installed ({labext}): bash scripts/setup.sh"
    with serving_notebook(tmp_path, "views.ipynb", [*CELLS, *MORE_CELLS], app="notebook") as nb:
        yield nb


def test_views_render_in_notebook7(notebook7: Server, browser) -> None:
    from playwright.sync_api import expect

    out = fresh_artifacts("notebook7", ("*.png", "*.log"))
    context, page, console = open_page(browser, 1400, 1100)
    kernel_frames: list[object] = []  # messages the page got on a kernel's WebSocket

    def on_socket(ws) -> None:
        if "/api/kernels/" in ws.url:
            ws.on("framereceived", lambda payload: kernel_frames.append(payload))

    page.on("websocket", on_socket)
    try:
        page.goto(f"{notebook7.url}/notebooks/views.ipynb?token={notebook7.token}")
        page.wait_for_selector(".jp-Notebook .jp-Cell")
        # Notebook 7's own shell, not JupyterLab's.
        expect(page.locator(".jp-LabShell")).to_have_count(0)
        # The kernel is attached once the toolbar names it, its indicator reads idle and it has
        # answered on its WebSocket (the indicator alone can read idle before that).
        expect(page.locator(".jp-Toolbar").get_by_text("Python 3 (ipykernel)")).to_be_visible()
        expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(1)
        for _ in range(600):  # Playwright delivers events while the page waits: up to 60 s
            if kernel_frames:
                break
            page.wait_for_timeout(100)
        assert kernel_frames, "the kernel's WebSocket carried no message within 60 s"

        page.locator(".jp-Notebook .jp-Cell").first.click()
        page.keyboard.press("Escape")
        for _ in CELLS:
            page.keyboard.press("Shift+Enter")
        cells = page.locator(".jp-Notebook .jp-Cell")
        # A cell's own output area (an Output widget inside it is a .jp-OutputArea too).
        expect(cells.nth(1).locator(".jp-Cell-outputArea")).to_contain_text(
            "total = 6", timeout=90_000
        )

        # %ray_init: the status says where the panel is; Notebook 7 has none, so no link shows.
        status = cells.nth(0).locator(".rayground-status")
        expect(status).to_contain_text("rayground cluster (started by this kernel)")
        expect(status).to_contain_text("CPUs 2")
        expect(status.locator(".rayground-panel-hint")).to_contain_text("JupyterLab's left bar")
        expect(status.locator(".rayground-open-panel")).to_have_count(1)
        expect(status.locator(".rayground-open-panel")).to_be_hidden()

        # %ray_dag: the widget (not its text/plain fallback): the extension's own DAG view
        # (bundled for anywidget), laid out by dagre; a click on a node shows its details.
        dag = cells.nth(2).locator(".jupyter-widgets.widget-vbox").first
        expect(dag.locator(".widget-html").first).to_contain_text("Task graph: 7 task(s)")
        svg = dag.locator("svg.rg-dag")
        expect(svg).to_have_count(1)
        expect(svg.locator(".rg-dag-node")).to_have_count(7)
        finished = svg.locator(f".rg-dag-node[data-state='finished'] rect[fill='{FINISHED}']")
        expect(finished).to_have_count(7)
        expect(svg.locator("text", has_text=re.compile(r"^load #\d$"))).to_have_count(4)
        expect(svg.locator("text", has_text=re.compile(r"^combine #\d$"))).to_have_count(3)
        expect(svg.locator("path.rg-dag-edge")).to_have_count(6)
        box = svg.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 60, box
        svg.locator(".rg-dag-node[data-label='combine #3']").click()
        details = dag.locator("[data-testid='rg-dag-details']")
        expect(details).to_contain_text("arguments from")
        expect(details).to_contain_text("combine #1, combine #2")
        expect(details).to_contain_text("FINISHED")
        # The click asked the kernel for the result (`total` still holds it): a preview.
        expect(details).to_contain_text("int: 6")
        dag.screenshot(path=str(out / "dag.png"))

        # %ray_objects: the store's fill bar and one row per object, the array with its shape.
        objects = cells.nth(3).locator(".jupyter-widgets.widget-vbox").first
        expect(objects.locator(".widget-hprogress, .widget-progress")).not_to_have_count(0)
        expect(objects).to_contain_text("8 object(s)")  # 7 task results + the array
        table = objects.locator(".widget-gridbox")
        expect(table).to_contain_text("type / preview")
        expect(table.get_by_text("(3, 4)", exact=True)).to_be_visible()
        expect(table.get_by_text("int64", exact=True)).to_be_visible()
        expect(table.get_by_text("int: 6", exact=True)).to_be_visible()
        expect(table.get_by_role("button", name="show")).to_have_count(8)
        # The table fits the output area: nothing hidden behind a horizontal scroll.
        widths = table.evaluate("g => [g.scrollWidth, g.clientWidth]")
        assert widths[0] <= widths[1], f"object table overflows: {widths}"
        objects.screenshot(path=str(out / "objects.png"))
        # "show" on the array's row (the grid's cells run row by row, the button last) puts the
        # value itself under the table.
        grid = table.locator(":scope > *")
        columns = 9
        row = [t.strip() for t in grid.all_inner_texts()].index("(3, 4)") // columns
        grid.nth(row * columns + columns - 1).click()
        expect(objects.locator(".widget-output")).to_contain_text(
            re.compile(r"\[\s*8,\s+9,\s+10,\s+11\]\]")
        )

        # The actors, the task stream (%ray_timeline) and the status widget.
        first_more = len(CELLS)
        cells.nth(first_more).locator(".jp-InputPrompt").click()  # the click above left cell 3
        page.keyboard.press("Escape")
        for _ in MORE_CELLS:
            page.keyboard.press("Shift+Enter")
        expect(cells.nth(first_more).locator(".jp-Cell-outputArea")).to_contain_text("count = 3")
        actors = cells.nth(first_more + 1).locator(".widget-html").first
        expect(actors).to_contain_text("Actors: 1")
        expect(actors.locator("tr", has_text="Counter")).to_contain_text("ALIVE")
        expect(actors.locator("tr", has_text="Counter").locator("td").nth(4)).to_have_text("3")
        actors.screenshot(path=str(out / "actors.png"))
        stream = cells.nth(first_more + 2).locator("[data-testid='rg-stream']")
        expect(stream).to_be_visible()
        # 7 graph tasks and 3 actor calls, each a bar on its worker's lane, visibly wide.
        bars = stream.locator(".rg-stream-bar")
        expect(bars).to_have_count(10)
        expect(stream.locator(".rg-stream-bar[data-function='Counter.incr']")).to_have_count(3)
        widths = bars.evaluate_all(
            "gs => gs.map(g => g.querySelector('rect').getBoundingClientRect().width)"
        )
        assert min(widths) >= 2, widths
        expect(stream.locator(".rg-stream-lane")).not_to_have_count(0)
        stream.screenshot(path=str(out / "stream.png"))
        status = cells.nth(first_more + 3).locator(".widget-html").first
        expect(status).to_contain_text("rayground cluster (started by this kernel)")
        expect(status).to_contain_text("actors: 1 alive")
        expect(status.locator(".rayground-open-panel")).to_have_count(0)  # none in widgets
        status.screenshot(path=str(out / "status.png"))
        page.screenshot(path=str(out / "notebook7-views.png"), full_page=True)

        # The dark theme (from Notebook 7's command palette): the views draw on it.
        page.keyboard.press("Escape")
        page.keyboard.press("Control+Shift+C")
        page.locator(".lm-CommandPalette-input").fill("Use Theme: JupyterLab Dark")
        page.locator(".lm-CommandPalette-item.lm-mod-active").first.wait_for()
        page.keyboard.press("Enter")
        page.wait_for_function("document.body.dataset.jpThemeLight === 'false'")
        for view in (dag.locator(".rg-dagview-viewport"), stream.locator(".rg-stream-viewport")):
            color = view.evaluate("el => getComputedStyle(el).backgroundColor")
            r, g, b = (int(x) for x in re.findall(r"\d+", color)[:3])
            assert (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255 < 0.35, color
        dag.screenshot(path=str(out / "dag-dark.png"))
        stream.screenshot(path=str(out / "stream-dark.png"))

        # No widget failed to render, and the lab extension loaded without failing.
        assert page.get_by_text("Error displaying widget").count() == 0
        assert page.locator(".widget-error").count() == 0
        bad = [
            m
            for m in console
            if m.startswith(("error", "pageerror")) and re.search(r"widget|rayground", m, re.I)
        ]
        assert not bad, bad
    except Exception:
        page.screenshot(path=str(out / "failure.png"), full_page=True)
        (out / "jupyter.log").write_text(notebook7.log())
        raise
    finally:
        (out / "console.log").write_text("\n".join(console))
        context.close()
