"""``/api/embed`` (normalised, batched) and the legacy ``/api/embeddings``.

Only an embedding model embeds (a GGUF with a pooling type, such as ``all-minilm``):
a generation model loads, then fails with the runner's text, 501 on ``/api/embed``
and ``/v1/embeddings``, 500 on ``/api/embeddings``, as Ollama 0.33 answers.
The legacy route returns the pooled vector as the runner gives it (llama-server
normalises by default; MiniLM's is mean-pooled, then normalised here too).
"""

from __future__ import annotations

import math
import time

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from ..completion import model_options
from ..describe import StoredModel
from ..errors import OllamaError, bad_request, read_body
from ..runner.options import parse_keep_alive
from ..schemas import EmbeddingsRequest, EmbedRequest
from . import common

router = APIRouter()
NOT_FOUND = 'model "{}" not found, try pulling it first'
NO_EMBEDDINGS = "This server does not support embeddings. Start it with `--embeddings`"


def normalise(vector: list[float]) -> list[float]:
    """L2-normalised, as /api/embed returns vectors.

    >>> normalise([3.0, 4.0])
    [0.6, 0.8]
    """
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector] if norm else vector


async def embed_texts(
    request: Request, model: StoredModel, texts: list[str], options_in: dict | None,
    keep_alive: float | None, truncate: bool = True,
) -> tuple[list[list[float]], int, int]:  # fmt: skip
    """Raw vectors, the number of tokens read, and the load time (ns)."""
    sched = common.scheduler(request)
    options = model_options(model, options_in, request.app.state.settings.context_length)
    started = time.perf_counter_ns()
    loaded = await sched.acquire(model, options, keep_alive)
    load_duration = time.perf_counter_ns() - started
    try:
        if texts and not model.embeds:  # the model loads first, as in Ollama
            raise OllamaError(501, NO_EMBEDDINGS)
        vectors, count = [], 0
        for text in texts:
            tokens = loaded.runner.tokenize(text)
            if len(tokens) > options["num_ctx"]:
                if not truncate:
                    raise bad_request("the input length exceeds the context length")
                tokens = tokens[: options["num_ctx"]]
            count += len(tokens)
            vectors.append(await run_in_threadpool(loaded.runner.embed, tokens))
    finally:
        sched.release(loaded)
    return vectors, count, load_duration


@router.post("/api/embed")
async def embed(request: Request) -> dict:
    started = time.perf_counter_ns()
    body = await read_body(request, EmbedRequest)
    if not body.model:
        raise OllamaError(404, "model '' not found")
    model = common.find_model(request, body.model, NOT_FOUND)
    keep_alive = parse_keep_alive(body.keep_alive)
    if isinstance(body.input, str):
        texts = [body.input] if body.input else []
    elif isinstance(body.input, list) and all(isinstance(t, str) for t in body.input):
        texts = list(body.input)
    elif body.input is None:
        texts = []
    else:
        raise bad_request("invalid input type")
    vectors, count, load_duration = await embed_texts(
        request, model, texts, body.options, keep_alive, truncate=body.truncate is not False
    )
    if body.dimensions > 0:
        vectors = [v[: body.dimensions] for v in vectors]
    reply = {"model": body.model, "embeddings": [normalise(v) for v in vectors],
             "total_duration": time.perf_counter_ns() - started, "load_duration": load_duration,
             "prompt_eval_count": count}  # fmt: skip
    return {k: v for k, v in reply.items() if v != 0}


@router.post("/api/embeddings")
async def embeddings(request: Request) -> dict:
    body = await read_body(request, EmbeddingsRequest)
    if not body.model:
        raise bad_request("model is required")
    model = common.find_model(request, body.model, NOT_FOUND)
    keep_alive = parse_keep_alive(body.keep_alive)
    texts = [body.prompt] if body.prompt else []
    try:
        vectors, _, _ = await embed_texts(request, model, texts, body.options, keep_alive)
    except OllamaError as exc:
        if exc.status == 501:  # this route turns the runner's error into a 500
            raise OllamaError(500, exc.message) from exc
        raise
    return {"embedding": normalise(vectors[0]) if vectors else []}
