"""`make lab` from a script: set-up skipped (make test already did it), engines and
JupyterLab up, then Ctrl-C, and every process it started gone.

Runs after test_browser.py (files run in name order), so the kernels the browser
started are among the processes that Ctrl-C must stop.
"""

from __future__ import annotations

import signal

import psutil
import requests

from course_lib import services
from course_lib.vllm_tools.server import installed_engine

from . import chromium
from .conftest import notebook_files

EXPECTED = {  # what each expected process has in its command line
    "course lab": ("/course", "lab"),
    "JupyterLab": ("jupyter-lab",),
    "lab Ollama": ("course_lib.lab_ollama",),
    "vLLM server": ("vllm.entrypoints.openai.api_server",),
    "a notebook kernel": ("ipykernel_launcher",),
}


def _cmdline(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return ""


def _expected() -> list[str]:
    names = ["course lab", "JupyterLab", "lab Ollama"]
    names += ["vLLM server"] if installed_engine() is not None else []
    names += ["a notebook kernel"] if chromium.find() else []  # the browser test opened notebooks
    return names


def _gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_second_setup_is_skipped_and_the_url_answers(make_lab):
    before_engines = make_lab.output.split("starting lab-ollama")[0]
    assert "+ pip" not in before_engines and "pip install" not in before_engines  # nothing installed
    assert "already installed and verified" in before_engines or "No vLLM for" in before_engines
    assert requests.get(make_lab.url, timeout=10).status_code == 200
    assert "/lab/tree/notebooks?token=" in make_lab.url


def test_make_lab_runs_jupyterlab_and_the_engines(make_lab):
    commands = [_cmdline(process) for process in make_lab.processes()]
    for name in _expected():
        assert any(all(part in command for part in EXPECTED[name]) for command in commands), (name, commands)
    ollama = requests.get(f"http://127.0.0.1:{make_lab.port('OLLAMA_HOST')}/", timeout=5)
    assert "X-Course-Lab" in ollama.headers
    if installed_engine() is not None:
        assert services.is_healthy(f"http://127.0.0.1:{make_lab.port('VLLM_BASE_URL')}/health")


def test_ctrl_c_stops_jupyterlab_kernels_and_the_engines_it_started(make_lab):
    started = make_lab.processes()
    assert len(started) >= len(_expected())
    status = make_lab.interrupt()
    assert status in (130, -2), (f"make exited with {status} (this test process's SIGINT handler: "
                                 f"{signal.getsignal(signal.SIGINT)}):\n{make_lab.output[-3000:]}")
    engines = "ollama, vllm" if installed_engine() is not None else "ollama"
    assert f"stopped: jupyterlab, {engines}" in make_lab.output
    left = [_cmdline(process) for process in started if not _gone(process)]
    assert left == [], left
    for variable in ("JUPYTER_PORT", "OLLAMA_HOST", "VLLM_BASE_URL"):
        assert not services.port_in_use("127.0.0.1", make_lab.port(variable)), variable


def test_the_notebooks_run_in_the_browser_are_unchanged_on_disk(make_lab):
    assert make_lab.notebooks_before and notebook_files() == make_lab.notebooks_before
