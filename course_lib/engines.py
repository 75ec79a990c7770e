"""Which engines answer, and ``course up`` / ``course down`` / ``course status``.

Detection never guesses: Ollama is whatever answers ``/api/version`` at OLLAMA_HOST
(lab Ollama sends an ``X-Course-Lab`` header on every response, a real Ollama does
not); vLLM is whatever answers ``/health`` at VLLM_BASE_URL. ``course up`` reuses an
engine that already answers and starts only what is missing; ``course down`` stops
only what the course started (pid files), never a learner's own server.

Ownership is per invocation (see ``services``): ``up`` reports only the engines this
process started, ``release`` stops only those, and ``course down`` leaves alone an
engine that another running command (``course assign``, ``grade``, ``lab``) started.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import requests

from . import class_server, config, model, services
from .lab_ollama import LAB_HEADER
from .vllm_tools import server as vllm_server



@dataclass(frozen=True)
class EngineState:
    """What answers at one engine's address."""

    engine: str  # "ollama" or "vllm"
    url: str
    answering: bool
    kind: str  # "real Ollama", "lab Ollama", "vLLM", or "" when nothing answers
    version: str = ""
    pid: int | None = None  # set when the course started it

    @property
    def label(self) -> str:
        if not self.answering:
            return "not running"
        who = f"started by course (pid {self.pid})" if self.pid else "already running"
        version = f" {self.version}" if self.version else ""
        return f"{self.kind}{version}, {who}"


def probe_ollama(url: str | None = None, timeout: float | None = None) -> EngineState:
    """Ask ``/api/version`` at OLLAMA_HOST: real Ollama, lab Ollama, or nothing.

    The default wait is 2 s on one's own machine but 15 s in a class: a class's shared
    server busy with many learners' generations answered slower than 2 s (measured with
    6 learner processes on 2 cores), and the learner was then told it does not answer."""
    url = url or config.ollama_url()
    timeout = timeout or (15.0 if class_server.server() else 2.0)
    pid = services.running_pid(lab_ollama_service())
    try:
        reply = requests.get(f"{url}/api/version", timeout=timeout)
        version = reply.json().get("version", "") if reply.ok else ""
    except (requests.RequestException, ValueError):
        return EngineState("ollama", url, False, "")
    if not reply.ok:
        return EngineState("ollama", url, False, "")
    if LAB_HEADER in reply.headers:
        return EngineState("ollama", url, True, "lab Ollama", version, pid)
    return EngineState("ollama", url, True, "real Ollama", version)


def probe_vllm(timeout: float = 2.0) -> EngineState:
    """Ask ``/health`` and ``/version`` at VLLM_BASE_URL."""
    root = config.vllm_root_url()
    service = vllm_server.vllm_service()
    pid = services.running_pid(service) if service.url == root else None
    if not services.is_healthy(f"{root}/health", timeout):
        return EngineState("vllm", config.vllm_base_url(), False, "", pid=pid)
    try:
        version = requests.get(f"{root}/version", timeout=timeout).json()["version"]
    except (requests.RequestException, ValueError, KeyError):
        version = ""
    return EngineState("vllm", config.vllm_base_url(), True, "vLLM", version, pid)


def status() -> list[EngineState]:
    """Both engines, as they answer now."""
    return [probe_ollama(), probe_vllm()]


def lab_ollama_service() -> services.Service:
    """Lab Ollama as a background Service, bound where OLLAMA_HOST says."""
    host = config.ollama_host()
    return services.Service(
        name="lab-ollama",
        argv=[sys.executable, "-m", "course_lib.lab_ollama"],
        host=host.host,
        port=host.port,
        health_path="/",
    )


def up(
    extra_vllm_args: tuple[str, ...] = (), require_vllm: bool = True, progress: bool = False, keep: bool = False
) -> list[str]:
    """Start the engines that do not answer yet; return the names of those this
    process started (an engine another command was starting at the same moment is
    waited for, never counted: that is what stopped a neighbour's vLLM).

    Ollama: a real one answering at OLLAMA_HOST is used; otherwise lab Ollama starts
    there (``COURSE_ENGINE=real`` forbids that). vLLM: where none is installed,
    ``require_vllm=False`` starts Ollama alone (the Ollama lessons still run).
    ``progress`` shows how long each start has waited. ``keep`` (``course up``): the
    engines run until ``course down``, including those another command had started.
    Raises ``services.ServiceError`` (with the server log's tail) or
    ``model.ModelError`` with what to do.
    """
    started: list[str] = []
    try:
        start_ollama_if_needed(progress, keep)
        if services.started_by_me(lab_ollama_service()):
            started.append("ollama")
        if not probe_vllm().answering and (require_vllm or vllm_server.installed_engine() is not None):
            start_vllm(extra_vllm_args, progress, keep)
        if services.started_by_me(vllm_server.vllm_service()):
            started.append("vllm")
        if keep:
            for service in _services(("ollama", "vllm")).values():
                if services.running_pid(service) is not None:
                    services.claim(service, keep=True)  # adopted: no other command stops it
    except BaseException:  # Ctrl-C included: all or nothing, no half-started course
        release(tuple(started), kept_too=True)
        raise
    return started


def start_ollama_if_needed(progress: bool = False, keep: bool = False) -> bool:
    """Start lab Ollama unless an Ollama answers; True if this process started it."""
    state = probe_ollama()
    choice = config.engine_choice()
    if state.answering:
        if choice == "lab" and state.kind == "real Ollama":
            raise services.ServiceError(
                f"COURSE_ENGINE=lab, but a real Ollama answers at {state.url}: set "
                "OLLAMA_HOST to a free port for lab Ollama (e.g. 127.0.0.1:11500)."
            )
        return False
    _refuse_while_grading("lab Ollama", state.url)
    _refuse_in_class("Ollama", f"{state.url}/api/version")
    if choice == "real":
        raise services.ServiceError(
            f"COURSE_ENGINE=real, but no Ollama answers at {state.url}: start it "
            "(`ollama serve`) or set OLLAMA_HOST to where it runs."
        )
    host = config.ollama_host().host
    if not config.is_local_host(host):
        raise services.ServiceError(
            f"nothing answers at OLLAMA_HOST={state.url}, and {host} is not this "
            "machine: start Ollama there, or unset OLLAMA_HOST."
        )
    services.start(lab_ollama_service(), timeout=60, progress=progress, keep=keep)
    return services.started_by_me(lab_ollama_service())


@contextmanager
def running(extra_vllm_args: tuple[str, ...] = ()) -> Iterator[list[str]]:
    """The engines for the length of a block: those that answer, plus the ones started
    for it (vLLM only where it is installed), which are stopped after. Yields their names."""
    started = up(extra_vllm_args, require_vllm=False)
    try:
        yield started
    finally:
        release(tuple(started))


@contextmanager
def own_lab_ollama(num_parallel: int = 1, pull: str | None = config.OLLAMA_MODEL, **env: str) -> Iterator[str]:
    """A lab Ollama of one's own on a free port, for a lesson or benchmark that needs
    another setting (``OLLAMA_NUM_PARALLEL``, any ``OLLAMA_*`` in ``env``); yields its
    URL with ``pull`` in its store and loaded, and stops it after. The shared engines
    are never touched. It shares the course's model store, so the pull copies nothing.
    """
    port = services.free_port()
    settings = {"OLLAMA_HOST": f"127.0.0.1:{port}", "OLLAMA_NUM_PARALLEL": str(num_parallel), **env}
    service = services.Service(f"lab-ollama-np{num_parallel}", [sys.executable, "-m", "course_lib.lab_ollama"],
                               "127.0.0.1", port, "/", env=settings)  # fmt: skip
    services.start(service, timeout=60)
    url = f"http://127.0.0.1:{port}"
    try:
        if pull:
            requests.post(f"{url}/api/pull", json={"model": pull, "stream": False}, timeout=300).raise_for_status()
            warm = {"model": pull, "prompt": "Hi", "stream": False, "options": {"num_predict": 1}}
            requests.post(f"{url}/api/generate", json=warm, timeout=300).raise_for_status()
        yield url
    finally:
        services.stop(service)


def start_vllm(extra_args: tuple[str, ...] = (), progress: bool = False, keep: bool = False) -> int:
    """Start the course's vLLM server in the background and wait for ``/health``."""
    _refuse_while_grading("vLLM", config.vllm_base_url())
    _refuse_in_class("vLLM", f"{config.vllm_base_url()}/models")
    if vllm_server.installed_engine() is None:
        raise services.ServiceError(
            "vLLM is not installed on this machine (none exists for it without an "
            "NVIDIA GPU unless it is Linux x86_64). Run `make` on such a machine."
        )
    host, port = config.vllm_bind()
    if not config.is_local_host(host):
        raise services.ServiceError(
            f"nothing answers at VLLM_BASE_URL={config.vllm_base_url()}, and {host} "
            "is not this machine: start vLLM there, or unset VLLM_BASE_URL to use a "
            "local one."
        )
    target = config.vllm_model()
    if target != config.HF_MODEL_ID and model.prepared_model() is None:
        raise model.ModelError(
            "the model is not converted for vLLM yet: run `course model prepare` "
            "(`make` does it)."
        )
    service = vllm_server.vllm_service(extra_args=extra_args)
    return services.start(service, timeout=vllm_server.READY_TIMEOUT, progress=progress, keep=keep)


def _services(names: tuple[str, ...]) -> dict[str, services.Service]:
    known = {"ollama": lab_ollama_service, "vllm": vllm_server.vllm_service}
    return {name: known[name]() for name in names if name in known}


def release(names: tuple[str, ...], kept_too: bool = False) -> list[str]:
    """Stop the engines among ``names`` that this process started and nobody kept
    since (``course up`` adopts; ``kept_too`` stops those as well); return the names
    of those stopped."""
    stopped = []
    for name, service in _services(names).items():
        found = services.owner(service)
        mine = services.started_by_me(service) and found is not None and (kept_too or not found.keep)
        if mine and services.stop(service):
            stopped.append(name)
    return stopped


def held_elsewhere(names: tuple[str, ...] = ("ollama", "vllm")) -> dict[str, services.Owner]:
    """The engines that another running command started for itself (it stops them)."""
    return {name: found for name, service in _services(names).items() if (found := services.owned_elsewhere(service))}


NO_START = "COURSE_NO_ENGINE_START"  # set by the graders: a submission never starts an engine


def _refuse_while_grading(name: str, url: str) -> None:
    """Under grading, a notebook's ``connect()`` finds the engines or none: starting
    one per submission would cost a minute and a GiB each (and hide a blocked one)."""
    if os.environ.get(NO_START):
        raise services.ServiceError(f"nothing answers at {url}, and engines are not started while grading ({NO_START})")


def _refuse_in_class(name: str, probe_url: str) -> None:
    """In a class (``COURSE_SERVER``) the engines are the instructor's: none is started
    here, and the gateway's own answer at ``probe_url`` says what is wrong (the key,
    an engine that is down)."""
    server = class_server.server()
    if server:
        raise services.ServiceError(f"{name} does not answer through the class server {server}: {_gateway_says(probe_url)}")


def _gateway_says(url: str) -> str:
    """What the class gateway answers at ``url`` (its JSON error), or why nothing does."""
    try:
        reply = requests.get(url, timeout=10)
    except requests.RequestException as error:
        return f"nothing answers ({type(error).__name__}); ask your instructor whether the class server runs"
    try:
        return f"{reply.status_code}, {reply.json()['error']}"
    except (ValueError, KeyError, TypeError):
        return f"{reply.status_code}, {reply.text[:200]}"


def down(names: tuple[str, ...] = ("ollama", "vllm")) -> list[str]:
    """``course down``: stop the engines the course started and no running command is
    using (kept by ``course up``, or whose starter has exited); return their names."""
    busy = held_elsewhere(names)
    return [name for name, service in _services(names).items() if name not in busy and services.stop(service)]
