"""A lesson's diagram shows in a real browser when JupyterLab is rooted where the lesson is (as
the main job and `rayground course` open it): nothing outside that folder is reachable."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from _needs import need_module

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lab"))
from _labhelpers import (
    BROWSER_TIMEOUT_MS,
    CHROMIUM,
    CHROMIUM_FLAGS,
    Server,
    needs_chromium,
    start_server,
    stop_server,
)
from course_notebooks import NOTEBOOKS


@pytest.fixture
def lab_in_lesson_folder(tmp_path: Path) -> Iterator[Server]:
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(NOTEBOOKS / "01_tasks.ipynb", root)  # the lesson alone: no ../assets/ here
    server = start_server(tmp_path, app="lab")
    try:
        yield server
    finally:
        stop_server(server)


@needs_chromium
@pytest.mark.timeout(240)
def test_a_lessons_diagram_renders(lab_in_lesson_folder: Server) -> None:
    sync_api = need_module("playwright.sync_api", "playwright is not installed: the `test` extra")
    lab = lab_in_lesson_folder
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(BROWSER_TIMEOUT_MS)
            page.goto(f"{lab.url}/lab/tree/01_tasks.ipynb?token={lab.token}")
            image = page.locator(".jp-RenderedMarkdown img").first
            image.scroll_into_view_if_needed()
            page.wait_for_function(
                "img => img.complete && img.naturalWidth > 0",
                arg=image.element_handle(),
                timeout=BROWSER_TIMEOUT_MS,
            )
            size = image.evaluate("img => [img.naturalWidth, img.naturalHeight]")
            assert size[0] > 100 and size[1] > 50, size
            assert image.get_attribute("alt") == "eight tasks one after another, and four at a time"
        finally:
            browser.close()


@needs_chromium
@pytest.mark.timeout(240)
def test_the_course_folder_opens_with_lesson_00_beside_the_panel(tmp_path: Path) -> None:
    """What `rayground course` opens: the folder's workspace puts lesson 00 in front and the
    rayground panel open in the side bar."""
    sync_api = need_module("playwright.sync_api", "playwright is not installed: the `test` extra")
    from playwright.sync_api import expect

    from rayground.course import folder

    root = tmp_path / "root"
    folder.make(root)
    config = tmp_path / "jupyter" / "config"
    config.mkdir(parents=True)
    workspaces = {"LabApp": {"workspaces_dir": str(root / folder.WORKSPACES)}}
    (config / "jupyter_lab_config.json").write_text(json.dumps(workspaces))
    lab = start_server(tmp_path, app="lab")
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
            )
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(BROWSER_TIMEOUT_MS)
                expect.set_options(timeout=BROWSER_TIMEOUT_MS)
                page.goto(f"{lab.url}/lab?token={lab.token}")
                expect(page.locator("[data-testid='rg-panel']")).to_be_visible()
                tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current")
                expect(tab).to_contain_text("00_welcome.ipynb")
            finally:
                browser.close()
    finally:
        stop_server(lab)
