"""A fallback router over OpenAI-compatible engines (lesson 11): vLLM first, Ollama after.

One ``openai`` client per backend, each with short timeouts and no hidden retries.
A backend is skipped when its health check fails, and abandoned for the next one on
a connection error, a timeout or a 5xx. A 4xx is the request's fault (a prompt too
long, a bad parameter), and the next engine would refuse it too, so it is raised at
once. A stream that breaks mid-way, with an exception or by simply ending
without a ``finish_reason`` (a server killed behind a proxy does that), is restarted
on the next backend; the caller is told, so that it can drop the partial text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import openai
import requests

from . import class_server


@dataclass(frozen=True)
class Backend:
    """One engine: its OpenAI-compatible base URL (…/v1), model name and health URL."""

    name: str
    base_url: str
    model: str
    health_url: str = ""  # vLLM: http://host:8000/health; Ollama: http://host:11434/

    def health(self) -> str:
        return self.health_url or self.base_url.rstrip("/").removesuffix("/v1") + "/"


@dataclass(frozen=True)
class Chunk:
    """A piece of a streamed answer, and which backend produced it."""

    backend: str
    text: str
    restarted: bool = False  # the first piece after a switch: drop what came before


class AllBackendsFailed(RuntimeError):
    """No backend answered; the message lists what each one did."""


RETRYABLE = (openai.APIConnectionError, openai.APITimeoutError, openai.InternalServerError, httpx.HTTPError)


class IncompleteStream(RuntimeError):
    """A stream ended without a finish_reason."""


@dataclass
class FallbackRouter:
    backends: list[Backend]
    timeout: float = 60.0  # seconds for a whole request (a stream: between chunks)
    connect_timeout: float = 2.0
    health_timeout: float = 1.0
    log: list[str] = field(default_factory=list)  # what happened, newest last

    def __post_init__(self) -> None:
        timeout = httpx.Timeout(self.timeout, connect=self.connect_timeout)
        self._clients = {b.name: openai.OpenAI(base_url=b.base_url, api_key=class_server.key(), timeout=timeout, max_retries=0)
                         for b in self.backends}  # fmt: skip

    def healthy(self, backend: Backend) -> bool:
        try:
            return requests.get(backend.health(), timeout=self.health_timeout).ok
        except requests.RequestException:
            return False

    def _candidates(self) -> Iterator[Backend]:
        for backend in self.backends:
            if self.healthy(backend):
                yield backend
            else:
                self.log.append(f"{backend.name}: health check failed, skipped")

    def chat(self, messages: list[dict], **params) -> tuple[str, str]:
        """(backend name, answer) from the first backend that answers."""
        for backend in self._candidates():
            try:
                reply = self._clients[backend.name].chat.completions.create(
                    model=backend.model, messages=messages, **params)
                self.log.append(f"{backend.name}: answered")
                return backend.name, reply.choices[0].message.content or ""
            except RETRYABLE as error:
                self.log.append(f"{backend.name}: {type(error).__name__}, trying the next")
        raise AllBackendsFailed("; ".join(self.log[-len(self.backends):]))

    def stream_chat(self, messages: list[dict], **params) -> Iterator[Chunk]:
        """Pieces of the answer; after a failure mid-stream, the whole answer again from the next backend."""
        restarted = False
        for backend in self._candidates():
            try:
                stream = self._clients[backend.name].chat.completions.create(
                    model=backend.model, messages=messages, stream=True, **params)
                finished = False
                for event in stream:
                    if not event.choices:
                        continue
                    choice = event.choices[0]
                    if choice.delta.content:
                        yield Chunk(backend.name, choice.delta.content, restarted)
                        restarted = False
                    finished = finished or choice.finish_reason is not None
                if not finished:
                    raise IncompleteStream("the stream ended without a finish_reason")
                self.log.append(f"{backend.name}: answered")
                return
            except (*RETRYABLE, IncompleteStream) as error:
                self.log.append(f"{backend.name}: {type(error).__name__} mid-stream, restarting on the next")
                restarted = True
        raise AllBackendsFailed("; ".join(self.log[-len(self.backends):]))
