"""Checks every inference route makes: the model, think, format, keep_alive, logprobs."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from ...store.names import InvalidName, parse_name
from .. import describe
from ..describe import StoredModel
from ..errors import OllamaError, bad_request
from ..runner.sampling import FormatError, grammar_for
from ..runner.scheduler import Scheduler

THINK_LEVELS = ("high", "medium", "low", "max")


def scheduler(request: Request) -> Scheduler:
    return request.app.state.scheduler


def find_model(request: Request, text: str, not_found: str) -> StoredModel:
    """The stored model a request names, or Ollama's 400/404 (``not_found`` is a format)."""
    try:
        name = parse_name(text)
    except InvalidName as exc:
        raise bad_request("invalid model name") from exc
    model = describe.load(request.app.state.store, name)
    if model is None or model.model_path is None:
        raise OllamaError(404, not_found.format(text))
    return model


def check_think(value: Any, model: StoredModel, model_text: str) -> bool:
    """Ollama's think: a bool or a level; thinking on a model without it is a 400."""
    if value is None or value is False:
        return False
    if value is not True and value not in THINK_LEVELS:
        shown = f'"{value}"' if isinstance(value, str) else str(value)
        raise bad_request(f'invalid think value: {shown} (must be "high", "medium", "low", "max", true, or false)')
    if "thinking" not in model.capabilities():
        raise bad_request(f'"{model_text}" does not support thinking')
    return True


def check_completion(model: StoredModel, model_text: str, action: str) -> None:
    """An embedding model neither generates nor chats: ``"m" does not support chat``."""
    if "completion" not in model.capabilities():
        raise bad_request(f'"{model_text}" does not support {action}')


def check_capability(model: StoredModel, capability: str) -> None:
    """``<full name> does not support tools|insert|vision``."""
    if capability not in model.capabilities():
        raise bad_request(f"{model.name.full} does not support {capability}")


def grammar(format_: Any) -> str | None:
    try:
        return grammar_for(format_)
    except FormatError as exc:
        raise bad_request(f'invalid format: {exc}; expected "json" or a valid JSON Schema object') from exc


def top_logprobs(logprobs: bool, top: int) -> int:
    """-1 when no logprobs were asked for, else how many alternatives to list."""
    if not 0 <= top <= 20:
        raise bad_request("top_logprobs must be between 0 and 20")
    return top if logprobs or top else -1
