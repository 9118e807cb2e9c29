"""The libraries in the panel, in a real browser (JupyterLab in Debian's chromium, driven by
Playwright): a notebook runs a Tune experiment, a Data pipeline and a Serve application with two
replicas; the side panel grows a Libraries section with each (Serve's replicas healthy, the
experiment's best metric, the pipeline's rows), the status pane lists them in full, and Serve's
section goes away when Serve shuts down. Screenshots, light and dark, go to
test-artifacts/lab/libraries/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from _labhelpers import (
    BROWSER_TIMEOUT_MS,
    Server,
    code_cell,
    free_port,
    fresh_artifacts,
    luminance,
    needs_chromium,
    notebook_json,
    palette,
    start_server,
    stop_server,
)

pytestmark = [pytest.mark.timeout(300), needs_chromium]


def cells(port: int) -> list[str]:
    return [
        "%load_ext rayground\n%ray_init --num-cpus 2\nimport rayground as ray\n"
        "from rayground import serve, tune",
        # Tune: three trials; x=1 reaches the lowest loss, 1 / 3.
        "def trainable(config):\n"
        "    for i in range(3):\n"
        "        tune.report({'loss': config['x'] / (i + 1)})\n"
        "grid = tune.Tuner(trainable, param_space={'x': tune.grid_search([1, 2, 3])},\n"
        "    tune_config=tune.TuneConfig(metric='loss', mode='min'),\n"
        "    run_config=tune.RunConfig(name='panel_exp', verbose=0)).fit()\n"
        "print('tuned', len(grid))",
        "print('rows', ray.data.range(2000, override_num_blocks=4)"
        ".filter(lambda r: r['id'] % 2 == 0).count())",
        f"serve.start(http_options={{'host': '127.0.0.1', 'port': {port}}})\n"
        "@serve.deployment(num_replicas=2)\n"
        "class Greeter:\n"
        "    async def __call__(self, request):\n"
        "        return {'hello': 'world'}\n"
        "serve.run(Greeter.bind(), name='greet', route_prefix='/greet')\n"
        "print('serving')",
        "serve.shutdown()\nprint('stopped')",
    ]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Server]:
    root = tmp_path / "root"
    root.mkdir()
    (root / "libraries.ipynb").write_text(notebook_json([code_cell(c) for c in cells(free_port())]))
    server = start_server(tmp_path, app="lab")
    try:
        yield server
    finally:
        stop_server(server)


def test_panel_shows_serve_tune_and_data(lab: Server, browser) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=BROWSER_TIMEOUT_MS)
    out = fresh_artifacts("libraries", ("*.png",))
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{lab.url}/lab/tree/libraries.ipynb?token={lab.token}")
        page.wait_for_selector(".jp-Notebook .jp-Cell")
        expect(page.get_by_text(re.compile(r"Python 3 \(ipykernel\) \| Idle"))).to_be_visible()
        nb = page.locator(".jp-Notebook .jp-Cell")
        nb.first.click()
        page.keyboard.press("Escape")
        for _ in range(4):
            page.keyboard.press("Shift+Enter")
        expect(nb.nth(3).locator(".jp-Cell-outputArea")).to_contain_text("serving", timeout=120_000)
        expect(nb.nth(1).locator(".jp-Cell-outputArea")).to_contain_text("tuned 3")
        expect(nb.nth(2).locator(".jp-Cell-outputArea")).to_contain_text("rows 1000")

        page.locator(".jp-SideBar [data-id='rayground-panel']").click()
        panel = page.locator("[data-testid='rg-panel']")
        libraries = panel.locator("[data-testid='rg-libraries']")
        expect(libraries).to_be_visible()

        serve = libraries.locator(".rg-library[data-library='serve']")
        row = serve.locator("tbody tr").first
        expect(row).to_contain_text("greet/Greeter")
        expect(row).to_contain_text("HEALTHY")
        expect(row).to_contain_text("2 running")
        expect(serve).to_contain_text("1 application, 1 deployment, 2 replicas")

        tune = libraries.locator(".rg-library[data-library='tune']")
        expect(tune).to_contain_text("Tune: panel_exp")
        expect(tune.locator(".rg-badge")).to_have_text("FINISHED")
        expect(tune).to_contain_text("3 trials (3 terminated)")
        expect(tune).to_contain_text("best loss 0.3333 (x=1)")
        expect(tune.locator("tbody tr")).to_have_count(3)

        data = libraries.locator(".rg-library[data-library='data']")
        expect(data).to_contain_text("1,000 rows out")
        expect(data.locator("tbody tr").first).to_contain_text("Filter")

        # Readable at the panel's default width: no section wider than the panel.
        widths = panel.evaluate(
            "el => ({panel: el.clientWidth, widest: Math.max(...[...el.querySelectorAll("
            "'.rg-library')].map(b => b.getBoundingClientRect().width))})"
        )
        assert widths["widest"] <= widths["panel"], widths
        overflowing = panel.evaluate(
            "el => [...el.querySelectorAll('.rg-library')].filter(b => b.scrollWidth >"
            " b.clientWidth + 1).map(b => b.dataset.library)"
        )
        assert overflowing == [], overflowing
        # The board's own calls are not drawn as tasks of the notebook.
        expect(panel.locator("[data-function^='LibraryStatusBoard']")).to_have_count(0)
        panel.screenshot(path=str(out / "panel-libraries.png"))  # (the panel redraws inside)

        # The status pane lists the libraries in full.
        panel.locator("[data-testid='rg-open-status']").click()
        status = page.locator("[data-testid='rg-pane-status']")
        expect(status.locator(".rg-library[data-library='tune'] tbody tr")).to_have_count(3)
        status.screenshot(path=str(out / "status-pane.png"))

        # Dark theme: the sections follow it.
        palette(page, "Use Theme: JupyterLab Dark")
        page.wait_for_function("document.body.dataset.jpThemeLight === 'false'")
        # (read in one step: the panel redraws its sections, so an element may be replaced)
        color = panel.evaluate(
            "el => getComputedStyle(el.querySelector('.rg-library-title')).color"
        )
        assert luminance(color) > 0.6, color
        panel.screenshot(path=str(out / "panel-libraries-dark.png"))

        # Serve shuts down: its section goes, the others stay.
        # The status pane beside the notebook has the focus, where Shift+Enter does nothing:
        # select the cell, then run it with the notebook's own toolbar button.
        nb.nth(4).locator(".jp-InputPrompt").click(force=True)
        expect(nb.nth(4)).to_have_class(re.compile(r"\bjp-mod-active\b"))
        page.get_by_role("button", name=re.compile(r"^Run this cell and advance")).click()
        expect(nb.nth(4).locator(".jp-Cell-outputArea")).to_contain_text("stopped")
        expect(libraries.locator(".rg-library[data-library='serve']")).to_have_count(0)
        expect(libraries.locator(".rg-library[data-library='tune']")).to_have_count(1)
        assert not errors, errors
    finally:
        context.close()
