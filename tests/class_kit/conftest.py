"""What the class tests share: a COURSE_HOME and a lab Ollama of each module's own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from course_lib import engines, services
from course_lib.class_kit import gateway

MODEL = "smollm2:135m"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A COURSE_HOME of the module's own, for the lab Ollama and the gateway alike."""
    path = tmp_path_factory.mktemp("class-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSE_HOME", str(path))
        patch.delenv("OLLAMA_API_KEY", raising=False)  # the ollama client would send it as a key
        yield path


@pytest.fixture(scope="module")
def lab(home) -> str:
    """A lab Ollama of the module's own, the model pulled and loaded; its URL."""
    with engines.own_lab_ollama(pull=MODEL) as url:
        yield url


@contextmanager
def running_gateway(settings: gateway.Settings) -> Iterator[gateway.Settings]:
    """A gateway up with ``settings`` (resolved), stopped after; nothing of it may be left."""
    settings = gateway.up(settings)
    pid = services.running_pid(gateway.service(settings))
    yield settings
    assert gateway.down()
    assert not services.group_alive(pid), "nginx processes left after down"
