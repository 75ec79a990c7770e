"""Modelfiles: parse them as Ollama does, and render them as ``ollama show`` does.

Parsing follows Ollama's ``parser/parser.go``: instructions are case-insensitive, a
value runs to the end of its line unless it is quoted with ``"`` or ``\"\"\"`` (both may
span lines), ``#`` starts a comment only at the start of a line, repeated
``PARAMETER stop`` lines accumulate and other parameters keep the last value.
Errors carry Ollama's own texts with the line number added. Rendering quotes a value
whenever the parser would otherwise read it differently, so ``parse(render(m)) == m``.
Taught in lesson 03.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

COMMANDS = (
    "from", "license", "template", "system", "adapter", "draft",
    "renderer", "parser", "parameter", "message", "requires",
)  # fmt: skip
ROLES = ("system", "user", "assistant")
_COMMAND_ERROR = "command must be one of " + ", ".join(
    f'"{c}"' for c in COMMANDS[:-1]
) + f', or "{COMMANDS[-1]}"'
_ROLE_ERROR = 'message role must be one of "system", "user", or "assistant"'

#: Parameter types, from the fields of Ollama's ``api.Options`` and ``api.Runner``.
PARAMETER_TYPES: dict[str, str] = {
    **dict.fromkeys(
        ("num_keep", "seed", "num_predict", "top_k", "repeat_last_n", "num_ctx",
         "num_batch", "num_gpu", "main_gpu", "num_thread", "draft_num_predict"),
        "int",
    ),
    **dict.fromkeys(
        ("top_p", "min_p", "typical_p", "repeat_penalty", "temperature",
         "presence_penalty", "frequency_penalty"),
        "float",
    ),
    "use_mmap": "bool",
    "stop": "array",
}  # fmt: skip
DEPRECATED_PARAMETERS = {
    "penalize_newline": "bool", "low_vram": "bool", "f16_kv": "bool",
    "logits_all": "bool", "vocab_only": "bool", "use_mlock": "bool",
    "mirostat": "int", "mirostat_tau": "float", "mirostat_eta": "float",
}  # fmt: skip

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|inf|infinity|nan)", re.I)
_BOOL = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
         "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}  # fmt: skip


class ModelfileError(ValueError):
    """A Modelfile Ollama would reject; the text is Ollama's, plus the line number."""


@dataclass
class Modelfile:
    """What a Modelfile says, in the shape ``/api/create`` takes it."""

    from_: str = ""
    adapters: list[str] = field(default_factory=list)
    template: str | None = None
    system: str | None = None
    parameters: dict[str, object] = field(default_factory=dict)
    licenses: list[str] = field(default_factory=list)
    messages: list[dict[str, str]] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)  # draft, renderer, parser, requires
    warnings: list[str] = field(default_factory=list, compare=False)


def parse_commands(text: str) -> list[tuple[str, str, int]]:
    """The raw ``(command, value, line)`` list, as Ollama's state machine reads it.

    ``command`` is lower-cased, ``from`` is kept as ``from``; for PARAMETER it is
    ``parameter:<name>``, for MESSAGE ``message:<role>``.
    """
    commands: list[tuple[str, str, int]] = []
    text = text.lstrip("\ufeff")  # a byte-order mark, as Ollama's reader drops it
    line, i, n = 1, 0, len(text)
    while i < n:
        char = text[i]
        if char in " \t\r\n":
            line += char == "\n"
            i += 1
            continue
        if char == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        start_line = line
        j = i
        while j < n and text[j].isascii() and text[j].isalpha():
            j += 1
        word = text[i:j].lower()
        if j >= n or text[j] not in " \t" or word not in COMMANDS:
            raise ModelfileError(f"(line {start_line}): {_COMMAND_ERROR}")
        i = j + 1
        if word in ("parameter", "message"):
            i, sub = _read_word(text, i, word, start_line)
            word = f"{word}:{sub}"
        i, value, line = _read_value(text, i, line)
        commands.append((word, value, start_line))
    return commands


def _read_word(text: str, i: int, kind: str, line: int) -> tuple[int, str]:
    """A parameter name or message role, then one space or tab."""
    j = i
    allowed = (lambda c: c.isalnum() or c == "_") if kind == "parameter" else str.isalpha
    while j < len(text) and text[j].isascii() and allowed(text[j]):
        j += 1
    if j >= len(text) or text[j] not in " \t":
        raise ModelfileError("unexpected EOF")
    word = text[i:j]
    if kind == "message" and word not in ROLES:
        raise ModelfileError(f"(line {line}): {_ROLE_ERROR}")
    return j + 1, word


def _read_value(text: str, i: int, line: int) -> tuple[int, str, int]:
    """A value up to the newline that closes it (quotes may span lines)."""
    buffer = []
    n = len(text)
    while i < n:
        char = text[i]
        if char == "\n":
            value, complete = _unquote("".join(buffer).strip())
            if complete:
                return i, value, line
            line += 1
        if char.isprintable() or char in " \t\n":
            buffer.append(char)
        i += 1
    value, complete = _unquote("".join(buffer).strip())
    if not complete:
        raise ModelfileError("unexpected EOF")
    return i, value, line


def _unquote(value: str) -> tuple[str, bool]:
    """Strip ``\"\"\"…\"\"\"`` or ``"…"``; False while a quote is still open."""
    if value.startswith('"""'):
        if len(value) >= 6 and value.endswith('"""'):
            return value[3:-3], True
        return "", False
    if value.startswith('"'):
        if len(value) >= 2 and value.endswith('"'):
            return value[1:-1], True
        return "", False
    return value, True


def parse(text: str) -> Modelfile:
    """Parse a Modelfile; raise ModelfileError with Ollama's message and the line."""
    result = Modelfile()
    raw_params: dict[str, tuple[list[str], int]] = {}
    for command, value, line in parse_commands(text):
        kind, _, sub = command.partition(":")
        if kind == "from":
            result.from_ = value
        elif kind == "adapter":
            result.adapters.append(value)
        elif kind in ("template", "system"):
            setattr(result, kind, value)
        elif kind == "license":
            result.licenses.append(value)
        elif kind == "message":
            result.messages.append({"role": sub, "content": value})
        elif kind == "parameter":
            values, _ = raw_params.get(sub, ([], line))
            raw_params[sub] = ([*values, value] if sub == "stop" else [value], line)
        else:
            result.extra[kind] = value
    if not result.from_:
        raise ModelfileError("no FROM line")
    for name, (values, line) in raw_params.items():
        if name in DEPRECATED_PARAMETERS:  # Ollama warns and drops them (parser.go)
            result.warnings.append(f"warning: parameter {name} is deprecated")
            continue
        result.parameters[name] = _typed(name, values, line, result.warnings)
    return result


def _typed(name: str, values: list[str], line: int, warnings: list[str]) -> object:
    """Convert as Ollama's ``api.FormatParams`` does, with its texts (no line number:
    the parser has handed the values over by then)."""
    kind = PARAMETER_TYPES.get(name) or DEPRECATED_PARAMETERS.get(name)
    if kind is None:
        raise ModelfileError(f"unknown parameter '{name}'")
    if kind == "array":
        return list(values)
    value = values[0]
    bad = ModelfileError(f"invalid {kind} value [{value}]")
    if kind == "int":
        if not _INT.fullmatch(value):
            raise bad
        return int(value)
    if kind == "float":
        if not _FLOAT.fullmatch(value):
            raise bad
        return float(value)
    if value not in _BOOL:
        raise bad
    return _BOOL[value]


def parameter_value(name: str, values: list[str]) -> object:
    """A PARAMETER's typed value (``/set parameter`` uses it too)."""
    return _typed(name, values, 0, [])


def quote(value: str) -> str:
    """Quote a value only where the parser would otherwise read it differently.

    Ollama quotes values with a newline or a leading/trailing space; this also
    quotes empty values, values starting with a quote, and other outer whitespace.

    >>> quote("You are terse.")
    'You are terse.'
    >>> quote("two\\nlines")
    '"two\\nlines"'
    >>> quote(' say "hi" ')
    '\"\"\" say "hi" \"\"\"'
    """
    needs = value == "" or "\n" in value or value != value.strip() or value[0] == '"'
    if not needs:
        return value
    if '"' in value:
        return f'"""{value}"""'
    return f'"{value}"'


def format_value(value: object) -> str:
    """A parameter value as Go's ``%v`` prints it (``0.7``, ``1``, ``true``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    return str(value)


def go_float(value: float) -> str:
    """Go's shortest ``%v`` for a float64: ``1``, ``0.7``, ``1e+06``, ``1.5e-05``.

    >>> [go_float(v) for v in (1.0, 0.7, 1e6, 123456.0, 0.000015, -2.5)]
    ['1', '0.7', '1e+06', '123456', '1.5e-05', '-2.5']
    """
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    shortest = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, shortest.digits))
    exp = len(digits) + shortest.exponent - 1  # position of the first digit
    if exp < -4 or exp >= 6:
        frac = f".{digits[1:]}" if len(digits) > 1 else ""
        return f"{sign}{digits[0]}{frac}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp >= len(digits) - 1:
        return sign + digits + "0" * (exp - len(digits) + 1)
    if exp >= 0:
        return f"{sign}{digits[: exp + 1]}.{digits[exp + 1 :]}"
    return f"{sign}0.{'0' * (-exp - 1)}{digits}"


def render(modelfile: Modelfile) -> str:
    """The Modelfile text in ``ollama show --modelfile``'s line order."""
    lines = [f"FROM {quote(modelfile.from_)}"]
    lines += [f"ADAPTER {quote(a)}" for a in modelfile.adapters]
    if modelfile.template is not None:
        lines.append(f"TEMPLATE {quote(modelfile.template)}")
    if modelfile.system is not None:
        lines.append(f"SYSTEM {quote(modelfile.system)}")
    for name, value in modelfile.parameters.items():
        for item in value if isinstance(value, list) else [value]:
            lines.append(f"PARAMETER {name} {quote(format_value(item))}")
    lines += [f"LICENSE {quote(text)}" for text in modelfile.licenses]
    lines += [f"MESSAGE {m['role']} {quote(m['content'])}" for m in modelfile.messages]
    lines += [f"{k.upper()} {quote(v)}" for k, v in modelfile.extra.items()]
    return "\n".join(lines) + "\n"
