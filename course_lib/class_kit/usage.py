"""Who used the class gateway how much: its JSON access log summed per learner.

Each line of ``access.json`` is one request (nginx's ``log_format ... escape=json``);
the token counts are the engines' own, read by ``usage.js``, or null when the
response carried none (an OpenAI stream without ``stream_options.include_usage``).
Such requests are counted as ``unknown_tokens``, never as zero tokens.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from . import gateway

#: Where requests with no key, or an unknown one, are counted.
NO_LEARNER = "(no valid key)"


@dataclass
class Usage:
    """One learner's requests and tokens (prompt and completion, as the engines counted)."""

    requests: int = 0
    unauthorized: int = 0  # 401: no key, an unknown key, or a revoked one
    rate_limited: int = 0  # 429
    prompt_tokens: int = 0
    completion_tokens: int = 0
    unknown_tokens: int = 0  # admitted requests whose response reported no counts


def entries(path: Path | None = None) -> Iterator[dict]:
    """The log's requests, oldest first; a line cut short (nginx still writing) is skipped."""
    path = path or gateway.access_log()
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return
    for line in lines:
        try:
            yield json.loads(line)
        except json.JSONDecodeError:
            continue


def summarize(requests: Iterable[dict]) -> dict[str, Usage]:
    """Usage per learner; a revoked key's 401s count under its learner."""
    table: dict[str, Usage] = {}
    for entry in requests:
        learner = entry["learner"] or entry.get("revoked") or NO_LEARNER
        usage = table.setdefault(learner, Usage())
        usage.requests += 1
        if entry["status"] == 401:
            usage.unauthorized += 1
        elif entry["status"] == 429:
            usage.rate_limited += 1
        elif entry["prompt_tokens"] is None and entry["completion_tokens"] is None:
            usage.unknown_tokens += 1
        else:
            usage.prompt_tokens += entry["prompt_tokens"] or 0
            usage.completion_tokens += entry["completion_tokens"] or 0
    return table


def per_learner(path: Path | None = None) -> dict[str, Usage]:
    """The gateway's usage so far, per learner."""
    return summarize(entries(path))
