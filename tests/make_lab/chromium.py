"""Chromium for the browser test: the system's own (Debian's package), never a download.

``python -m tests.make_lab.chromium install`` (run by ``make test``) finds Chromium or
installs Debian's ``chromium`` package where this user may install packages (root,
or password-less sudo). Where it cannot, it writes why to ``STATUS_FILE``; the test
then reports itself as skipped with that reason, never as passed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

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


def _apt_prefix() -> list[str] | None:
    """How to run apt-get as root here: directly, through sudo -n, or not at all."""
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        return ["sudo", "-n"]
    return None


def _apt(prefix: list[str], *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run([*prefix, "apt-get", *args], capture_output=True, text=True, env=env)


def install() -> str | None:
    """Find or install Chromium; return its path, or None with the reason recorded."""
    STATUS_FILE.parent.mkdir(parents=True, exist_ok=True)
    STATUS_FILE.unlink(missing_ok=True)
    if path := find():
        return path
    reason = None
    prefix = _apt_prefix()
    if not shutil.which("apt-get"):
        reason = "no Chromium on PATH, and no apt-get here to install Debian's chromium package"
    elif prefix is None:
        reason = "no Chromium on PATH, and this user may not install packages (not root, no password-less sudo): " \
                 "`sudo apt-get install chromium` enables the browser test"  # fmt: skip
    else:
        print("Installing Debian's chromium package for the browser test…", flush=True)
        done = _apt(prefix, "install", "-y", "--no-install-recommends", "chromium")
        if done.returncode != 0:  # a fresh machine may have no package lists yet
            _apt(prefix, "update")
            done = _apt(prefix, "install", "-y", "--no-install-recommends", "chromium")
        if done.returncode != 0:
            tail = " ".join((done.stderr or done.stdout).strip().splitlines()[-2:])
            reason = f"apt-get install chromium failed: {tail}"
    if reason is None and (path := find()):
        return path
    STATUS_FILE.write_text((reason or "chromium installed, but no Chromium binary found on PATH") + "\n")
    return None


def main(argv: list[str]) -> int:
    if argv[1:] != ["install"]:
        print("usage: python -m tests.make_lab.chromium install", file=sys.stderr)
        return 2
    path = install()
    print(f"Chromium for the browser test: {path}" if path else f"No Chromium: {unavailable_reason()} "
          "(the browser test will be reported as skipped)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
