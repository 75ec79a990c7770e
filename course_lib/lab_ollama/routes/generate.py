"""``/api/generate`` and ``/api/chat``: Ollama's NDJSON streams, or one object."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from .. import completion, prompts, tool_calls
from ..completion import ClosingStream, Spec, created_at, metrics, model_options
from ..describe import StoredModel
from ..errors import OllamaError, bad_request, read_body
from ..runner.engine import Event
from ..runner.options import parse_keep_alive
from ..schemas import ChatRequest, GenerateRequest
from . import common
from .models import NDJSON, _line

router = APIRouter()


async def _load_or_unload(request: Request, model, options_in, keep_alive) -> str:
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


def _debug_reply(model: str, payload: dict, prompt: str) -> JSONResponse:
    """``_debug_render_only``: the rendered prompt, and the model is not run."""
    return JSONResponse({"model": model, "created_at": created_at(), **payload, "done": False,
                         "_debug_info": {"rendered_template": prompt, "image_count": 0}})  # fmt: skip


def _checks(request: Request, body, action: str, empty: OllamaError) -> tuple[StoredModel, str | None, int, float | None]:
    """What generate and chat check first: the model (and that it completes),
    logprobs, think, format, keep_alive."""
    if not body.model:
        raise empty
    model = common.find_model(request, body.model, "model '{}' not found")
    common.check_completion(model, body.model, action)
    top = common.top_logprobs(body.logprobs, body.top_logprobs)
    common.check_think(body.think, model, body.model)
    return model, common.grammar(body.format), top, parse_keep_alive(body.keep_alive)


def _generate_prompt(model: StoredModel, body: GenerateRequest) -> str:
    template = body.template or model.template or ""
    if body.raw:
        return body.prompt
    if body.suffix:
        return prompts.suffix_prompt(template, body.prompt, body.suffix)
    messages = prompts.generate_messages(model, body.prompt, body.system, with_history=body.context is None)
    return prompts.render(template, messages)


@router.post("/api/generate")
async def generate(request: Request) -> Response:
    body = await read_body(request, GenerateRequest)
    model, grammar, top, keep_alive = _checks(request, body, "generate", OllamaError(404, "model '' not found"))
    if body.raw and (body.template or body.system or body.context):
        raise bad_request("raw mode does not support template, system, or context")
    if body.suffix:
        common.check_capability(model, "insert")
    if body.images:
        common.check_capability(model, "vision")
    if not body.prompt and not body.suffix:
        reason = await _load_or_unload(request, model, body.options, keep_alive)
        return JSONResponse({"model": body.model, "created_at": created_at(), "response": "",
                             "done": True, "done_reason": reason})  # fmt: skip
    prompt = _generate_prompt(model, body)
    if body.debug_render_only:
        return _debug_reply(body.model, {"response": ""}, prompt)
    spec = Spec(model=model, prompt=prompt,
                options=model_options(model, body.options, request.app.state.settings.context_length),
                keep_alive=keep_alive, stream=body.stream is not False, grammar=grammar, top_logprobs=top,
                truncate=body.truncate is not False, shift=body.shift is not False, context=body.context or [])  # fmt: skip
    job = await completion.start(common.scheduler(request), spec)

    def final(event: Event, text: str) -> dict:
        after = {} if body.raw else {"context": event["context"]}
        return _final(body.model, {"response": text}, event, after, top >= 0 and not spec.stream)

    if not spec.stream:
        event = await job.result(request)
        return JSONResponse(final(event, event["text"]))
    return ClosingStream(_generate_lines(job, body.model, top, final), job, NDJSON)


async def _generate_lines(job, model: str, top: int, final: Callable[[Event, str], dict]) -> AsyncIterator[bytes]:
    async for event in job.events():
        if "error" in event:
            yield _line({"error": event["error"]})
        elif "done_reason" in event:
            yield _line(final(event, ""))
        else:
            chunk = {"model": model, "created_at": created_at(), "response": event["text"], "done": False}
            if top >= 0:
                chunk["logprobs"] = event["logprobs"]
            yield _line(chunk)


def _message(content: str, calls: list[dict] | None = None) -> dict:
    out = {"role": "assistant", "content": content}
    if calls:
        out["tool_calls"] = calls
    return out


@router.post("/api/chat")
async def chat(request: Request) -> Response:
    body = await read_body(request, ChatRequest)
    model, grammar, top, keep_alive = _checks(request, body, "chat", bad_request("model is required"))
    if body.tools:
        common.check_capability(model, "tools")
    if any(m.images for m in body.messages):
        common.check_capability(model, "vision")
    if not body.messages:
        reason = await _load_or_unload(request, model, body.options, keep_alive)
        return JSONResponse({"model": body.model, "created_at": created_at(),
                             "message": {"role": "assistant", "content": ""},
                             "done": True, "done_reason": reason})  # fmt: skip
    messages = [m.model_dump(exclude_none=True) | {"role": m.role.lower()} for m in body.messages]
    messages = prompts.chat_messages(model, messages)
    options = model_options(model, body.options, request.app.state.settings.context_length)
    truncate, tools = body.truncate is not False, body.tools or None
    spec = Spec(model=model, prompt="", options=options, keep_alive=keep_alive,
                stream=body.stream is not False, grammar=grammar, top_logprobs=top,
                truncate=truncate, shift=body.shift is not False)  # fmt: skip

    def render(count: Callable[[str], int]) -> str:
        return prompts.fit_chat(model.template or "", messages, tools, count, options["num_ctx"], truncate)

    if body.debug_render_only:
        prompt = await completion.render_only(common.scheduler(request), spec, render)
        return _debug_reply(body.model, {"message": {"role": "", "content": ""}}, prompt)
    job = await completion.start(common.scheduler(request), spec, render=render)
    names = {t.get("function", {}).get("name") for t in tools or []}

    def final(event: Event, content: str, calls: list[dict] | None = None) -> dict:
        return _final(body.model, {"message": _message(content, calls)}, event, {}, top >= 0 and not spec.stream)

    if not spec.stream:
        event = await job.result(request)
        calls, content = tool_calls.parse(event["text"], names) if tools else ([], event["text"])
        return JSONResponse(final(event, content, calls))
    return ClosingStream(_chat_lines(job, body.model, top, names if tools else None, final), job, NDJSON)


async def _chat_lines(job, model: str, top: int, names: set | None, final) -> AsyncIterator[bytes]:
    """Chat chunks; with tools, text that may still become a tool call is held back."""

    def chunk(content: str, calls: list[dict] | None = None, logprobs: list | None = None) -> bytes:
        out = {"model": model, "created_at": created_at(), "message": _message(content, calls), "done": False}
        if top >= 0 and logprobs is not None:
            out["logprobs"] = logprobs
        return _line(out)

    held, deciding = "", names is not None
    async for event in job.events():
        if "error" in event:
            yield _line({"error": event["error"]})
        elif "done_reason" in event:
            if held:
                calls, content = tool_calls.parse(held, names or set())
                if calls or content:
                    yield chunk(content, calls)
            yield _line(final(event, ""))
        elif deciding and tool_calls.may_become_call(held + event["text"]):
            held += event["text"]
        else:
            text, held, deciding = held + event["text"], "", False
            yield chunk(text, None, event["logprobs"])
