"""Model management: tags, pull, show, create, copy, delete and blobs."""

from __future__ import annotations

import json
from collections.abc import Iterator

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from ...store.layout import Store, StoreError
from ...store.names import InvalidName, ModelName, parse_name
from .. import describe
from ..create import create
from ..errors import OllamaError, bad_request, not_found, read_body
from ..pull import pull
from ..schemas import CopyRequest, CreateRequest, DeleteRequest, PullRequest, ShowRequest

router = APIRouter()
NDJSON = "application/x-ndjson"


def _store(request: Request) -> Store:
    return request.app.state.store


def stream_or_last(statuses: Iterator[dict], stream: bool | None) -> Response:
    """NDJSON progress (``stream`` absent, null or true), else one final object.

    An error before the first line keeps its status; after output started, HTTP
    stays 200 and the last line is ``{"error": …}``, as Ollama does.
    """
    if stream is False:
        last: dict = {}
        for last in statuses:
            pass
        return JSONResponse(last)
    first = next(statuses)  # errors before any output raise here, with their status

    def lines() -> Iterator[bytes]:
        yield _line(first)
        try:
            for status in statuses:
                yield _line(status)
        except OllamaError as exc:
            yield _line({"error": exc.message})

    return StreamingResponse(lines(), media_type=NDJSON)


def _line(obj: dict) -> bytes:
    """One NDJSON line, compact like Go's encoding/json."""
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def _required(text: str) -> str:
    """Ollama's 400 for an empty model field on show and delete."""
    if not text:
        raise bad_request("model is required")
    return text


def _parse(text: str, message: str = "invalid model name") -> ModelName:
    try:
        return parse_name(text)
    except InvalidName as exc:
        raise bad_request(message) from exc


@router.api_route("/api/tags", methods=["GET", "HEAD"])
def tags(request: Request) -> dict:
    store = _store(request)
    entries = [describe.tags_entry(describe.load(store, name)) for name, _ in store.models()]
    entries.sort(key=lambda e: e["modified_at"], reverse=True)
    return {"models": entries}


@router.post("/api/pull")
async def pull_route(request: Request) -> Response:
    body = await read_body(request, PullRequest)
    name = _parse(body.model or body.name)
    return await run_in_threadpool(stream_or_last, pull(_store(request), name), body.stream)


@router.post("/api/create")
async def create_route(request: Request) -> Response:
    body = await read_body(request, CreateRequest)
    return await run_in_threadpool(stream_or_last, create(_store(request), body), body.stream)


@router.post("/api/show")
async def show_route(request: Request) -> dict:
    body = await read_body(request, ShowRequest)
    text = _required(body.model or body.name)
    name = _parse(text)
    model = describe.load(_store(request), name)
    if model is None:
        raise not_found(f"model '{name.display}' not found")
    return describe.show(model, verbose=body.verbose)


@router.post("/api/copy")
async def copy_route(request: Request) -> Response:
    body = await read_body(request, CopyRequest)
    source = _parse(body.source, f'source "{body.source}" is invalid')
    destination = _parse(body.destination, f'destination "{body.destination}" is invalid')
    if not _store(request).copy(source, destination):
        raise not_found(f'model "{body.source}" not found')
    return Response(status_code=200)


@router.delete("/api/delete")
async def delete_route(request: Request) -> Response:
    body = await read_body(request, DeleteRequest)
    text = _required(body.model or body.name)
    name = _parse(text, f'name "{text}" is invalid')
    if not _store(request).delete(name):
        raise not_found(f"model '{text}' not found")
    return Response(status_code=200)


@router.head("/api/blobs/{digest}")
def blob_exists(digest: str, request: Request) -> Response:
    try:
        present = _store(request).has_blob(digest)
    except StoreError as exc:
        raise bad_request(str(exc)) from exc
    return Response(status_code=200 if present else 404)


@router.post("/api/blobs/{digest}")
async def blob_upload(digest: str, request: Request) -> Response:
    store = _store(request)
    try:
        if store.has_blob(digest):
            return Response(status_code=200)
        chunks = []
        async for chunk in request.stream():
            chunks.append(chunk)
        await run_in_threadpool(store.write_blob, chunks, digest)
    except StoreError as exc:
        raise bad_request(str(exc)) from exc
    return Response(status_code=201)
