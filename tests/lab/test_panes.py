"""The main-area panes in a real browser (JupyterLab in Debian's chromium, driven by Playwright):
each view opens from the panel or the command palette as a dockable pane; the task stream of a
run of 1 ms tasks has visible bars (measured in the page); the DAG of a 200-task graph has no
overlapping nodes (measured in the page); a pane follows the notebook's cluster through a kernel
restart; the dark theme is respected. Screenshots of every pane, light and dark, go to
test-artifacts/lab/panes/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from _labhelpers import (
    Server,
    fresh_artifacts,
    luminance,
    needs_chromium,
    open_page,
    palette,
    serving_notebook,
)

pytestmark = [pytest.mark.timeout(300), needs_chromium]

CELLS = [
    "%load_ext rayground\n%ray_init --num-cpus 2\nimport time\nimport numpy as np\n"
    "import rayground as ray",
    # 40 tasks of 1 ms each.
    "@ray.remote\ndef tiny(i):\n    time.sleep(0.001)\n    return i\n"
    "print('tiny', len(ray.get([tiny.remote(i) for i in range(40)])))",
    # A 200-task graph: 100 maps, 50 pairwise combines, 50 summaries of two combines each.
    "@ray.remote\ndef load(i):\n    return i\n"
    "@ray.remote\ndef combine(a, b):\n    return a + b\n"
    "@ray.remote\ndef summarise(a, b):\n    return a - b\n"
    "maps = [load.remote(i) for i in range(100)]\n"
    "pairs = [combine.remote(maps[2 * i], maps[2 * i + 1]) for i in range(50)]\n"
    "sums = [summarise.remote(pairs[i], pairs[(i * 7) % 50]) for i in range(50)]\n"
    "print('graph', len(ray.get(sums)))",
    # An array the driver keeps (the object store pane explains why memory stays used).
    "big = ray.put(np.zeros(4_000_000))\nview = ray.get(big)\nprint('kept', view.nbytes)",
]
AFTER_RESTART = "@ray.remote\ndef again(i):\n    return i\nprint('again', ray.get(again.remote(3)))"


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Server]:
    with serving_notebook(tmp_path, "panes.ipynb", [*CELLS, AFTER_RESTART]) as server:
        yield server


OVERLAPS_JS = """
nodes => {
  const boxes = nodes.map(n => n.querySelector('rect').getBoundingClientRect());
  let overlaps = 0;
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i], b = boxes[j];
      if (a.left < b.right - 0.5 && b.left < a.right - 0.5 &&
          a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5) overlaps++;
    }
  }
  return {count: boxes.length, overlaps,
          minWidth: Math.min(...boxes.map(b => b.width)),
          minHeight: Math.min(...boxes.map(b => b.height))};
}
"""

BARS_JS = """
bars => bars.map(g => {
  const r = g.querySelector('rect.rg-stream-run').getBoundingClientRect();
  const track = g.closest('svg').querySelector('rect.rg-stream-track').getBoundingClientRect();
  return {width: r.width, height: r.height, left: r.left - track.left, track: track.width,
          start: Number(g.dataset.start), end: Number(g.dataset.end),
          inside: r.left >= track.left - 1 && r.right <= track.right + 1};
})
"""


def test_panes_open_measure_and_follow_a_kernel_restart(lab: Server, browser) -> None:
    from playwright.sync_api import expect

    out = fresh_artifacts("panes", ("*.png", "*.log"))
    context, page, console = open_page(browser, 1600, 1000)
    try:
        page.goto(f"{lab.url}/lab/tree/panes.ipynb?token={lab.token}")
        page.wait_for_selector(".jp-Notebook .jp-Cell")
        expect(page.get_by_text(re.compile(r"Python 3 \(ipykernel\) \| Idle"))).to_be_visible()
        cells = page.locator(".jp-Notebook .jp-Cell")
        cells.first.click()
        page.keyboard.press("Escape")
        page.keyboard.press("Shift+Enter")  # %ray_init
        page.keyboard.press("Shift+Enter")  # the 1 ms tasks
        expect(cells.nth(1).locator(".jp-Cell-outputArea")).to_contain_text(
            "tiny 40", timeout=90_000
        )

        # The panel (left bar) is compact; its buttons open the views in the main area.
        page.locator(".jp-SideBar [data-id='rayground-panel']").click()
        panel = page.locator("[data-testid='rg-panel']")
        expect(panel.locator(".rg-cluster.rg-mod-mine.rg-mod-watched")).to_have_count(1)

        # The task stream, from the command palette: 40 bars of 1 ms, each visibly wide.
        palette(page, "Open the rayground task stream")
        stream = page.locator("[data-testid='rg-pane-stream']")
        expect(stream).to_be_visible()
        bars = stream.locator(".rg-stream-bar[data-function='tiny']")
        expect(bars).to_have_count(40)
        measured = bars.evaluate_all(BARS_JS)
        assert all(b["width"] >= 2 and b["height"] >= 10 and b["inside"] for b in measured), (
            measured
        )
        # Scaled to the span shown (the runs' span, padded 1% a side): each bar is its
        # duration's share of the track, or 2 px where that is less.
        t1 = max(b["end"] for b in measured)
        pad = max(0.5, t1 * 0.01)
        for b in measured:
            share = (b["end"] - b["start"]) / (t1 + 2 * pad) * b["track"]
            assert abs(b["width"] - max(2.0, share)) < 1.0, (b, t1)
            assert abs(b["left"] - (b["start"] + pad) / (t1 + 2 * pad) * b["track"]) < 1.0, b
        expect(stream.locator("[data-testid='rg-stream-caption']")).to_contain_text(
            "40 task runs on 2 workers"
        )
        bars.first.hover()
        tip = stream.locator("[data-testid='rg-stream-tip']")
        expect(tip).to_be_visible()
        expect(tip).to_contain_text("tiny")
        expect(tip).to_contain_text("worker")
        stream.screenshot(path=str(out / "stream-1ms-tasks.png"))

        # The 200-task graph in the DAG pane (opened from the panel): no node overlaps another.
        cells.nth(2).locator(".jp-InputPrompt").click(force=True)
        page.keyboard.press("Shift+Enter")
        page.keyboard.press("Shift+Enter")
        expect(cells.nth(3).locator(".jp-Cell-outputArea")).to_contain_text("kept 32000000")
        panel.locator("[data-testid='rg-open-dag']").click()
        dag = page.locator("[data-testid='rg-pane-dag']")
        expect(dag).to_be_visible()
        nodes = dag.locator(".rg-dag-node")
        expect(nodes).to_have_count(240)  # 40 tiny + 200
        expect(dag.locator(".rg-dag-node[data-state='finished']")).to_have_count(240)
        # Drawn (not only in the DOM): every node has its box once the pane has laid it out.
        page.wait_for_function(
            "() => [...document.querySelectorAll(`[data-testid='rg-pane-dag'] .rg-dag-node rect`)]"
            ".every(r => r.getBoundingClientRect().width > 0)"
        )
        geometry = nodes.evaluate_all(OVERLAPS_JS)
        assert geometry["count"] == 240 and geometry["overlaps"] == 0, geometry
        assert geometry["minWidth"] > 5 and geometry["minHeight"] > 3, geometry
        dag.locator(".rg-dag-node[data-label='summarise #1']").click()
        details = dag.locator("[data-testid='rg-dag-details']")
        expect(details).to_contain_text("arguments from")
        expect(details).to_contain_text("combine #1")
        dag.screenshot(path=str(out / "dag-200-tasks.png"))

        # The object store: sortable, with the note on what keeps memory in use.
        panel.locator("[data-testid='rg-open-objects']").click()
        objects = page.locator("[data-testid='rg-pane-objects']")
        table = objects.locator("[data-testid='rg-objects']")
        expect(table.locator("tbody tr").first).to_contain_text("30.5 MiB")
        expect(table.locator("tbody tr").first).to_contain_text("a driver")
        expect(objects.locator("[data-testid='rg-memory-note']")).to_contain_text(
            "Why is memory not going down?"
        )
        table.locator("th[data-column='size']").click()  # now smallest first
        expect(table.locator("th[data-column='size']")).to_have_attribute("aria-sort", "ascending")
        expect(table.locator("tbody tr").last).to_contain_text("30.5 MiB")
        objects.screenshot(path=str(out / "objects.png"))

        panel.locator("[data-testid='rg-open-status']").click()
        status = page.locator("[data-testid='rg-pane-status']")
        expect(status.locator("[data-testid='rg-nodes']")).to_contain_text("(head)")
        status.screenshot(path=str(out / "status.png"))
        panel.locator("[data-testid='rg-open-actors']").click()
        actors = page.locator("[data-testid='rg-pane-actors']")
        expect(actors).to_contain_text("No actors.")
        actors.screenshot(path=str(out / "actors.png"))
        panel.locator("[data-testid='rg-open-dag']").click()
        page.screenshot(path=str(out / "lab-with-panes.png"))

        # A kernel restart brings a new cluster: the panes follow it.
        before = dag.locator("[data-testid='rg-pane-cluster']").inner_text()
        page.locator(".jp-Notebook").first.click()
        palette(page, "Restart Kernel…")
        page.locator(".jp-Dialog .jp-mod-accept").click()
        expect(page.get_by_text(re.compile(r"Python 3 \(ipykernel\) \| Idle"))).to_be_visible()
        cells.first.locator(".jp-InputPrompt").click(force=True)
        page.keyboard.press("Shift+Enter")
        cells.nth(len(CELLS)).locator(".jp-InputPrompt").click(force=True)
        page.keyboard.press("Shift+Enter")
        expect(cells.nth(len(CELLS)).locator(".jp-Cell-outputArea")).to_contain_text("again 3")
        cluster = dag.locator("[data-testid='rg-pane-cluster']")
        expect(cluster).not_to_have_text(before)
        expect(nodes).to_have_count(1)
        expect(dag.locator(".rg-dag-node[data-label='again #1']")).to_have_count(1)
        panel.locator("[data-testid='rg-open-stream']").click()
        expect(stream.locator(".rg-stream-bar")).to_have_count(1)

        # The dark theme: the panes draw on JupyterLab's dark background.
        palette(page, "Use Theme: JupyterLab Dark")
        page.wait_for_function("document.body.dataset.jpThemeLight === 'false'")
        for kind in ("dag", "stream", "objects", "status", "actors"):
            panel.locator(f"[data-testid='rg-open-{kind}']").click()
            pane = page.locator(f"[data-testid='rg-pane-{kind}']")
            expect(pane).to_be_visible()
            background = pane.evaluate("el => getComputedStyle(el).backgroundColor")
            assert luminance(background) < 0.35, (kind, background)
            pane.screenshot(path=str(out / f"{kind}-dark.png"))
            if kind == "dag":
                viewport = dag.locator(".rg-dagview-viewport")
                color = viewport.evaluate("el => getComputedStyle(el).backgroundColor")
                assert luminance(color) < 0.35, color
        page.screenshot(path=str(out / "lab-with-panes-dark.png"))
        panel.screenshot(path=str(out / "panel-dark.png"))
        bad = [m for m in console if m.startswith(("error", "pageerror")) and "rayground" in m]
        assert not bad, bad
    except Exception:
        page.screenshot(path=str(out / "failure.png"))
        (out / "jupyter.log").write_text(lab.log())
        raise
    finally:
        (out / "console.log").write_text("\n".join(console))
        context.close()
