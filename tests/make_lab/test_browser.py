"""The JupyterLab that `make lab` serves, in a real browser: Debian's Chromium driven
by Playwright, as a learner uses it. Screenshots go to build/browser/.

Where no Chromium could be installed, these tests are skipped with the reason that
`make test` recorded (see chromium.py), never passed.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import TimeoutError, expect

from . import chromium
from .conftest import ROOT
from .jupyterlab_page import NotebookPage

SHOTS = ROOT / "build" / "browser"


@pytest.fixture(scope="module")
def browser():
    path = chromium.find()
    if path is None:
        pytest.skip(f"no Chromium for the browser test: {chromium.unavailable_reason()}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=chromium.LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield context.new_page()
    context.close()


def shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_the_error_check_sees_a_failing_cell(make_lab, page):
    """The control for the tests below: a cell that raises is found, and Run All
    leaves the cell after it unrun. A scratch notebook under build/ (gitignored)."""
    scratch = ROOT / "build" / "browser" / "scratch-error.ipynb"
    scratch.parent.mkdir(parents=True, exist_ok=True)
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    notebook.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("1 / 0"),
                      nbformat.v4.new_code_cell("y = 2")]  # fmt: skip
    nbformat.write(notebook, scratch)
    lab = NotebookPage(page, make_lab.url, "build/browser/scratch-error.ipynb")
    lab.open()
    lab.menu("Run", "Run All Cells")
    prompts = lab.wait_until_run()
    shot(page, "control-error")
    assert len(lab.errors()) == 1 and "ZeroDivisionError" in lab.errors()[0]
    assert prompts[0] == "[1]:" and prompts[2] == "[ ]:"


def test_notebook_00_runs_and_shows_the_engine_status_table(make_lab, page):
    lab = NotebookPage(page, make_lab.url, "notebooks/00_setup_doctor.ipynb")
    lab.open()
    shot(page, "00-opened")
    lab.menu("Run", "Run All Cells")
    prompts = lab.wait_until_run()
    shot(page, "00-run")
    assert lab.errors() == []
    assert all(prompt != "[ ]:" for prompt in prompts), prompts

    table = lab.panel.locator(".jp-OutputArea-output table").first
    rows = {row[0]: row[1:] for row in (r.locator("td").all_text_contents() for r in table.locator("tbody tr").all())}
    ollama = f"Ollama at http://127.0.0.1:{make_lab.port('OLLAMA_HOST')}"
    assert rows[ollama][0] == "✔" and rows[ollama][1].startswith("lab Ollama"), rows
    vllm_row = f"vLLM server at {make_lab.env['VLLM_BASE_URL']}"
    if rows["vLLM"][0] == "✔":  # vLLM installed: the server make lab started answers
        assert rows[vllm_row][0] == "✔" and "vLLM" in rows[vllm_row][1], rows
    assert len(lab.panel.locator(".jp-OutputArea-output img").all()) >= 1, "the size plot is missing"
    table.scroll_into_view_if_needed()
    shot(page, "00-doctor-table")


def test_sampling_explorer_widget_renders_and_answers(make_lab, page):
    lab = NotebookPage(page, make_lab.url, "notebooks/06_sampling.ipynb")
    lab.open()
    explorer = lab.cell_containing("widgets.interact(")
    lab.select(explorer)
    lab.menu("Run", "Run All Above Selected Cell")
    lab.wait_until_run(upto=explorer.locator("xpath=preceding-sibling::*[contains(@class,'jp-CodeCell')][1]"))
    lab.select(explorer)
    page.keyboard.press("Shift+Enter")
    prompts = lab.wait_until_run(upto=explorer)
    assert lab.errors() == [] and all(prompt != "[ ]:" for prompt in prompts), prompts

    widget = explorer.locator(".widget-interact")
    widget.wait_for(timeout=60_000)
    assert widget.locator(".widget-text input").input_value() == "Once upon a time there was a"
    assert widget.locator(".widget-slider").count() == 4  # temperature, top-k, top-p, min-p
    plot = widget.locator("img").first
    plot.wait_for(timeout=60_000)
    explorer.scroll_into_view_if_needed()
    shot(page, "06-explorer")

    before = plot.get_attribute("src")
    temperature = widget.locator(".widget-slider").first
    readout = temperature.locator(".widget-readout")
    expect(readout).to_have_text("0.80")
    temperature.locator(".noUi-handle").click()  # the handle takes the keyboard, as for a learner
    page.keyboard.press("ArrowRight")  # one step: 0.8 -> 0.9, and the kernel redraws
    expect(readout).to_have_text("0.90", timeout=10_000)
    redrawn = "([w, src]) => { const img = w.querySelector('img'); return img && img.getAttribute('src') !== src; }"
    try:
        page.wait_for_function(redrawn, arg=[widget.element_handle(), before], timeout=60_000)
    except TimeoutError:
        path = shot(page, "06-explorer-not-redrawn")
        sources = [len(img.get_attribute("src") or "") for img in widget.locator("img").all()]
        pytest.fail(f"no new plot 60 s after the slider moved (plot sizes {sources}, before {len(before or '')}; "
                    f"kernel {lab.kernel_status()}; errors {lab.errors()}); see {path}")  # fmt: skip
    assert lab.errors() == []
    shot(page, "06-explorer-moved")
