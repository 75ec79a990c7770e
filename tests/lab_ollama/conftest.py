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


@pytest.fixture(scope="module", autouse=True)
def _nothing_loaded_after_a_module(request):
    """Each module leaves the shared lab Ollama with no model loaded, so that a later
    module's ``ps`` sees only what it loaded (an embedding model stays loaded 5 min)."""
    yield
    if "lab" not in request.fixturenames:
        return
    import requests

    url = request.getfixturevalue("lab").url
    for model in requests.get(url + "/api/ps", timeout=10).json()["models"]:
        embedding = "embedding" in requests.post(url + "/api/show", json={"model": model["name"]}, timeout=30).json().get("capabilities", [])
        path, body = ("/api/embed", {"input": []}) if embedding else ("/api/generate", {})
        requests.post(url + path, json={"model": model["name"], "keep_alive": 0, **body}, timeout=60)
