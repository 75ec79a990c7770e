"""Debian packages for tests that need a system program (Chromium, nginx).

Shared by the installers that ``make test`` runs: they install with apt-get where this
user may (root, or password-less sudo) and otherwise say why, so that the tests needing
the program are reported as skipped with that reason, never as passed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path


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


def install(packages: Sequence[str], enables: str) -> str | None:
    """Install Debian's ``packages``; None when done, else why not (``enables``: what
    they are for, named in the advice to install them by hand)."""
    names = " ".join(packages)
    prefix = _apt_prefix()
    if not shutil.which("apt-get"):
        return f"no apt-get here to install Debian's {names}"
    if prefix is None:
        return f"this user may not install packages (not root, no password-less sudo): " \
               f"`sudo apt-get install {names}` enables {enables}"  # fmt: skip
    print(f"Installing Debian's {names} for {enables}…", flush=True)
    done = _apt(prefix, "install", "-y", "--no-install-recommends", *packages)
    if done.returncode != 0:  # a fresh machine may have no package lists yet
        _apt(prefix, "update")
        done = _apt(prefix, "install", "-y", "--no-install-recommends", *packages)
    if done.returncode != 0:
        tail = " ".join((done.stderr or done.stdout).strip().splitlines()[-2:])
        return f"apt-get install {names} failed: {tail}"
    return None


def find_or_install(status_file: Path, find: Callable[[], str | None], packages: Sequence[str], enables: str,
                    missing: str) -> str | None:
    """The program ``find`` finds, installing ``packages`` first if needed; else None,
    with ``missing`` and the reason written to ``status_file`` for the skip message."""
    status_file.parent.mkdir(parents=True, exist_ok=True)
    status_file.unlink(missing_ok=True)
    if path := find():
        return path
    reason = install(packages, enables)
    if reason is None and (path := find()):
        return path
    status_file.write_text(f"{missing}, and {reason or 'its packages are installed, but it is still not found'}\n")
    return None


def main(argv: list[str], install: Callable[[], str | None], unavailable_reason: Callable[[], str], program: str,
         purpose: str) -> int:
    """An installer's command line: ``python -m tests.make_lab.NAME install``."""
    if argv[1:] != ["install"]:
        print(f"usage: python -m {argv[0]} install", file=sys.stderr)
        return 2
    path = install()
    print(f"{program} for {purpose}: {path}" if path else f"No {program}: {unavailable_reason()} "
          f"({purpose} will be reported as skipped)")  # fmt: skip
    return 0
