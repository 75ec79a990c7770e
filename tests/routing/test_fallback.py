"""The fallback router against real engines: a dead primary, a busy one, one that dies
mid-stream (a proxy cuts its answer), and a request error that must not fall back."""

from __future__ import annotations

import openai
import pytest

from course_lib.config import OLLAMA_MODEL
from course_lib.grading.recorder import RecordingProxy
from course_lib.routing import AllBackendsFailed, Backend, FallbackRouter

from ..helpers import free_port

HELLO = [{"role": "user", "content": "Say hello."}]


def ollama(url: str, name: str = "ollama") -> Backend:
    return Backend(name, f"{url}/v1", OLLAMA_MODEL)


def test_dead_primary_is_skipped_by_its_health_check(ollama_url):
    dead = Backend("vllm", f"http://127.0.0.1:{free_port()}/v1", "m")
    router = FallbackRouter([dead, ollama(ollama_url)])
    name, text = router.chat(HELLO, max_tokens=5)
    assert name == "ollama" and text
    assert router.log[0] == "vllm: health check failed, skipped"


def test_busy_primary_falls_back(ollama_url):
    with RecordingProxy(ollama_url, busy_first=1) as busy:  # healthy, but the request gets a 503
        primary = Backend("primary", f"{busy.url}/v1", OLLAMA_MODEL, health_url=f"{ollama_url}/")
        router = FallbackRouter([primary, ollama(ollama_url)])
        name, _ = router.chat(HELLO, max_tokens=5)
    assert name == "ollama" and "primary: InternalServerError, trying the next" in router.log
    assert [r.path for r in busy.records] == ["/v1/chat/completions"]


def test_primary_dying_mid_stream_restarts_on_the_fallback(ollama_url):
    with RecordingProxy(ollama_url, cut_after=3) as dying:
        router = FallbackRouter([ollama(dying.url, "primary"), ollama(ollama_url)])
        chunks = list(router.stream_chat(HELLO, max_tokens=12, temperature=0))
    first = [c for c in chunks if c.backend == "primary"]
    rest = [c for c in chunks if c.backend == "ollama"]
    assert first and rest, chunks
    assert rest[0].restarted and not any(c.restarted for c in first + rest[1:])
    assert "primary: IncompleteStream mid-stream, restarting on the next" in router.log
    assert router.log[-1] == "ollama: answered"


def test_client_errors_are_not_retried_elsewhere(ollama_url):
    router = FallbackRouter([Backend("primary", f"{ollama_url}/v1", "no-such-model"), ollama(ollama_url)])
    with pytest.raises(openai.NotFoundError):
        router.chat(HELLO, max_tokens=5)


def test_nothing_answers():
    router = FallbackRouter([Backend("a", f"http://127.0.0.1:{free_port()}/v1", "m")])
    with pytest.raises(AllBackendsFailed, match="a: health check failed"):
        router.chat(HELLO)
