"""A lab Ollama of this folder's own: its own store (created models and a killed
server touch nothing shared), the course's COURSE_HOME (the F16 source is written once)."""

import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from course_lib import config, services

from ..helpers import free_port


@contextmanager
def lab_server(models: Path):
    """``python -m course_lib.lab_ollama`` on a free port over ``models``; stopped after."""
    port = free_port()
    env = {"OLLAMA_HOST": f"127.0.0.1:{port}", "OLLAMA_MODELS": str(models), "COURSE_HOME": str(config.course_home())}
    service = services.Service(f"lab-ollama-quant-{port}", [sys.executable, "-m", "course_lib.lab_ollama"],
                               "127.0.0.1", port, "/", env=env)  # fmt: skip
    pid = services.start(service, timeout=60)
    try:
        yield f"http://127.0.0.1:{port}", pid, service
    finally:
        services.stop(service)


@pytest.fixture(scope="module")
def quant_lab(tmp_path_factory):
    with lab_server(tmp_path_factory.mktemp("store")) as (url, _, _):
        yield url
