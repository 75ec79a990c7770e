"""Ollama's ``options``: defaults, Modelfile and request precedence, type checks.

Precedence is request, then the Modelfile's PARAMETERs, then Ollama's defaults.
Unknown keys are ignored, as Ollama ignores them; a value of the wrong type is
Ollama's 500 ``option "k" must be of type …``. Runner options (``num_ctx`` and
friends) decide whether a loaded model must be reloaded.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from ..errors import OllamaError

#: Ollama's api.DefaultOptions(), minus num_ctx (which depends on the machine).
DEFAULTS: dict[str, Any] = {
    "num_keep": 4, "seed": -1, "num_predict": -1, "top_k": 40, "top_p": 0.9,
    "min_p": 0.0, "typical_p": 1.0, "repeat_last_n": 64, "repeat_penalty": 1.0,
    "temperature": 0.8, "presence_penalty": 0.0, "frequency_penalty": 0.0,
    "stop": [], "num_batch": 512, "num_gpu": -1, "main_gpu": 0, "use_mmap": None,
    "num_thread": 0, "draft_num_predict": 4,
}  # fmt: skip
#: Changing one of these on a loaded model reloads it (Ollama's needsReload).
RUNNER_KEYS = ("num_ctx", "num_batch", "num_gpu", "main_gpu", "use_mmap", "num_thread", "draft_num_predict")
_KINDS = {
    **dict.fromkeys(("num_keep", "seed", "num_predict", "top_k", "repeat_last_n", "num_ctx",
                     "num_batch", "num_gpu", "main_gpu", "num_thread", "draft_num_predict"), "integer"),
    **dict.fromkeys(("top_p", "min_p", "typical_p", "repeat_penalty", "temperature",
                     "presence_penalty", "frequency_penalty"), "float32"),
    "use_mmap": "boolean", "stop": "array",
}  # fmt: skip
DEFAULT_NUM_CTX = 4096  # Ollama's tier below 23 GiB of VRAM, and so on every CPU
MIN_NUM_CTX = 4


def _typed(key: str, value: Any) -> Any:
    """Check one value as Ollama's ``Options.FromMap`` does."""
    kind = _KINDS[key]
    wrong = OllamaError(500, f'option "{key}" must be of type {kind}')
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong
        return int(value)  # a float sent to an int option is truncated, as in Go
    if kind == "float32":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong
        return float(value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise wrong
        return value
    if not isinstance(value, list):
        raise wrong
    if not all(isinstance(item, str) for item in value):
        raise OllamaError(500, f'option "{key}" must be of an array of strings')
    return list(value)


@dataclass(frozen=True)
class Options:
    """The resolved options of one request."""

    values: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    @property
    def runner(self) -> tuple:
        """What the loaded runner was built with; a change means a reload."""
        return tuple(self.values[k] for k in RUNNER_KEYS)


def resolve(
    model_params: dict[str, Any],
    request_options: dict[str, Any] | None,
    *,
    context_length: int = 0,
    trained_context: int = 0,
) -> Options:
    """Merge defaults, the Modelfile's PARAMETERs and the request's options."""
    values = dict(DEFAULTS)
    values["num_ctx"] = context_length or DEFAULT_NUM_CTX
    for source in (model_params, request_options or {}):
        for key, value in source.items():
            if key in _KINDS and value is not None:
                values[key] = _typed(key, value)
    num_ctx = max(values["num_ctx"], MIN_NUM_CTX)
    if trained_context:
        num_ctx = min(num_ctx, trained_context)
    values["num_ctx"] = num_ctx
    return Options(values)


_DURATION = re.compile(r"([0-9]*\.?[0-9]*)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
FOREVER = math.inf


def parse_go_duration(text: str) -> float:
    """Go's time.ParseDuration, in seconds.

    >>> parse_go_duration("10m"), parse_go_duration("1h30m"), parse_go_duration("-1m")
    (600.0, 5400.0, -60.0)
    >>> parse_go_duration("0"), parse_go_duration("1.5s")
    (0.0, 1.5)
    >>> parse_go_duration("300")
    Traceback (most recent call last):
    ValueError: time: missing unit in duration "300"
    """
    original = text
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    if body == "0":
        return 0.0
    if not body:
        raise ValueError(f'time: invalid duration "{original}"')
    total, position = 0.0, 0
    while position < len(body):
        match = _DURATION.match(body, position)
        if not match or not match.group(1) or match.group(1) == ".":
            number = re.match(r"[0-9.]*", body[position:]).group()
            if number and position + len(number) == len(body):
                raise ValueError(f'time: missing unit in duration "{original}"')
            raise ValueError(f'time: invalid duration "{original}"')
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    return sign * total


def parse_keep_alive(value: Any) -> float | None:
    """A request's keep_alive in seconds: None keeps the runner's; negative = forever.

    >>> parse_keep_alive(None), parse_keep_alive(30), parse_keep_alive("5m"), parse_keep_alive(-1)
    (None, 30.0, 300.0, inf)
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise OllamaError(400, "Unsupported type: 'bool'")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = parse_go_duration(value.strip())
        except ValueError as exc:
            raise OllamaError(400, str(exc)) from exc
    else:
        raise OllamaError(400, f"Unsupported type: '{type(value).__name__}'")
    return FOREVER if seconds < 0 else seconds


def env_keep_alive(text: str) -> float:
    """OLLAMA_KEEP_ALIVE: a Go duration or integer seconds; negative = forever."""
    text = text.strip().strip("\"'")
    try:
        seconds = float(int(text))
    except ValueError:
        try:
            seconds = parse_go_duration(text)
        except ValueError:
            seconds = 300.0
    return FOREVER if seconds < 0 else seconds
