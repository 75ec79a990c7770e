"""One place that turns failures into Ollama's error responses.

Ollama answers ``{"error": "<text>"}`` with a status (400, 404, 500, 503…), an
unknown path ``404 page not found`` and a wrong method ``405 method not allowed`` as
plain text. Nothing else ever reaches a client: an unexpected exception becomes a
500 with Ollama's JSON shape, logged on the server, never a traceback.
"""

from __future__ import annotations

import json
import logging
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("lab_ollama")
Model = TypeVar("Model", bound=BaseModel)

class OllamaError(Exception):
    """An error with Ollama's status and text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def not_found(message: str) -> OllamaError:
    return OllamaError(404, message)


def bad_request(message: str) -> OllamaError:
    return OllamaError(400, message)


async def read_body(request: Request, model: type[Model]) -> Model:
    """Decode a JSON body as Go's encoding/json would judge it.

    Empty → ``missing request body``; not JSON → the decoder's complaint; a field of
    the wrong type → ``json: cannot unmarshal …``. Unknown fields are ignored.
    """
    raw = await request.body()
    if not raw.strip():
        raise bad_request("missing request body")
    try:
        data: Any = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise bad_request(go_json_error(exc)) from exc
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise bad_request(f"json: cannot unmarshal {_go_type(kind)} into Go value of type api.{model.__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        got = _go_type(type(first.get("input")).__name__)
        raise bad_request(
            f"json: cannot unmarshal {got} into Go struct field {model.__name__}.{field}"
        ) from exc


_GO_CONTEXT = {
    "Expecting value": "looking for beginning of value",
    "Expecting property name enclosed in double quotes": "looking for beginning of object key string",
    "Expecting ':' delimiter": "after object key",
    "Expecting ',' delimiter": "after object key:value pair",
    "Extra data": "after top-level value",
}


def go_json_error(exc: json.JSONDecodeError) -> str:
    """Python's JSON complaint in the words of Go's encoding/json.

    >>> import json
    >>> for text in ["{not json", "nope", '{"a" 1}', "{} x", '{"a":']:
    ...     try:
    ...         json.loads(text)
    ...     except json.JSONDecodeError as exc:
    ...         print(go_json_error(exc))
    invalid character 'n' looking for beginning of object key string
    invalid character 'o' in literal null (expecting 'u')
    invalid character '1' after object key
    invalid character 'x' after top-level value
    unexpected end of JSON input
    """
    if exc.pos >= len(exc.doc):
        return "unexpected end of JSON input"
    char = exc.doc[exc.pos]
    if exc.msg == "Expecting value" and exc.doc[exc.pos] == "n" and exc.pos + 1 < len(exc.doc):
        return f"invalid character '{exc.doc[exc.pos + 1]}' in literal null (expecting 'u')"
    context = _GO_CONTEXT.get(exc.msg, "looking for beginning of value")
    return f"invalid character '{char}' {context}"


def _go_type(python_type: str) -> str:
    return {"str": "string", "bool": "bool", "int": "number", "float": "number",
            "list": "array", "dict": "object", "NoneType": "null"}.get(python_type, python_type)  # fmt: skip


def install(app: FastAPI) -> None:
    """Register the handlers that give every failure Ollama's shape."""

    @app.exception_handler(OllamaError)
    async def _ollama(_: Request, exc: OllamaError) -> JSONResponse:
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> PlainTextResponse:
        text = {404: "404 page not found", 405: "405 method not allowed"}.get(
            exc.status_code, str(exc.detail)
        )
        return PlainTextResponse(text, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return JSONResponse({"error": f"internal error: {type(exc).__name__}"}, status_code=500)
