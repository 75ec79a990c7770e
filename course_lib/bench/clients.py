"""One streamed request to an engine, timed as vLLM's benchmark times it.

Two request shapes: ``openai`` (``POST /v1/completions`` with SSE and
``stream_options.include_usage``, what ``vllm bench serve --backend openai`` sends)
and ``ollama`` (``POST /api/generate`` with NDJSON, ``raw`` so no template adds
tokens). A content chunk is any chunk that carries a choice (OpenAI) or a
``done: false`` line (Ollama); its arrival time is taken when its line is parsed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import requests

from .metrics import RequestRecord

BACKENDS = ("openai", "ollama")
RequestFn = Callable[[requests.Session, str, int, int], RequestRecord]


def openai_completion(base_url: str, model: str, ignore_eos: bool = True, timeout: float = 600) -> RequestFn:
    """A request function for an OpenAI-compatible ``/v1/completions`` (vLLM, Ollama's /v1)."""
    url = base_url.rstrip("/") + "/completions"

    def send(session: requests.Session, prompt: str, input_len: int, output_len: int) -> RequestRecord:
        body = {"model": model, "prompt": prompt, "max_tokens": output_len, "stream": True,
                "stream_options": {"include_usage": True}}  # fmt: skip
        if ignore_eos:
            body["ignore_eos"] = True  # vLLM's extra parameter: exactly output_len tokens
        record = RequestRecord(sent=time.perf_counter(), input_tokens=input_len)
        try:
            for line in _lines(session, url, body, timeout):
                if not line.startswith(b"data: ") or line == b"data: [DONE]":
                    continue
                data = json.loads(line[6:])
                if data.get("choices"):
                    record.chunk_times.append(time.perf_counter())
                elif usage := data.get("usage"):
                    record.output_tokens = usage.get("completion_tokens") or 0
                    record.input_tokens = usage.get("prompt_tokens") or input_len
        except (requests.RequestException, ValueError, EngineError) as error:
            return _failed(record, str(error))
        if not record.output_tokens:  # a server without include_usage: one token per chunk
            record.output_tokens = len(record.chunk_times)
        return _finished(record)

    return send


def ollama_generate(base_url: str, model: str, timeout: float = 600) -> RequestFn:
    """A request function for Ollama's ``/api/generate`` (real or lab)."""
    url = base_url.rstrip("/") + "/api/generate"

    def send(session: requests.Session, prompt: str, input_len: int, output_len: int) -> RequestRecord:
        body = {"model": model, "prompt": prompt, "raw": True, "stream": True,
                "options": {"num_predict": output_len}}  # fmt: skip
        record = RequestRecord(sent=time.perf_counter(), input_tokens=input_len)
        try:
            for line in _lines(session, url, body, timeout):
                if not line:
                    continue
                data = json.loads(line)
                if "error" in data:  # an error after the 200, in the stream
                    raise EngineError(data["error"])
                if not data.get("done"):
                    record.chunk_times.append(time.perf_counter())
                else:  # Ollama cannot ignore EOS: count what it really produced
                    record.output_tokens = data.get("eval_count", 0)  # omitted when 0
        except (requests.RequestException, ValueError, EngineError) as error:
            return _failed(record, str(error))
        return _finished(record)

    return send


def request_function(backend: str, base_url: str, model: str, ignore_eos: bool = True) -> RequestFn:
    """The request function for ``backend`` (``openai`` or ``ollama``)."""
    if backend == "openai":
        return openai_completion(base_url, model, ignore_eos)
    if backend == "ollama":
        return ollama_generate(base_url, model)
    raise ValueError(f"unknown backend {backend!r}: expected one of {', '.join(BACKENDS)}")


class EngineError(Exception):
    """The engine answered with an error (status and message)."""


def _lines(session: requests.Session, url: str, body: dict, timeout: float) -> Iterator[bytes]:
    """The streamed reply's lines, as they arrive; an HTTP error raises EngineError."""
    with session.post(url, json=body, stream=True, timeout=timeout) as reply:
        if reply.status_code != 200:
            raise EngineError(f"HTTP {reply.status_code}: {reply.text[:200]}")
        yield from reply.iter_lines(chunk_size=None)


def _failed(record: RequestRecord, error: str) -> RequestRecord:
    record.ok, record.error = False, error
    return record


def _finished(record: RequestRecord) -> RequestRecord:
    record.ok = bool(record.chunk_times)
    if not record.ok:
        record.error = "no content chunk arrived"
    return record
