"""One completion from request to events, shared by ``/api/*`` and ``/v1/*``.

``start`` does everything that can still fail with a proper HTTP status (taking a
runner, fitting the prompt into ``num_ctx``, building the sampler) and then queues
the sequence. The returned ``Completion`` yields the runner's events; closing it
early (a client that hung up) frees the slot at once and releases the runner.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from fastapi import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from .describe import StoredModel
from .errors import OllamaError
from .runner.engine import Event, Sequence, model_metadata
from .runner.options import Options
from .runner.options import resolve as resolve_options
from .runner.sampling import build_sampler
from .runner.scheduler import Loaded, Scheduler

log = logging.getLogger("lab_ollama.completion")
TOO_LONG = (
    "the prompt is longer than the context length currently available to the model; "
    "shorten the prompt, adjust the context length in settings, or use a model with a "
    "longer context length"
)


def model_options(model: StoredModel, request_options: dict | None, context_length: int) -> Options:
    """Request options over Modelfile PARAMETERs over defaults, num_ctx capped at training."""
    trained = 0
    if model.model_path is not None:
        info = model_metadata(str(model.model_path))
        trained = int(info.get(f"{info.get('general.architecture', 'llama')}.context_length", 0))
    return resolve_options(model.params, request_options, context_length=context_length, trained_context=trained)


def truncate(tokens: list[int], num_ctx: int, num_keep: int) -> list[int]:
    """Ollama's cut of a prompt longer than ``num_ctx``: keep the first ``num_keep``
    tokens, then the end, ``num_ctx - (num_ctx - keep) // 2`` tokens in all, so half
    of what follows ``num_keep`` is left free to generate in (``llm/llama_server.go``).

    >>> len(truncate(list(range(1000)), 256, 4)), truncate(list(range(1000)), 256, 4)[:6]
    (130, [0, 1, 2, 3, 874, 875])
    """
    keep = min(max(num_keep, 0), num_ctx - 1)
    target = num_ctx - (num_ctx - keep) // 2
    return tokens[:keep] + tokens[len(tokens) - (target - keep):]


@dataclass
class Spec:
    """What to complete, once the route has checked the request."""

    model: StoredModel
    prompt: str
    options: Options
    keep_alive: float | None = None
    stream: bool = True
    grammar: str | None = None
    top_logprobs: int = -1
    truncate: bool = True
    shift: bool = True
    context: list[int] = field(default_factory=list)


class Completion:
    """A queued sequence: iterate ``events()`` or await ``result()``."""

    def __init__(self, scheduler: Scheduler, loaded: Loaded, sequence: Sequence,
                 queue: asyncio.Queue, started: int, load_duration: int) -> None:  # fmt: skip
        self.scheduler, self.loaded, self.sequence, self.queue = scheduler, loaded, sequence, queue
        self.started, self.load_duration = started, load_duration
        self.finished = self.closed = False

    def _final(self, event: Event) -> Event:
        self.finished = True
        if "error" not in event:
            event["total_duration"] = time.perf_counter_ns() - self.started
            event["load_duration"] = self.load_duration
        return event

    async def events(self) -> AsyncIterator[Event]:
        """Token events, then the final one (with timings) or an error."""
        try:
            while True:
                event = await self.queue.get()
                if "done_reason" in event or "error" in event:
                    yield self._final(event)
                    return
                yield event
        finally:
            self.close()

    async def result(self, request: Request | None = None) -> Event:
        """The final event of a non-streaming request; a client that leaves cancels it."""
        getter = asyncio.ensure_future(self.queue.get())
        watcher = asyncio.ensure_future(_disconnected(request)) if request is not None else None
        try:
            await asyncio.wait({getter, watcher} - {None}, return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():
                raise OllamaError(499, "request canceled")
            event = self._final(getter.result())
        finally:
            for task in (getter, watcher):
                if task is not None:
                    task.cancel()
            self.close()
        if "error" in event:
            raise OllamaError(500, event["error"])
        return event

    def close(self) -> None:
        """Free the slot (if still running) and release the runner; safe to repeat."""
        if self.closed:
            return
        self.closed = True
        if not self.finished and self.loaded.runner is not None:
            self.loaded.runner.cancel(self.sequence)
        self.scheduler.release(self.loaded)


async def start(
    scheduler: Scheduler, spec: Spec, render: Callable[[Callable[[str], int]], str] | None = None
) -> Completion:
    """Take a runner and queue the sequence; errors here keep their HTTP status.

    ``render`` builds the prompt when it depends on token counts (chat drops old
    messages to fit ``num_ctx``); it gets a function that counts a text's tokens.
    """
    started = time.perf_counter_ns()
    loaded = await scheduler.acquire(spec.model, spec.options, spec.keep_alive)
    load_duration = time.perf_counter_ns() - started
    try:
        runner = loaded.runner
        prompt = render(lambda text: len(runner.tokenize(text))) if render else spec.prompt
        text = runner.detokenize(spec.context) + prompt if spec.context else prompt
        tokens = runner.tokenize(text)
        log.debug("prompt for %s (%d tokens): %r", spec.model.name.display, len(tokens), text)
        num_ctx, num_keep = spec.options["num_ctx"], spec.options["num_keep"]
        if len(tokens) >= num_ctx:
            if not (spec.truncate and spec.shift):
                raise OllamaError(400, TOO_LONG)
            tokens = truncate(tokens, num_ctx, num_keep)
        if not tokens:
            tokens = runner.tokenize(" ")
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        sequence = Sequence(
            prompt=tokens,
            sampler=build_sampler(runner.model, spec.options, spec.grammar),
            emit=lambda event: loop.call_soon_threadsafe(queue.put_nowait, event),
            num_predict=spec.options["num_predict"],
            stop=tuple(spec.options["stop"]),
            stream=spec.stream,
            top_logprobs=spec.top_logprobs,
            num_keep=num_keep,
            shift=spec.shift,
        )
    except BaseException:
        scheduler.release(loaded)
        raise
    runner.submit(sequence)
    return Completion(scheduler, loaded, sequence, queue, started, load_duration)


async def render_only(scheduler: Scheduler, spec: Spec, render: Callable[[Callable[[str], int]], str]) -> str:
    """``_debug_render_only`` on chat: the prompt as fitted into ``num_ctx`` (which
    needs the model's tokenizer, so the model loads, as in Ollama), never run."""
    loaded = await scheduler.acquire(spec.model, spec.options, spec.keep_alive)
    try:
        return render(lambda text: len(loaded.runner.tokenize(text)))
    finally:
        scheduler.release(loaded)


async def _disconnected(request: Request) -> None:
    """Returns when the client hangs up (the body is read, so only that can come)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


class ClosingStream(StreamingResponse):
    """A streaming response that always closes its completion, even when the client
    hangs up before the first chunk (the generator's own ``finally`` would not run)."""

    def __init__(self, content, completion: Completion, media_type: str) -> None:
        super().__init__(content, media_type=media_type)
        self.completion = completion

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.completion.close()


def created_at() -> str:
    """UTC, RFC 3339 with nanoseconds, as Go's time.Time marshals it."""
    ns = time.time_ns()
    seconds, fraction = divmod(ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    digits = f"{fraction:09d}".rstrip("0")
    return f"{stamp}.{digits}Z" if digits else f"{stamp}Z"


METRICS = ("total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_count", "eval_duration")


def metrics(event: Event) -> dict:
    """The final chunk's timings and counts, zero values omitted as Go's omitempty does."""
    return {k: event[k] for k in METRICS if event.get(k)}
