"""The ``>>>`` prompt of ``ollama run``: a chat with history and slash commands."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import ollama

from ..store import modelfile as mf
from . import commands

HELP = '''Available Commands:
  /set            Set session variables
  /show           Show model information
  /load <model>   Load a session or model
  /save <model>   Save your current session
  /clear          Clear session context
  /bye            Exit
  /?, /help       Help for a command
  /? shortcuts    Help for keyboard shortcuts

Use """ to begin a multi-line message.
'''
SET_HELP = """Available Commands:
  /set parameter ...     Set a parameter
  /set system <string>   Set system message
  /set history           Enable history
  /set nohistory         Disable history
  /set wordwrap          Enable wordwrap
  /set nowordwrap        Disable wordwrap
  /set format json       Enable JSON mode
  /set noformat          Disable formatting
  /set verbose           Show LLM stats
  /set quiet             Disable LLM stats
"""
SHOW_HELP = """Available Commands:
  /show info         Show details for this model
  /show license      Show model license
  /show modelfile    Show Modelfile for this model
  /show parameters   Show parameters for this model
  /show system       Show system message
  /show template     Show prompt template
"""


@dataclass
class Session:
    model: str
    verbose: bool = False
    format: str | None = None
    keepalive: str | None = None
    system: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    messages: list[dict] = field(default_factory=list)


def read_input(prompt: str = ">>> ") -> str | None:
    """One message; a line starting with triple quotes continues until they close."""
    try:
        line = input(prompt)
    except EOFError:
        return None
    if not line.startswith('"""'):
        return line
    lines = [line[3:]]
    while not lines[-1].endswith('"""'):
        try:
            lines.append(input("... "))
        except EOFError:
            return None
    lines[-1] = lines[-1][:-3]
    return "\n".join(lines).strip("\n")


def run(session: Session) -> None:
    """Loop until /bye or end of input."""
    c = commands.client()
    commands.heartbeat(c)
    commands.ensure_model(c, session.model)
    _load(c, session)
    while True:
        try:
            text = read_input()
        except KeyboardInterrupt:
            print("\nUse Ctrl + d or /bye to exit.")
            continue
        if text is None or text.strip() == "/bye":
            return
        if not text.strip():
            continue
        if text.startswith("/"):
            _command(c, session, text.strip())
        else:
            _chat(c, session, text)


def _load(c: ollama.Client, session: Session) -> None:
    body: dict = {"model": session.model, "messages": []}
    if session.keepalive:
        body["keep_alive"] = session.keepalive
    try:
        c._request_raw("POST", "/api/chat", json=body)
    except ollama.ResponseError as exc:
        raise commands.CliError(exc.error) from exc


def _chat(c: ollama.Client, session: Session, text: str) -> None:
    messages = list(session.messages)
    if session.system:
        messages = [{"role": "system", "content": session.system}] + messages
    messages.append({"role": "user", "content": text})
    body = _present({"model": session.model, "messages": messages, "stream": True},
                    options=session.options, format=session.format, keep_alive=session.keepalive)  # fmt: skip
    reply, final = [], {}
    try:
        for chunk in commands.ndjson(c, "/api/chat", body):
            piece = chunk.get("message", {}).get("content", "")
            reply.append(piece)
            print(piece, end="", flush=True)
            if chunk.get("done"):
                final = chunk
    except ollama.ResponseError as exc:
        print(f"Error: {commands.error_text(exc, streamed=True)}", file=sys.stderr)
        return
    print("\n")
    session.messages += [{"role": "user", "content": text}, {"role": "assistant", "content": "".join(reply)}]
    if session.verbose:
        commands.print_stats(final)


def _present(body: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """The body plus the fields that are set (empty ones are left out, as Go omits them)."""
    body.update({key: value for key, value in fields.items() if value})
    return body


def _command(c: ollama.Client, session: Session, text: str) -> None:
    words = text.split()
    head = words[0]
    if head in ("/?", "/help"):
        print(HELP)
    elif head == "/clear":
        session.messages.clear()
        print("Cleared session context")
    elif head == "/set":
        _set(session, text, words)
    elif head == "/show":
        _show(c, session, words)
    elif head == "/load" and len(words) > 1:
        print(f"Loading model '{words[1]}'")
        session.model, session.messages, session.options, session.system = words[1], [], {}, None
        commands.ensure_model(c, session.model)
        _load(c, session)
    elif head == "/save" and len(words) > 1:
        body = _present({"model": words[1], "from": session.model, "stream": False},
                        system=session.system, parameters=session.options, messages=session.messages)  # fmt: skip
        try:
            c._request_raw("POST", "/api/create", json=body)
        except ollama.ResponseError as exc:
            print(f"error: {exc.error}")
            return
        print(f"Created new model '{words[1]}'")
    elif head == "/list":
        commands.list_models()
    else:
        print(f"Unknown command '{head}'. Type /? for help")


def _set(session: Session, text: str, words: list[str]) -> None:
    what = words[1] if len(words) > 1 else ""
    if what == "parameter" and len(words) >= 4:
        name, values = words[2], words[3:]
        try:
            value = mf.parameter_value(name, [" ".join(values)] if name != "stop" else values)
        except mf.ModelfileError as exc:
            print(f"Couldn't set parameter: {exc}")
            return
        session.options[name] = value
        print(f"Set parameter '{name}' to '{', '.join(values)}'")
    elif what == "system":
        session.system = text.split("system", 1)[1].strip().strip('"')
        print("Set system message.")
    elif what in ("verbose", "quiet"):
        session.verbose = what == "verbose"
        print(f"Set '{what}' mode.")
    elif what == "format" and len(words) > 2 and words[2] == "json":
        session.format = "json"
        print("Set format to 'json' mode.")
    elif what == "noformat":
        session.format = None
        print("Disabled format.")
    elif what in ("history", "nohistory", "wordwrap", "nowordwrap"):
        print(f"Set '{what}' mode.")
    else:
        print(SET_HELP)


def _show(c: ollama.Client, session: Session, words: list[str]) -> None:
    what = words[1] if len(words) > 1 else ""
    parts = {"license": "license", "modelfile": "modelfile", "parameters": "parameters",
             "system": "system", "template": "template"}  # fmt: skip
    if what == "info":
        print(commands.summary(commands._show(c, session.model)))
    elif what in parts:
        info = commands._show(c, session.model)
        if what == "system" and session.system:
            print(session.system)
        elif what == "parameters" and session.options:
            print("User defined parameters:")
            for k, v in session.options.items():
                print(f"{k:<30} {v}")
        else:
            value = info.get(parts[what])
            print(value if value else f"No {what} was specified for this model.")
    else:
        print(SHOW_HELP)
