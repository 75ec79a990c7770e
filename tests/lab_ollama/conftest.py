"""A live lab Ollama for the conformance tests: real HTTP, its own empty store."""

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from course_lib import services

from ..helpers import free_port


@dataclass(frozen=True)
class Lab:
    url: str
    models: Path


@pytest.fixture(scope="session")
def lab(tmp_path_factory) -> Lab:
    home = tmp_path_factory.mktemp("lab-home")
    port = free_port()
    service = services.Service(
        "lab-ollama-test",
        [sys.executable, "-m", "course_lib.lab_ollama"],
        "127.0.0.1",
        port,
        "/",
        env={
            "OLLAMA_HOST": f"127.0.0.1:{port}",
            "OLLAMA_MODELS": str(home / "models"),
            "COURSE_HOME": str(home),
        },
    )
    pid = services.start(service, timeout=60)
    yield Lab(f"http://127.0.0.1:{port}", home / "models")
    services.stop(service)
    assert not services.group_alive(pid)


@pytest.fixture(scope="session")
def client(lab: Lab):
    import ollama

    return ollama.Client(host=lab.url)


@pytest.fixture(scope="session")
def pulled(client):
    """smollm2:135m pulled once; returns the streamed statuses."""
    return list(client.pull("smollm2:135m", stream=True))
