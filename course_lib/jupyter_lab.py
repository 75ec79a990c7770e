"""JupyterLab as `course lab` runs it: its command line, and its URL once it is ready.

JupyterLab serves the whole course folder (so `exercises/` is one click away) and
opens on the lessons. Its own log prints the URL among many lines; `course lab`
reads it from the server's info file instead and prints it where nobody misses it,
and keeps Jupyter's log to warnings and errors.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
from jupyter_server.serverapp import list_running_servers

from . import services


def served(notebooks: Path, root: Path | None = None) -> tuple[Path, str]:
    """The folder JupyterLab serves (``root``, default the current folder, unless
    ``notebooks`` lies outside it) and the path that opens on ``notebooks``."""
    root = (root or Path.cwd()).resolve()
    folder = notebooks.resolve()
    if not folder.is_relative_to(root):
        root = folder
    start = folder.relative_to(root).as_posix()
    return root, "/lab" if start == "." else f"/lab/tree/{start}"


def command(notebooks: Path, open_browser: bool, root: Path | None = None) -> list[str]:
    """``jupyter lab`` serving the course folder and opening on ``notebooks``."""
    root, start = served(notebooks, root)
    argv = [sys.executable, "-m", "jupyter", "lab", "-y", f"--ServerApp.root_dir={root}",
            f"--LabApp.default_url={start}", "--ServerApp.log_level=WARN"]  # fmt: skip
    if not (open_browser and has_display()):
        argv.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")  # containers and CI run as root
    return argv


def has_display() -> bool:
    """Whether a browser window can open here: always on macOS and Windows, on Linux
    only with an X11 or Wayland display (not over plain SSH, not in CI)."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def wait_for_url(process: subprocess.Popen, path: str = "/lab", timeout: float = 180.0) -> str | None:
    """The URL of ``path`` (with the token) on the JupyterLab that ``process`` runs,
    once it listens; None if it exits first or says nothing within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        for server in list_running_servers():
            if server.get("pid") == process.pid:
                query = f"?token={server['token']}" if server.get("token") else ""
                return f"{server['url'].rstrip('/')}{path}{query}"
        time.sleep(0.3)
    return None


def stop_leftovers(processes: list[psutil.Process], grace: float = 10.0) -> None:
    """Give ``processes`` ``grace`` seconds to exit, then kill those still running.

    On Ctrl-C, JupyterLab exits at once and its kernels follow only when they notice
    (ipykernel polls for its parent); `course lab` waits for them, so that when it
    says "stopped" nothing it started still runs."""
    _, alive = psutil.wait_procs(processes, timeout=grace)
    services.kill_processes(alive, timeout=5)


def banner(url: str, notebooks: Path, started: list[str]) -> str:
    """What a learner reads once JupyterLab is ready."""
    rule = "─" * 72
    engines = ", ".join(started) if started else "none (they were already running)"
    return "\n".join([
        rule,
        " JupyterLab is ready. Open this URL in your browser:",
        "",
        f"     {url}",
        "",
        f" Lessons are in {notebooks}/ (start with 00_setup_doctor.ipynb); exercises/ next to it.",
        f" Ctrl-C here stops JupyterLab and the engines started for it: {engines}.",
        rule,
    ])  # fmt: skip
