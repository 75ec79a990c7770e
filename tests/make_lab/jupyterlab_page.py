"""A notebook open in JupyterLab, driven as a learner drives it: menus, clicks, keys.

Only what the browser test needs: open a notebook (accepting the kernel dialog if
JupyterLab shows one), run cells from the Run menu, wait for them, and read what the
page shows: execution counts and error outputs.
"""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

from playwright.sync_api import Locator, Page

# JupyterLab renders an error output and a stderr stream alike; an error is told by
# its text: IPython's traceback header, or the exception line it ends with.
# The notebook on show: other tabs (restored from the workspace) are hidden panels.
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
ERROR_TEXT = re.compile(r"Traceback \(most recent call last\)|^\w+(Error|Exception)\b", re.M)


class NotebookPage:
    """One notebook in one browser tab."""

    def __init__(self, page: Page, lab_url: str, path: str):
        parts = urlsplit(lab_url)
        self.page = page
        self.url = f"{parts.scheme}://{parts.netloc}/lab/tree/{path}?{parts.query}"

    def open(self, timeout: float = 90) -> None:
        """Load the notebook and wait until its kernel is idle and no dialog is up.

        On a first open JupyterLab may ask "Select Kernel" a moment after the page
        shows an idle kernel; a learner clicks Select, and so does this."""
        self.page.goto(self.url)
        self.page.wait_for_selector(f"{PANEL} .jp-Cell", timeout=timeout * 1000)
        deadline = time.monotonic() + timeout
        idle = self.page.locator(f"{PANEL} .jp-Notebook-ExecutionIndicator[data-status='idle']")
        accept = self.page.locator(".jp-Dialog .jp-mod-accept")
        quiet_since = None
        while quiet_since is None or time.monotonic() - quiet_since < 2:
            assert time.monotonic() < deadline, "the kernel did not start"
            if accept.count():
                accept.first.click()
                quiet_since = None
            elif idle.count():
                quiet_since = quiet_since or time.monotonic()
            time.sleep(0.2)
        no_news = self.page.locator(".jp-toast-button", has_text=re.compile("^No$"))
        if no_news.count():  # "get notified about official Jupyter news?"
            no_news.first.click()

    def menu(self, menu: str, item: str) -> None:
        """Click ``menu`` in the menu bar, then ``item`` in it."""
        self.page.locator("li.lm-MenuBar-item", has_text=menu).first.click()
        self.page.locator("li.lm-Menu-item .lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).click()

    @property
    def panel(self) -> Locator:
        return self.page.locator(PANEL)

    @property
    def code_cells(self) -> Locator:
        return self.panel.locator(".jp-CodeCell")

    def cell_containing(self, source: str) -> Locator:
        return self.code_cells.filter(has=self.page.locator(".jp-InputArea-editor", has_text=source)).first

    def select(self, cell: Locator) -> None:
        """Select a cell the way a mouse does, by its prompt (command mode)."""
        cell.locator(".jp-InputPrompt").click()

    def prompts(self, upto: Locator | None = None) -> list[str]:
        """The ``[n]:`` prompt of each code cell (of those before ``upto``, inclusive)."""
        prompts = [text.strip() for text in self.code_cells.locator(".jp-InputPrompt").all_text_contents()]
        if upto is None:
            return prompts
        index = upto.evaluate("(cell) => [...cell.parentElement.querySelectorAll(':scope > .jp-CodeCell')].indexOf(cell)")
        return prompts[: index + 1]

    def wait_until_run(self, upto: Locator | None = None, timeout: float = 300) -> list[str]:
        """Wait until the cells (up to ``upto``) show a count and nothing is queued;
        return their prompts. A cell left ``[ ]`` after a run means one before it
        failed: Run All stops at the first error."""
        deadline = time.monotonic() + timeout
        while True:
            prompts = self.prompts(upto)
            running = any("*" in prompt for prompt in prompts)
            if not running and all(re.fullmatch(r"\[\d+\]:", prompt) for prompt in prompts):
                return prompts
            if not running and self.errors():
                return prompts
            assert time.monotonic() < deadline, f"cells still running or not run: {prompts}"
            time.sleep(0.5)

    def kernel_status(self) -> str | None:
        return self.panel.locator(".jp-Notebook-ExecutionIndicator").first.get_attribute("data-status")

    def errors(self) -> list[str]:
        """The text of every output that shows an exception."""
        texts = self.panel.locator(".jp-OutputArea-output").all_text_contents()
        return [text for text in texts if ERROR_TEXT.search(text)]
