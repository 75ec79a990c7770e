"""Chromium for the browser test: the system's own (Debian's package), never a download.

``python -m tests.make_lab.chromium install`` (run by ``make test``) finds Chromium or
installs Debian's ``chromium`` package where this user may install packages (root,
or password-less sudo). Where it cannot, it writes why to ``STATUS_FILE``; the test
then reports itself as skipped with that reason, never as passed.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from . import apt

STATUS_FILE = Path(__file__).resolve().parents[2] / "build" / "browser" / "chromium-unavailable.txt"
NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# Chromium on a machine with no network but loopback: no sandbox as root, no GPU, and
# none of the background connections it would otherwise try (and be refused) at start.
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


def find() -> str | None:
    """Chromium's path: ``CHROMIUM`` if set, else the first of ``NAMES`` on PATH."""
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    return next((path for name in NAMES if (path := shutil.which(name))), None)


def unavailable_reason() -> str:
    """Why there is no Chromium (what ``install`` recorded), for the skip message."""
    if STATUS_FILE.is_file():
        return STATUS_FILE.read_text().strip()
    if os.environ.get("CHROMIUM"):
        return f"CHROMIUM={os.environ['CHROMIUM']} is not a file"
    return "Chromium is not on PATH and `make test` did not try to install it here (run `make test`)"


def install() -> str | None:
    """Find or install Chromium; return its path, or None with the reason recorded."""
    return apt.find_or_install(STATUS_FILE, find, ["chromium"], "the browser test", "no Chromium on PATH")


if __name__ == "__main__":
    sys.exit(apt.main([__spec__.name, *sys.argv[1:]], install, unavailable_reason, "Chromium", "the browser test"))
