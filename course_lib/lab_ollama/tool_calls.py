"""Finding tool calls in what a model wrote, as Ollama's tool parser does.

Models trained for tools answer with JSON objects such as
``<tool_call>{"name": "f", "arguments": {…}}</tool_call>``. Objects that name one of
the request's tools become ``tool_calls`` (arguments as an object, ids
``call_<8 chars>``); the text around them stays content.
"""

from __future__ import annotations

import json
import random
import string

_DECODER = json.JSONDecoder()
OPEN_TAGS = ("<tool_call>", "<|tool_call|>", "[TOOL_CALLS]")


def call_id() -> str:
    return "call_" + "".join(random.choices(string.ascii_lowercase + string.digits, k=8))


def parse(text: str, tool_names: set[str]) -> tuple[list[dict], str]:
    """Tool calls found in ``text``, and the content left once they are removed.

    >>> calls, rest = parse('<tool_call>\\n{"name": "add", "arguments": {"a": 1}}\\n</tool_call>', {"add"})
    >>> [c["function"] for c in calls], rest
    ([{'index': 0, 'name': 'add', 'arguments': {'a': 1}}], '')
    >>> parse('{"name": "nope", "arguments": {}}', {"add"})[0]
    []
    """
    calls: list[dict] = []
    spans: list[tuple[int, int]] = []
    position = 0
    while (start := text.find("{", position)) != -1:
        try:
            value, end = _DECODER.raw_decode(text, start)
        except json.JSONDecodeError:
            position = start + 1
            continue
        position = end
        for item in value if isinstance(value, list) else [value]:
            call = _as_call(item, tool_names)
            if call is not None:
                call["function"]["index"] = len(calls)
                calls.append(call)
                spans.append((start, end))
    if not calls:
        return [], text
    rest, last = [], 0
    for start, end in spans:
        rest.append(text[last:start])
        last = end
    rest.append(text[last:])
    content = "".join(rest)
    for tag in OPEN_TAGS + ("</tool_call>", "<|/tool_call|>"):
        content = content.replace(tag, "")
    return calls, content.strip()


def _as_call(item: object, tool_names: set[str]) -> dict | None:
    if not isinstance(item, dict):
        return None
    name = item.get("name") or (item.get("function") or {}).get("name")
    arguments = item.get("arguments", item.get("parameters", (item.get("function") or {}).get("arguments")))
    if name not in tool_names:
        return None
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError:
            return None
    if not isinstance(arguments, dict):
        arguments = {}
    return {"id": call_id(), "function": {"index": 0, "name": name, "arguments": arguments}}


def may_become_call(text: str) -> bool:
    """While streaming: could this start of an answer still turn into a tool call?

    >>> may_become_call("<tool"), may_become_call('{"na'), may_become_call("Hello")
    (True, True, False)
    """
    head = text.lstrip()
    if not head:
        return True
    if head.startswith("{") or head.startswith("["):
        return True
    return any(tag.startswith(head) or head.startswith(tag) for tag in OPEN_TAGS)
