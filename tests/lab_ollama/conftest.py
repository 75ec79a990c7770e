"""Live lab Ollamas for the conformance tests: real HTTP, each with its own store."""

import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from course_lib import services

from ..helpers import free_port


@dataclass(frozen=True)
class Lab:
    url: str
    models: Path


@contextmanager
def running_lab(home: Path, **settings: str):
    """Start ``python -m course_lib.lab_ollama`` with OLLAMA_* settings; stop it after."""
    port = free_port()
    env = {"OLLAMA_HOST": f"127.0.0.1:{port}", "OLLAMA_MODELS": str(home / "models"), "COURSE_HOME": str(home)}
    env.update({f"OLLAMA_{key.upper()}": value for key, value in settings.items()})
    service = services.Service(
        f"lab-ollama-test-{port}", [sys.executable, "-m", "course_lib.lab_ollama"], "127.0.0.1", port, "/", env=env
    )
    pid = services.start(service, timeout=60)
    try:
        yield Lab(f"http://127.0.0.1:{port}", home / "models")
    finally:
        services.stop(service)
        assert not services.group_alive(pid)


@pytest.fixture(scope="session")
def lab(tmp_path_factory) -> Lab:
    """Ollama's defaults: one slot per model."""
    with running_lab(tmp_path_factory.mktemp("lab-home")) as server:
        yield server


@pytest.fixture(scope="session")
def client(lab: Lab):
    import ollama

    return ollama.Client(host=lab.url)


@pytest.fixture(scope="session")
def pulled(client):
    """smollm2:135m pulled once; returns the streamed statuses."""
    return list(client.pull("smollm2:135m", stream=True))
