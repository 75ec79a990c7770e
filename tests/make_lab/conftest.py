"""One real `make lab` for this folder: started as a learner starts it, stopped by
the last test with Ctrl-C (SIGINT to its process group, as a terminal sends it).

It runs on free ports (never a learner's 8888, 11434 or 8000) with its own Jupyter
runtime, settings and workspace folders, and vLLM with ``--enforce-eager`` (ready in
~45 s instead of ~60 s) through the Makefile's ``VLLM_ARGS``. Its settings turn
JupyterLab's autosave off, so that the notebooks the browser runs are never written
back into the repository.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from course_lib import services

from ..helpers import course, free_port

ROOT = Path(__file__).resolve().parents[2]
READY = re.compile(r"JupyterLab is ready\..*?\n\s*\n\s+(http://\S+)", re.S)
MAKE_VARIABLES = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")  # a terminal has none


@dataclass
class MakeLab:
    """The running `make lab`: its process, log, URL and ports."""

    process: subprocess.Popen
    log: Path
    env: dict
    url: str = ""
    notebooks_before: dict = field(default_factory=dict, repr=False)

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace").replace("\r", "\n")

    def port(self, variable: str) -> int:
        """The port in JUPYTER_PORT, OLLAMA_HOST (host:port) or VLLM_BASE_URL."""
        return int(re.search(r"(\d+)(/v1)?$", self.env[variable]).group(1))

    def processes(self) -> list[psutil.Process]:
        """make and everything under it: course lab, JupyterLab, kernels, the engines."""
        return services.process_tree(self.process.pid)

    def interrupt(self, timeout: float = 180) -> int:
        """Ctrl-C in the terminal: SIGINT to the whole foreground process group."""
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=timeout)


def as_a_terminal_starts_it() -> None:
    """In make's process, before it starts: Ctrl-C's default action and no signal
    blocked, as a shell in a terminal starts a command. A make that inherits SIGINT
    ignored keeps ignoring it (GNU make's rule for signals ignored at its start) and
    exits with its recipe's 0 after Ctrl-C, as one two-worker run saw."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


def notebook_files() -> dict[str, bytes]:
    """The course's notebooks as they are on disk (the browser must not change them)."""
    return {str(path): path.read_bytes() for folder in ("notebooks", "exercises") for path in (ROOT / folder).glob("*.ipynb")}


def _wait_for_url(lab: MakeLab, timeout: float = 900) -> str:
    deadline = time.monotonic() + timeout
    while True:
        if found := READY.search(lab.output):
            return found.group(1)
        assert lab.process.poll() is None, f"make lab exited:\n{lab.output[-4000:]}"
        assert time.monotonic() < deadline, f"no URL after {timeout} s:\n{lab.output[-4000:]}"
        time.sleep(0.5)


@pytest.fixture(scope="package")
def make_lab(tmp_path_factory) -> MakeLab:
    home = tmp_path_factory.mktemp("make-lab")
    env = {key: value for key, value in os.environ.items() if key not in MAKE_VARIABLES}
    env.update({
        "VLLM_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
        "OLLAMA_HOST": f"127.0.0.1:{free_port()}",
        "JUPYTER_PORT": str(free_port()),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
    })  # fmt: skip
    autosave = home / "settings" / "@jupyterlab" / "docmanager-extension" / "plugin.jupyterlab-settings"
    autosave.parent.mkdir(parents=True)
    autosave.write_text(json.dumps({"autosave": False}))
    log = home / "make-lab.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            ["make", "lab", "VLLM_ARGS=--enforce-eager"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=as_a_terminal_starts_it,
        )  # fmt: skip
    lab = MakeLab(process, log, env, notebooks_before=notebook_files())
    try:
        lab.url = _wait_for_url(lab)
        yield lab
    finally:
        if process.poll() is None:  # a test failed before Ctrl-C: leave nothing behind
            left = lab.processes()
            os.killpg(process.pid, signal.SIGKILL)
            services.kill_processes(left)
            course("down", env=env)
