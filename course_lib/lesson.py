"""The first cell of every lesson and exercise: find the engines, say which, in one line.

``connect()`` asks OLLAMA_HOST who answers (a real Ollama, or the course's lab Ollama,
started here when nothing answers), makes sure the course's model is in its store
(pulling it with a progress bar if not), and, when asked, does the same for the vLLM
server. Engines started here keep running for the next lessons; ``course down`` stops
them. Nothing here reconfigures an engine that already runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import requests
from tqdm.auto import tqdm

from . import class_server, config, engines, services


@dataclass(frozen=True)
class Engines:
    """Where the lesson's engines answer."""

    ollama_url: str
    ollama_kind: str  # "lab Ollama" or "real Ollama"
    ollama_version: str
    vllm_url: str | None = None  # the OpenAI base URL (…/v1), when asked for and available

    @property
    def is_lab(self) -> bool:
        return self.ollama_kind == "lab Ollama"

    @property
    def api_key(self) -> str:
        """The key for OpenAI clients: the learner's behind a class server
        (``COURSE_KEY``), else ``"EMPTY"`` (the course's engines check none)."""
        return class_server.key()


class EngineUnavailable(RuntimeError):
    """An engine the lesson needs neither answers nor can be started here."""


def connect(vllm: bool = False, model: str = config.OLLAMA_MODEL) -> Engines:
    """Find (or start) Ollama and ``model`` in it; with ``vllm=True`` the vLLM server too."""
    notes = []
    try:
        if engines.start_ollama_if_needed():
            notes.append("started now")
    except services.ServiceError as error:
        raise EngineUnavailable(str(error)) from None
    state = engines.probe_ollama()
    if ensure_model(state.url, model):
        notes.append(f"pulled {model}")
    vllm_url = _connect_vllm(notes) if vllm else None
    extra = f" ({'; '.join(notes)})" if notes else ""
    line = f"Ollama: {state.kind} {state.version} at {state.url}, model {model}"
    if vllm:
        line += f" · vLLM: {vllm_url or 'not available on this machine'}"
    if class_server.server():
        line += " · through the class server, with your key (COURSE_KEY)"
    print(line + extra)
    return Engines(state.url, state.kind, state.version, vllm_url)


def _connect_vllm(notes: list[str]) -> str | None:
    """The vLLM server's base URL, starting it (about a minute on a CPU) if needed."""
    if engines.probe_vllm().answering:
        return config.vllm_base_url()
    try:
        print("Starting the vLLM server (about a minute on a CPU)…", flush=True)
        engines.start_vllm()
    except services.ServiceError as error:
        print(f"vLLM: {error}")
        return None
    notes.append("vLLM started now")
    return config.vllm_base_url()


def ensure_model(base_url: str, model: str) -> bool:
    """Pull ``model`` unless the Ollama at ``base_url`` has it; True if it pulled."""
    reply = requests.post(f"{base_url}/api/show", json={"model": model}, timeout=60)
    if reply.status_code == 200:
        return False
    if reply.status_code != 404:
        raise EngineUnavailable(f"/api/show answered {reply.status_code}: {reply.text[:200]}")
    with requests.post(f"{base_url}/api/pull", json={"model": model}, stream=True, timeout=600) as stream:
        bars: dict[str, tqdm] = {}
        for line in stream.iter_lines():
            status = json.loads(line)
            if "error" in status:
                raise EngineUnavailable(f"pulling {model} failed: {status['error']}")
            digest, total = status.get("digest"), status.get("total")
            if digest and total:
                if digest not in bars:
                    bars[digest] = tqdm(total=total, unit="B", unit_scale=True, desc=status["status"])
                bars[digest].update(status.get("completed", 0) - bars[digest].n)
        for bar in bars.values():
            bar.close()
    return True
