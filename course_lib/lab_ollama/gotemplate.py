"""The subset of Go's text/template that Ollama's model templates use.

Ollama's TEMPLATE is Go text/template. This module parses and renders what its
library templates need: text and ``{{ }}`` actions with ``{{-``/``-}}`` whitespace
trimming, comments, fields (``.Messages``, ``$.System``, ``.Function.Name``),
variables (``$i, $m := …``, ``$last = …``), parentheses and pipes, ``if``/``else
if``/``else``, ``range`` (with ``else``), ``with``, and the functions ``eq ne lt le gt
ge and or not len slice index print printf json``. Parsing errors read like Go's
(``template: :3: unexpected EOF``), so ``/api/create`` can reject a broken template
as Ollama does (``template error: …``), and ``fields()`` tells which variables a
template uses (``Tools`` → the tools capability, ``Suffix`` → insert).

Values printed as Go would, with two choices of ours: a missing field or nil prints
as an empty string, and a dict or list prints as compact JSON (Ollama's tool types
print themselves as JSON).
"""

from __future__ import annotations

from functools import lru_cache

import json
import re
from dataclasses import dataclass, field
from typing import Any


class TemplateError(ValueError):
    """A template Go's parser would reject, or an action that cannot run."""


# -- lexing --------------------------------------------------------------------

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_TOKEN = re.compile(
    r"""\s*(?:
    (?P<string>"(?:[^"\\]|\\.)*")|(?P<raw>`[^`]*`)|
    (?P<number>-?\d+(?:\.\d+)?)|
    (?P<decl>:=)|(?P<assign>=)|(?P<pipe>\|)|(?P<lparen>\()|(?P<rparen>\))|(?P<comma>,)|
    (?P<var>\$\w*(?:\.\w+)*)|(?P<field>(?:\.\w+)+|\.)|
    (?P<ident>[A-Za-z_]\w*)|(?P<bad>\S)
    )""",
    re.X,
)


@dataclass
class Node:
    line: int


@dataclass
class Text(Node):
    text: str


@dataclass
class Pipeline(Node):
    commands: list[list[tuple[str, Any]]]  # each command: operands (kind, value)
    variables: list[str] = field(default_factory=list)
    declare: bool = True


@dataclass
class Action(Node):
    pipe: Pipeline


@dataclass
class Branch(Node):
    kind: str  # if, range, with
    pipe: Pipeline
    body: list[Node]
    otherwise: list[Node] = field(default_factory=list)


def _lex(source: str) -> list[tuple[str, str, int]]:
    """``(kind, text, line)`` pieces: ``text`` or ``action``; trim markers applied."""
    pieces: list[tuple[str, str, int]] = []
    position, trim_next = 0, False
    for match in _ACTION.finditer(source):
        text = source[position : match.start()]
        if trim_next:
            text = text.lstrip()
        if match.group(1):
            text = text.rstrip()
        line = source.count("\n", 0, match.start()) + 1
        if text:
            pieces.append(("text", text, line))
        pieces.append(("action", match.group(2).strip(), line))
        position, trim_next = match.end(), bool(match.group(3))
    rest = source[position:]
    if "{{" in rest:
        line = source.count("\n", 0, position + rest.index("{{")) + 1
        raise TemplateError(f"template: :{line}: unclosed action")
    if trim_next:
        rest = rest.lstrip()
    if rest:
        pieces.append(("text", rest, source.count("\n", 0, position) + 1))
    return pieces


# -- parsing -------------------------------------------------------------------

FUNCTIONS = ("eq", "ne", "lt", "le", "gt", "ge", "and", "or", "not", "len", "slice",
             "index", "print", "printf", "println", "json")  # fmt: skip
_KEYWORDS = ("if", "else", "end", "range", "with", "break", "continue")


@lru_cache(maxsize=64)
def parse(source: str) -> list[Node]:
    """Parse a template; raise TemplateError with Go's wording for broken ones.

    Cached: a request renders its template several times (capabilities, fitting the
    chat into num_ctx), and the node lists are never changed after parsing.
    """
    pieces = _lex(source)
    nodes, stop, index = _parse_list(pieces, 0, top=True)
    return nodes


def _parse_list(pieces, index: int, top: bool = False):
    """Nodes up to an ``else``/``end`` (returned as ``stop``) or the end of input."""
    nodes: list[Node] = []
    while index < len(pieces):
        kind, text, line = pieces[index]
        index += 1
        if kind == "text":
            nodes.append(Text(line, text))
            continue
        if text.startswith("/*"):
            if not text.endswith("*/"):
                raise TemplateError(f"template: :{line}: unclosed comment")
            continue
        word = text.split(None, 1)[0] if text else ""
        if word in ("end", "else"):
            if top:
                raise TemplateError(f"template: :{line}: unexpected {{{{{word}}}}}")
            return nodes, (word, text, line), index
        if word in ("if", "range", "with"):
            branch, index = _parse_branch(pieces, index, word, text[len(word):], line)
            nodes.append(branch)
        elif word in ("break", "continue"):
            nodes.append(Branch(line, word, Pipeline(line, []), []))
        else:
            nodes.append(Action(line, _parse_pipeline(text, line)))
    if not top:
        raise TemplateError(f"template: :{pieces[-1][2] if pieces else 1}: unexpected EOF")
    return nodes, None, index


def _parse_branch(pieces, index, kind, rest, line):
    pipe = _parse_pipeline(rest, line, allow_vars=kind == "range" or kind in ("if", "with"))
    body, stop, index = _parse_list(pieces, index)
    branch = Branch(line, kind, pipe, body)
    word, text, stop_line = stop
    if word == "else":
        rest = text[len("else"):].strip()
        if rest.split(None, 1)[:1] == ["if"] and kind == "if":
            nested, index = _parse_branch(pieces, index, "if", rest[2:], stop_line)
            branch.otherwise = [nested]
            return branch, index
        if rest.split(None, 1)[:1] == ["with"] and kind == "with":
            nested, index = _parse_branch(pieces, index, "with", rest[4:], stop_line)
            branch.otherwise = [nested]
            return branch, index
        branch.otherwise, stop, index = _parse_list(pieces, index)
        if stop[0] != "end":
            raise TemplateError(f"template: :{stop[2]}: expected end; found {{{{else}}}}")
    return branch, index


def _parse_pipeline(text: str, line: int, allow_vars: bool = True) -> Pipeline:
    tokens = _tokens(text, line)
    variables, declare = [], True
    decl_at = next((i for i, t in enumerate(tokens) if t[0] in ("decl", "assign")), None)
    if decl_at is not None:
        names = [v for k, v in tokens[:decl_at] if k == "var"]
        if not names or any(k not in ("var", "comma") for k, _ in tokens[:decl_at]):
            raise TemplateError(f"template: :{line}: unexpected {tokens[decl_at][1]!r} in command")
        variables, declare = names, tokens[decl_at][0] == "decl"
        tokens = tokens[decl_at + 1 :]
    commands, _ = _parse_commands(tokens, 0, line)
    if not commands or not commands[0]:
        raise TemplateError(f"template: :{line}: missing value for command")
    return Pipeline(line, commands, variables, declare)


def _parse_commands(tokens, index, line, closing: bool = False):
    commands: list[list[tuple[str, Any]]] = [[]]
    while index < len(tokens):
        kind, value = tokens[index]
        index += 1
        if kind == "pipe":
            commands.append([])
        elif kind == "lparen":
            inner, index = _parse_commands(tokens, index, line, closing=True)
            suffix = ""
            if index < len(tokens) and tokens[index][0] == "field" and tokens[index][1] != ".":
                suffix, index = tokens[index][1], index + 1
            commands[-1].append(("sub", (Pipeline(line, inner), suffix)))
        elif kind == "rparen":
            if not closing:
                raise TemplateError(f"template: :{line}: unexpected right paren")
            return commands, index
        elif kind == "ident":
            if value in ("true", "false"):
                commands[-1].append(("literal", value == "true"))
            elif value == "nil":
                commands[-1].append(("literal", None))
            elif value in FUNCTIONS:
                commands[-1].append(("func", value))
            elif value in _KEYWORDS:
                raise TemplateError(f"template: :{line}: unexpected <{value}> in command")
            else:
                raise TemplateError(f'template: :{line}: function "{value}" not defined')
        elif kind in ("string", "raw", "number"):
            commands[-1].append(("literal", _literal(kind, value)))
        elif kind in ("var", "field"):
            commands[-1].append((kind, value))
        else:
            raise TemplateError(f"template: :{line}: unexpected {value!r} in operand")
    if closing:
        raise TemplateError(f"template: :{line}: unclosed left paren")
    return commands, index


def _tokens(text: str, line: int) -> list[tuple[str, str]]:
    tokens = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind is None:
            continue
        if kind == "bad":
            raise TemplateError(f"template: :{line}: unexpected {match.group(kind)!r} in operand")
        tokens.append((kind, match.group(kind)))
    return tokens


def _literal(kind: str, value: str) -> Any:
    if kind == "string":
        return json.loads(value)
    if kind == "raw":
        return value[1:-1]
    return float(value) if "." in value else int(value)


def fields(nodes: list[Node]) -> set[str]:
    """Every field name a template mentions (``Tools``, ``Suffix``, ``Messages``…)."""
    names: set[str] = set()

    def visit_pipe(pipe: Pipeline) -> None:
        for command in pipe.commands:
            for kind, value in command:
                if kind in ("field", "var"):
                    names.update(p for p in value.split(".")[1:] if p)
                elif kind == "sub":
                    visit_pipe(value[0])
                    names.update(p for p in value[1].split(".") if p)

    def visit(items: list[Node]) -> None:
        for node in items:
            if isinstance(node, Action):
                visit_pipe(node.pipe)
            elif isinstance(node, Branch):
                visit_pipe(node.pipe)
                visit(node.body)
                visit(node.otherwise)

    visit(nodes)
    return names


# -- rendering -------------------------------------------------------------------


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def render(template: str | list[Node], data: Any) -> str:
    """Execute a template against ``data`` (dicts with Go's capitalised field names)."""
    nodes = parse(template) if isinstance(template, str) else template
    out: list[str] = []
    _exec(nodes, data, [{"$": data}], out)
    return "".join(out)


def _exec(nodes: list[Node], dot: Any, scopes: list[dict], out: list[str]) -> None:
    for node in nodes:
        if isinstance(node, Text):
            out.append(node.text)
        elif isinstance(node, Action):
            value = _pipeline(node.pipe, dot, scopes)
            if not node.pipe.variables:
                out.append(_print(value))
        elif node.kind == "break":
            raise _Break
        elif node.kind == "continue":
            raise _Continue
        elif node.kind == "range":
            _range(node, dot, scopes, out)
        else:
            value = _pipeline(node.pipe, dot, scopes)
            if _truth(value):
                inner = value if node.kind == "with" else dot
                _exec(node.body, inner, [*scopes, {}], out)
            else:
                _exec(node.otherwise, dot, [*scopes, {}], out)


def _range(node: Branch, dot: Any, scopes: list[dict], out: list[str]) -> None:
    pipe = node.pipe
    items = _pipeline(Pipeline(pipe.line, pipe.commands), dot, scopes)
    pairs = list(items.items()) if isinstance(items, dict) else list(enumerate(items or []))
    if not pairs:
        _exec(node.otherwise, dot, [*scopes, {}], out)
        return
    for key, item in pairs:
        scope: dict = {}
        if len(pipe.variables) == 1:
            scope[pipe.variables[0]] = item
        elif len(pipe.variables) == 2:
            scope[pipe.variables[0]], scope[pipe.variables[1]] = key, item
        try:
            _exec(node.body, item, [*scopes, scope], out)
        except _Break:
            break
        except _Continue:
            continue


def _pipeline(pipe: Pipeline, dot: Any, scopes: list[dict]) -> Any:
    value: Any = _MISSING
    for command in pipe.commands:
        value = _command(command, dot, scopes, value, pipe.line)
    if pipe.variables:
        name = pipe.variables[-1] if len(pipe.variables) == 1 else pipe.variables[0]
        if pipe.declare:
            scopes[-1][name] = value
        else:
            for scope in reversed(scopes):
                if name in scope:
                    scope[name] = value
                    break
            else:
                raise TemplateError(f"template: :{pipe.line}: undefined variable: {name}")
    return value


_MISSING = object()


def _command(command, dot, scopes, piped, line) -> Any:
    head_kind, head = command[0]
    args = [_operand(kind, value, dot, scopes, line) for kind, value in command[1:]]
    if piped is not _MISSING:
        args.append(piped)
    if head_kind == "func":
        return _call(head, args, line)
    if args:
        raise TemplateError(f"template: :{line}: can't give argument to non-function")
    return _operand(head_kind, head, dot, scopes, line)


def _operand(kind: str, value: Any, dot: Any, scopes: list[dict], line: int) -> Any:
    if kind == "literal":
        return value
    if kind == "field":
        return _walk(dot, value.split(".")[1:])
    if kind == "var":
        name, *path = value.split(".")
        for scope in reversed(scopes):
            if name in scope:
                return _walk(scope[name], path)
        raise TemplateError(f"template: :{line}: undefined variable: {name}")
    if kind == "sub":
        pipe, suffix = value
        return _walk(_pipeline(pipe, dot, scopes), suffix.split(".")[1:])
    if kind == "func":
        return _call(value, [], line)
    raise TemplateError(f"template: :{line}: bad operand")


def _walk(value: Any, path: list[str]) -> Any:
    for part in path:
        if not part:
            continue
        if isinstance(value, dict):
            value = value.get(part)
        else:
            value = getattr(value, part, None)
    return value


def _call(name: str, args: list, line: int) -> Any:
    def need(n: int) -> None:
        if len(args) < n:
            raise TemplateError(f"template: :{line}: wrong number of args for {name}")

    if name == "eq":
        need(2)
        return any(args[0] == other for other in args[1:])
    if name in ("ne", "lt", "le", "gt", "ge"):
        need(2)
        a, b = args[0], args[1]
        return {"ne": a != b, "lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[name]
    if name == "and":
        need(1)
        return next((a for a in args if not _truth(a)), args[-1])
    if name == "or":
        need(1)
        return next((a for a in args if _truth(a)), args[-1])
    if name == "not":
        need(1)
        return not _truth(args[0])
    if name == "len":
        need(1)
        return len(args[0] or [])
    if name == "slice":
        need(1)
        start = args[1] if len(args) > 1 else None
        end = args[2] if len(args) > 2 else None
        return (args[0] or [])[start:end]
    if name == "index":
        need(2)
        value = args[0]
        for key in args[1:]:
            value = value[key]
        return value
    if name == "json":
        need(1)
        return json.dumps(args[0], separators=(",", ":"), ensure_ascii=False)
    if name == "printf":
        need(1)
        return _go_printf(args[0], args[1:])
    joined = "".join(_print(a) for a in args)
    return joined + "\n" if name == "println" else joined


def _go_printf(fmt: str, args: list) -> str:
    values = iter(args)
    return re.sub(r"%[vsdq%]", lambda m: "%" if m.group() == "%%" else (
        json.dumps(next(values, "")) if m.group() == "%q" else _print(next(values, ""))
    ), fmt)  # fmt: skip


def _truth(value: Any) -> bool:
    """Go's truth: false, 0, nil and empty strings, slices and maps are false."""
    return bool(value) and value is not _MISSING


def _print(value: Any) -> str:
    if value is None or value is _MISSING:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def cut_after(nodes: list[Node], name: str) -> list[Node]:
    """Drop everything after the first action that prints field ``name``.

    Ollama renders the last turn of a template without ``.Messages`` this way: the
    model should write what follows ``{{ .Response }}``, so nothing after it is sent.

    >>> render(cut_after(parse("A{{ .Prompt }}B{{ .Response }}C{{ if .Prompt }}D{{ end }}"), "Response"), {"Prompt": "p"})
    'ApB'
    """
    cut = False

    def walk(items: list[Node]) -> list[Node]:
        nonlocal cut
        kept: list[Node] = []
        for node in items:
            if cut:
                break
            if isinstance(node, Branch):
                node = Branch(node.line, node.kind, node.pipe, walk(node.body), walk(node.otherwise))
            kept.append(node)
            if isinstance(node, Action) and name in fields([node]):
                cut = True
        return kept

    return walk(nodes)
