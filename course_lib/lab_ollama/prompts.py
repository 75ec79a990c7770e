"""What the model reads: Ollama's prompt building from a model's TEMPLATE.

A template that uses ``.Messages`` gets the whole conversation (system messages
collated into ``.System``, ``.Tools`` for tool-calling models). An older template
with only ``.System``/``.Prompt``/``.Response`` is rendered once per turn and cut
after the last ``.Response``, as Ollama does. Chat drops the oldest non-system
messages until the prompt fits ``num_ctx``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import gotemplate
from .describe import DEFAULT_TEMPLATE, StoredModel


def collate(messages: list[dict]) -> tuple[str, list[dict]]:
    """System texts joined, and consecutive same-role messages merged (not tool's).

    >>> collate([{"role": "system", "content": "a"}, {"role": "user", "content": "b"},
    ...          {"role": "user", "content": "c"}])
    ('a', [{'role': 'system', 'content': 'a'}, {'role': 'user', 'content': 'b\\n\\nc'}])
    """
    system: list[str] = []
    merged: list[dict] = []
    for message in messages:
        if message["role"] == "system":
            system.append(message.get("content", ""))
        if merged and merged[-1]["role"] == message["role"] and message["role"] != "tool":
            merged[-1] = {**merged[-1], "content": merged[-1].get("content", "") + "\n\n" + message.get("content", "")}
        else:
            merged.append(dict(message))
    return "\n\n".join(system), merged


def _for_template(message: dict) -> dict:
    """A message with Go's field names, as Ollama's template sees it."""
    calls = [
        {"ID": c.get("id", ""), "Function": {"Index": c.get("function", {}).get("index", 0),
                                            "Name": c.get("function", {}).get("name", ""),
                                            "Arguments": c.get("function", {}).get("arguments", {})}}
        for c in message.get("tool_calls") or []
    ]  # fmt: skip
    return {
        "Role": message["role"],
        "Content": message.get("content", ""),
        "Thinking": message.get("thinking", ""),
        "Images": message.get("images") or [],
        "ToolCalls": calls,
        "ToolName": message.get("tool_name", ""),
        "ToolCallID": message.get("tool_call_id", ""),
    }


def _tool_for_template(tool: dict) -> dict:
    return {"Type": tool.get("type", "function"), "Function": tool.get("function", {})}


def render(template: str, messages: list[dict], tools: list[dict] | None = None, think: bool | None = None) -> str:
    """The prompt text for a conversation."""
    nodes = gotemplate.parse(template or DEFAULT_TEMPLATE)
    system, collated = collate(messages)
    if "Messages" in gotemplate.fields(nodes):
        data: dict[str, Any] = {
            "System": system,
            "Messages": [_for_template(m) for m in collated],
            "Tools": [_tool_for_template(t) for t in tools or []],
            "Response": "",
            "Think": bool(think),
        }
        return gotemplate.render(nodes, data)
    out: list[str] = []
    turn = {"System": "", "Prompt": "", "Response": ""}

    def flush() -> None:
        out.append(gotemplate.render(nodes, turn))
        turn.update(System="", Prompt="", Response="")

    for message in collated:
        role, content = message["role"], message.get("content", "")
        if role == "system":
            if turn["Prompt"] or turn["Response"]:
                flush()
            turn["System"] = content
        elif role == "user":
            if turn["Response"]:
                flush()
            turn["Prompt"] = content
        elif role == "assistant":
            turn["Response"] = content
    out.append(gotemplate.render(gotemplate.cut_after(nodes, "Response"), turn))
    return "".join(out)


def suffix_prompt(template: str, prompt: str, suffix: str) -> str:
    """Fill-in-the-middle: the template gets ``.Prompt`` and ``.Suffix`` only."""
    return gotemplate.render(template or DEFAULT_TEMPLATE, {"Prompt": prompt, "Suffix": suffix, "Response": ""})


def generate_messages(model: StoredModel, prompt: str, system: str | None, with_history: bool) -> list[dict]:
    """/api/generate's conversation: a system, the Modelfile's MESSAGEs, the prompt."""
    messages: list[dict] = []
    if system or model.system:
        messages.append({"role": "system", "content": system or model.system})
    if with_history:
        messages.extend(model.messages)
    messages.append({"role": "user", "content": prompt})
    return messages


def chat_messages(model: StoredModel, messages: list[dict]) -> list[dict]:
    """/api/chat's conversation: MESSAGEs first; SYSTEM unless the chat brings one."""
    combined = list(model.messages) + list(messages)
    if model.system and (not messages or messages[0]["role"] != "system"):
        combined.insert(0, {"role": "system", "content": model.system})
    return combined


def fit_chat(
    template: str,
    messages: list[dict],
    tools: list[dict] | None,
    count_tokens: Callable[[str], int],
    num_ctx: int,
    truncate: bool = True,
) -> str:
    """Ollama's chatPrompt: keep the last message, then older ones while they fit."""
    start = len(messages) - 1
    if truncate:
        for i in range(len(messages) - 2, -1, -1):
            systems = [m for m in messages[:i] if m["role"] == "system"]
            if count_tokens(render(template, systems + messages[i:], tools)) > num_ctx:
                break
            start = i
    else:
        start = 0
    systems = [m for m in messages[:start] if m["role"] == "system"]
    return render(template, systems + messages[start:], tools)
