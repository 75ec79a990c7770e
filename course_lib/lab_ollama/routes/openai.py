"""Ollama's OpenAI-compatible surface: ``/v1/chat/completions``, ``/v1/completions``,
``/v1/models``, ``/v1/embeddings``.

As in Ollama, each call is translated onto the native machinery, with this surface's
own defaults: ``stream`` false, ``temperature`` and ``top_p`` 1.0, the API key never
checked, errors as ``{"error": {"message", "type", "param", "code"}}``, and SSE
streams ending in ``data: [DONE]``.
"""

from __future__ import annotations

import base64
import json
import random
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import wraps
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from ...store.names import parse_name
from .. import completion, describe, prompts, tool_calls
from ..completion import ClosingStream, Spec, model_options
from ..errors import OllamaError, bad_request, go_json_error
from ..runner.engine import Event
from . import common
from .embed import NOT_FOUND as EMBED_NOT_FOUND
from .embed import embed_texts, normalise

router = APIRouter()
SSE = "text/event-stream"
ERROR_TYPES = {400: "invalid_request_error", 404: "not_found_error"}


def _error(message: str, kind: str = "api_error") -> dict:
    """OpenAI's error body, as Ollama's middleware writes it."""
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def openai_errors(handler: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
    """Ollama's errors, reshaped the way its OpenAI middleware reshapes them."""

    @wraps(handler)
    async def wrapped(*args: Any, **kwargs: Any) -> Response:
        try:
            return await handler(*args, **kwargs)
        except OllamaError as exc:
            kind = ERROR_TYPES.get(exc.status, "api_error")
            return JSONResponse(_error(exc.message, kind), status_code=exc.status)

    return wrapped


async def _json(request: Request) -> dict:
    raw = await request.body()
    if not raw.strip():
        raise bad_request("missing request body")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise bad_request(go_json_error(exc)) from exc
    if not isinstance(data, dict):
        raise bad_request("json: cannot unmarshal into Go value of type openai.ChatCompletionRequest")
    return data


def _options(data: dict) -> dict:
    """OpenAI fields as Ollama options; temperature and top_p default to 1.0 here."""
    options: dict[str, Any] = {"temperature": 1.0, "top_p": 1.0}
    # ``max_completion_tokens`` is not read: Ollama's request type has no such field.
    for field, option in (("max_tokens", "num_predict"),
                          ("temperature", "temperature"), ("top_p", "top_p"), ("seed", "seed"),
                          ("frequency_penalty", "frequency_penalty"), ("presence_penalty", "presence_penalty")):  # fmt: skip
        if data.get(field) is not None:
            options[option] = data[field]
    stop = data.get("stop")
    if isinstance(stop, str):
        options["stop"] = [stop]
    elif isinstance(stop, list):
        options["stop"] = [item for item in stop if isinstance(item, str)]
    return options


def _think(data: dict) -> bool | str | None:
    """``reasoning_effort`` (or ``reasoning.effort``) as Ollama's think; ``none`` = off."""
    effort = data.get("reasoning_effort")
    if effort is None and isinstance(data.get("reasoning"), dict):
        effort = data["reasoning"].get("effort")
    if effort is None:
        return None
    return False if effort == "none" else effort


def _format(data: dict) -> Any:
    response_format = data.get("response_format") or {}
    if response_format.get("type") == "json_object":
        return "json"
    if response_format.get("type") == "json_schema":
        return (response_format.get("json_schema") or {}).get("schema")
    return None


def _parts(role: str, value: Any) -> list[dict]:
    """A message's content as Ollama's messages: a string is one message; each text
    part and each image (base64 data URLs only) of a list becomes one of its own,
    merged again with ``"\\n\\n"`` when the prompt is built, as Ollama does."""
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    if not isinstance(value, list):
        raise bad_request(f"invalid message content type: {_go_type(value)}")
    out = []
    for part in value:
        if part.get("type") == "text":
            out.append({"role": role, "content": part.get("text", "")})
        elif part.get("type") == "image_url":
            url = part.get("image_url", {})
            url = url.get("url", "") if isinstance(url, dict) else url
            if not url.startswith("data:"):
                raise bad_request("image URLs are not currently supported, please use base64 encoded data instead")
            out.append({"role": role, "content": "", "images": [url.split(",", 1)[-1]]})
    return out


def _go_type(value: Any) -> str:
    """How Go's ``%T`` names a decoded JSON value (``<nil>`` for null)."""
    return {type(None): "<nil>", bool: "bool", int: "float64", float: "float64", dict: "map[string]interface {}"}.get(
        type(value), type(value).__name__)  # fmt: skip


def _messages(data: dict) -> list[dict]:
    messages = data.get("messages")
    if not isinstance(messages, list):
        raise bad_request("messages is required")
    if not messages:
        raise bad_request("[] is too short - 'messages'")
    out = []
    for m in messages:
        role = str(m.get("role", "")).lower()
        if m.get("tool_calls"):
            calls = [{"function": {"name": c["function"]["name"], "arguments": _arguments(c["function"].get("arguments"))}}
                     for c in m["tool_calls"]]  # fmt: skip
            out.append({"role": role, "content": m.get("content") or "", "tool_calls": calls})
            continue
        parts = _parts(role, m.get("content"))
        if m.get("tool_call_id"):
            for part in parts:
                part["tool_call_id"] = m["tool_call_id"]
        out.extend(parts)
    return out


def _arguments(value: Any) -> dict:
    if isinstance(value, str):
        try:
            value = json.loads(value or "{}")
        except json.JSONDecodeError:
            value = {}
    return value if isinstance(value, dict) else {}


def _usage(event: Event) -> dict:
    prompt, completion_ = event.get("prompt_eval_count", 0), event.get("eval_count", 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion_, "total_tokens": prompt + completion_}


def _sse(obj: dict | str) -> bytes:
    payload = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
    return f"data: {payload}\n\n".encode()


def _logprobs(entries: list[dict]) -> dict:
    return {"content": [{**e, "top_logprobs": e.get("top_logprobs", [])} for e in entries]}


def _openai_calls(calls: list[dict]) -> list[dict]:
    return [
        {"id": c["id"], "index": c["function"]["index"], "type": "function",
         "function": {"name": c["function"]["name"], "arguments": json.dumps(c["function"]["arguments"])}}
        for c in calls
    ]  # fmt: skip


def _chat_spec(request: Request, data: dict) -> tuple[Spec, list[dict], list[dict] | None]:
    """The checks of ``/v1/chat/completions``, in Ollama's order, and what to run."""
    model_text = data.get("model") or ""
    if not model_text:
        raise bad_request("model is required")
    model = common.find_model(request, model_text, "model '{}' not found")
    common.check_completion(model, model_text, "chat")
    messages = prompts.chat_messages(model, _messages(data))
    tools = data.get("tools") or None
    if tools:
        common.check_capability(model, "tools")
    if any(m.get("images") for m in messages):
        common.check_capability(model, "vision")
    common.check_think(_think(data), model, model_text)
    options = model_options(model, _options(data), request.app.state.settings.context_length)
    top = common.top_logprobs(bool(data.get("logprobs")), int(data.get("top_logprobs") or 0))
    spec = Spec(model=model, prompt="", options=options, stream=bool(data.get("stream")),
                grammar=common.grammar(_format(data)), top_logprobs=top)  # fmt: skip
    return spec, messages, tools


@router.post("/v1/chat/completions")
@openai_errors
async def chat_completions(request: Request) -> Response:
    data = await _json(request)
    spec, messages, tools = _chat_spec(request, data)
    model, top = spec.model, spec.top_logprobs
    job = await completion.start(common.scheduler(request), spec, render=lambda count: prompts.fit_chat(
        model.template or "", messages, tools, count, spec.options["num_ctx"]))  # fmt: skip
    names = {t.get("function", {}).get("name") for t in tools or []}
    head = {"id": f"chatcmpl-{random.randint(0, 998)}", "created": int(time.time()), "model": data["model"],
            "system_fingerprint": "fp_ollama"}  # fmt: skip
    if spec.stream:
        include_usage = bool((data.get("stream_options") or {}).get("include_usage"))
        return ClosingStream(_chat_events(job, head, names if tools else None, include_usage), job, SSE)
    event = await job.result(request)
    calls, content = tool_calls.parse(event["text"], names) if tools else ([], event["text"])
    message: dict = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = _openai_calls(calls)
    choice = {"index": 0, "message": message, "finish_reason": _finish(event["done_reason"], calls)}
    if top >= 0:
        choice["logprobs"] = _logprobs(event["logprobs"])
    return JSONResponse({**head, "object": "chat.completion", "choices": [choice], "usage": _usage(event)})


def _finish(reason: str, calls: list[dict]) -> str:
    """``tool_calls`` replaces ``stop`` only, as in Ollama's ``openai.go``."""
    return "tool_calls" if calls and reason == "stop" else reason


async def _chat_events(job, head: dict, names: set | None, include_usage: bool) -> AsyncIterator[bytes]:
    """SSE chunks: ``role`` in the first delta only, a finish chunk with ``delta: {}``,
    the usage chunk when asked, ``[DONE]``. A mid-stream error ends the stream without
    ``[DONE]``, after an error event."""
    first = True

    def chunk(delta: dict, finish: str | None = None, logprobs: list | None = None) -> bytes:
        nonlocal first
        if first and delta:
            delta, first = {"role": "assistant", **delta}, False
        choice: dict = {"index": 0, "delta": delta, "finish_reason": finish}
        if logprobs:
            choice["logprobs"] = _logprobs(logprobs)
        return _sse({**head, "object": "chat.completion.chunk", "choices": [choice]})

    held, deciding = "", names is not None
    async for event in job.events():
        if "error" in event:
            yield _sse(_error(event["error"]))
            return
        if "done_reason" in event:
            calls, content = tool_calls.parse(held, names or set()) if held else ([], "")
            if calls or content:
                yield chunk({"content": content, **({"tool_calls": _openai_calls(calls)} if calls else {})})
            yield chunk({}, _finish(event["done_reason"], calls))
            if include_usage:
                yield _sse({**head, "object": "chat.completion.chunk", "choices": [], "usage": _usage(event)})
            yield _sse("[DONE]")
            return
        if deciding and tool_calls.may_become_call(held + event["text"]):
            held += event["text"]
            continue
        text, held, deciding = held + event["text"], "", False
        yield chunk({"content": text}, None, event["logprobs"])


@router.post("/v1/completions")
@openai_errors
async def completions(request: Request) -> Response:
    data = await _json(request)
    model_text = data.get("model") or ""
    if not isinstance(data.get("prompt"), str):
        raise bad_request("prompt must be a string")
    model = common.find_model(request, model_text, "model '{}' not found")
    options = model_options(model, _options(data), request.app.state.settings.context_length)
    stream = bool(data.get("stream"))
    if data.get("suffix"):
        prompt = prompts.suffix_prompt(model.template or "", data["prompt"], data["suffix"])
    else:
        prompt = prompts.render(model.template or "", prompts.generate_messages(model, data["prompt"], None, True))
    spec = Spec(model=model, prompt=prompt, options=options, stream=stream)
    job = await completion.start(common.scheduler(request), spec)
    head = {"id": f"cmpl-{random.randint(0, 998)}", "object": "text_completion", "created": int(time.time()),
            "model": model_text, "system_fingerprint": "fp_ollama"}  # fmt: skip

    if not stream:
        event = await job.result(request)
        choice = {"text": event["text"], "index": 0, "logprobs": None, "finish_reason": event["done_reason"]}
        return JSONResponse({**head, "choices": [choice], "usage": _usage(event)})
    include_usage = bool((data.get("stream_options") or {}).get("include_usage"))

    async def events() -> AsyncIterator[bytes]:
        async for event in job.events():
            if "error" in event:
                yield _sse(_error(event["error"]))
                return
            done = "done_reason" in event
            choice = {"text": "" if done else event["text"], "index": 0, "logprobs": None,
                      "finish_reason": event["done_reason"] if done else None}  # fmt: skip
            yield _sse({**head, "choices": [choice]})
            if done:
                if include_usage:
                    yield _sse({**head, "choices": [], "usage": _usage(event)})
                yield _sse("[DONE]")

    return ClosingStream(events(), job, SSE)


def _model_entry(model: describe.StoredModel, ident: str) -> dict:
    return {"id": ident, "object": "model", "created": int(model.manifest_path.stat().st_mtime),
            "owned_by": model.name.namespace}  # fmt: skip


@router.get("/v1/models")
@openai_errors
async def list_models(request: Request) -> Response:
    store = request.app.state.store
    data = [_model_entry(describe.load(store, name), name.display) for name, _ in store.models()]
    data.sort(key=lambda e: e["created"], reverse=True)
    return JSONResponse({"object": "list", "data": data or None})


@router.get("/v1/models/{model:path}")
@openai_errors
async def retrieve_model(model: str, request: Request) -> Response:
    try:
        found = describe.load(request.app.state.store, parse_name(model))
    except ValueError:
        found = None
    if found is None:
        raise OllamaError(404, f'model "{model}" not found')
    return JSONResponse(_model_entry(found, model))


@router.post("/v1/embeddings")
@openai_errors
async def openai_embeddings(request: Request) -> Response:
    data = await _json(request)
    model_text = data.get("model") or ""
    encoding = data.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise bad_request(f"Invalid value for 'encoding_format' = {encoding}. Supported values: ['float', 'base64'].")
    raw_input = data.get("input")
    texts = [raw_input] if isinstance(raw_input, str) else raw_input
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise bad_request("invalid input")
    model = common.find_model(request, model_text, EMBED_NOT_FOUND)
    vectors, count, _ = await embed_texts(request, model, texts, None, None)
    dimensions = int(data.get("dimensions") or 0)
    entries = []
    for index, vector in enumerate(vectors):
        vector = normalise(vector[:dimensions] if dimensions > 0 else vector)
        if encoding == "base64":
            vector = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        entries.append({"object": "embedding", "embedding": vector, "index": index})
    return JSONResponse({"object": "list", "data": entries, "model": model_text,
                         "usage": {"prompt_tokens": count, "total_tokens": count}})  # fmt: skip
