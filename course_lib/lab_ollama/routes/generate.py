"""``/api/generate`` and ``/api/chat``: Ollama's NDJSON streams, or one object."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from .. import completion, prompts, tool_calls
from ..completion import ClosingStream, Spec, created_at, metrics, model_options
from ..errors import OllamaError, bad_request, read_body
from ..runner.engine import Event
from ..runner.options import parse_keep_alive
from ..schemas import ChatRequest, GenerateRequest
from . import common
from .models import NDJSON, _line

router = APIRouter()


async def _load_or_unload(request: Request, model, options_in, keep_alive, model_text: str) -> str:
    """An empty prompt: load the model (``load``), or with keep_alive 0 unload it."""
    sched = common.scheduler(request)
    if keep_alive == 0:
        await sched.unload(model)
        return "unload"
    options = model_options(model, options_in, request.app.state.settings.context_length)
    sched.release(await sched.acquire(model, options, keep_alive))
    return "load"


def _final(model: str, payload: dict, event: Event, after: dict, logprobs: bool) -> dict:
    """The last object of generate and chat: done, done_reason, then timings (and
    the non-streamed logprobs), in Ollama's field order."""
    out = {"model": model, "created_at": created_at(), **payload, "done": True,
           "done_reason": event["done_reason"], **after, **metrics(event)}  # fmt: skip
    if logprobs:
        out["logprobs"] = event["logprobs"]
    return out


@router.post("/api/generate")
async def generate(request: Request) -> Response:
    body = await read_body(request, GenerateRequest)
    if not body.model:
        raise OllamaError(404, "model '' not found")
    model = common.find_model(request, body.model, "model '{}' not found")
    if body.raw and (body.template or body.system or body.context):
        raise bad_request("raw mode does not support template, system, or context")
    top = common.top_logprobs(body.logprobs, body.top_logprobs)
    common.check_think(body.think, model, body.model)
    grammar = common.grammar(body.format)
    keep_alive = parse_keep_alive(body.keep_alive)
    if body.suffix:
        common.check_capability(model, "insert")
    if body.images:
        common.check_capability(model, "vision")
    if not body.prompt and not body.suffix:
        reason = await _load_or_unload(request, model, body.options, keep_alive, body.model)
        return JSONResponse({"model": body.model, "created_at": created_at(), "response": "",
                             "done": True, "done_reason": reason})  # fmt: skip
    template = body.template or model.template or ""
    if body.raw:
        prompt = body.prompt
    elif body.suffix:
        prompt = prompts.suffix_prompt(template, body.prompt, body.suffix)
    else:
        messages = prompts.generate_messages(model, body.prompt, body.system, with_history=body.context is None)
        prompt = prompts.render(template, messages)
    spec = Spec(
        model=model,
        prompt=prompt,
        options=model_options(model, body.options, request.app.state.settings.context_length),
        keep_alive=keep_alive,
        stream=body.stream is not False,
        grammar=grammar,
        top_logprobs=top,
        truncate=body.truncate is not False,
        shift=body.shift is not False,
        context=body.context or [],
    )
    job = await completion.start(common.scheduler(request), spec)

    def final(event: Event, text: str) -> dict:
        after = {} if body.raw else {"context": event["context"]}
        return _final(body.model, {"response": text}, event, after, top >= 0 and not spec.stream)

    if not spec.stream:
        event = await job.result(request)
        return JSONResponse(final(event, event["text"]))

    async def lines() -> AsyncIterator[bytes]:
        async for event in job.events():
            if "error" in event:
                yield _line({"error": event["error"]})
            elif "done_reason" in event:
                yield _line(final(event, ""))
            else:
                chunk = {"model": body.model, "created_at": created_at(), "response": event["text"], "done": False}
                if top >= 0:
                    chunk["logprobs"] = event["logprobs"]
                yield _line(chunk)

    return ClosingStream(lines(), job, NDJSON)


@router.post("/api/chat")
async def chat(request: Request) -> Response:
    body = await read_body(request, ChatRequest)
    if not body.model:
        raise bad_request("model is required")
    model = common.find_model(request, body.model, "model '{}' not found")
    top = common.top_logprobs(body.logprobs, body.top_logprobs)
    common.check_think(body.think, model, body.model)
    grammar = common.grammar(body.format)
    keep_alive = parse_keep_alive(body.keep_alive)
    if body.tools:
        common.check_capability(model, "tools")
    if any(m.images for m in body.messages):
        common.check_capability(model, "vision")
    if not body.messages:
        reason = await _load_or_unload(request, model, body.options, keep_alive, body.model)
        return JSONResponse({"model": body.model, "created_at": created_at(),
                             "message": {"role": "assistant", "content": ""},
                             "done": True, "done_reason": reason})  # fmt: skip
    messages = [m.model_dump(exclude_none=True) | {"role": m.role.lower()} for m in body.messages]
    messages = prompts.chat_messages(model, messages)
    options = model_options(model, body.options, request.app.state.settings.context_length)
    sched = common.scheduler(request)
    truncate = body.truncate is not False
    tools = body.tools or None

    spec = Spec(model=model, prompt="", options=options, keep_alive=keep_alive,
                stream=body.stream is not False, grammar=grammar, top_logprobs=top,
                truncate=truncate, shift=body.shift is not False)  # fmt: skip
    job = await completion.start(sched, spec, render=lambda count: prompts.fit_chat(
        model.template or "", messages, tools, count, options["num_ctx"], truncate))  # fmt: skip
    names = {t.get("function", {}).get("name") for t in tools or []}

    def message(content: str, calls: list[dict] | None = None) -> dict:
        out = {"role": "assistant", "content": content}
        if calls:
            out["tool_calls"] = calls
        return out

    def final(event: Event, content: str, calls: list[dict] | None = None) -> dict:
        return _final(body.model, {"message": message(content, calls)}, event, {}, top >= 0 and not spec.stream)

    if not spec.stream:
        event = await job.result(request)
        calls, content = tool_calls.parse(event["text"], names) if tools else ([], event["text"])
        return JSONResponse(final(event, content, calls))

    def chunk(content: str, calls: list[dict] | None = None, logprobs: list | None = None) -> bytes:
        out = {"model": body.model, "created_at": created_at(), "message": message(content, calls), "done": False}
        if top >= 0 and logprobs is not None:
            out["logprobs"] = logprobs
        return _line(out)

    async def lines() -> AsyncIterator[bytes]:
        held, deciding = "", bool(tools)  # with tools, the answer may still be a tool call
        async for event in job.events():
            if "error" in event:
                yield _line({"error": event["error"]})
            elif "done_reason" in event:
                if held:
                    calls, content = tool_calls.parse(held, names)
                    if calls or content:
                        yield chunk(content, calls)
                yield _line(final(event, ""))
            elif deciding and tool_calls.may_become_call(held + event["text"]):
                held += event["text"]
            else:
                text, held, deciding = held + event["text"], "", False
                yield chunk(text, None, event["logprobs"])

    return ClosingStream(lines(), job, NDJSON)
