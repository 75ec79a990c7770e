"""Model names as Ollama parses and validates them: ``[host/][namespace/]model[:tag]``.

Defaults fill what is missing (``registry.ollama.ai``, ``library``, ``latest``); the
tag is what follows the last ``:`` after the last ``/``. Every part starts with a
letter, digit or ``_``, and none may hold ``/``, so a valid name can never address a
path outside the store. Follows Ollama's ``types/model/name.go``; taught in lesson 01.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"

_MAX_LEN = {"host": 350, "namespace": 80, "model": 80, "tag": 80}


class InvalidName(ValueError):
    """The text is not a valid model name (Ollama answers 400 ``invalid model name``)."""


@dataclass(frozen=True)
class ModelName:
    """A fully qualified model name."""

    host: str
    namespace: str
    model: str
    tag: str

    @property
    def display(self) -> str:
        """The shortest form, as ``ollama list`` shows it; the tag always stays.

        >>> parse_name("smollm2:135m").display
        'smollm2:135m'
        >>> parse_name("smollm2").display
        'smollm2:latest'
        >>> parse_name("me/helper").display
        'me/helper:latest'
        >>> parse_name("localhost:5000/me/helper:v1").display
        'localhost:5000/me/helper:v1'
        """
        if self.host.lower() != DEFAULT_HOST:
            prefix = f"{self.host}/{self.namespace}/"
        elif self.namespace.lower() != DEFAULT_NAMESPACE:
            prefix = f"{self.namespace}/"
        else:
            prefix = ""
        return f"{prefix}{self.model}:{self.tag}"

    @property
    def full(self) -> str:
        """``host/namespace/model:tag``, as Ollama prints it in some errors."""
        return f"{self.host}/{self.namespace}/{self.model}:{self.tag}"

    @property
    def parts(self) -> tuple[str, str, str, str]:
        return (self.host, self.namespace, self.model, self.tag)

    def manifest_path(self, manifests_root: Path) -> Path:
        """``manifests/<host>/<namespace>/<model>/<tag>`` under the store."""
        path = manifests_root.joinpath(*self.parts)
        if manifests_root.resolve() not in path.resolve().parents:
            raise InvalidName(f"name {self.display!r} leaves the store")
        return path

    def matches(self, other: ModelName) -> bool:
        """Ollama matches names case-insensitively."""
        return [p.lower() for p in self.parts] == [p.lower() for p in other.parts]


def _cut_last(text: str, sep: str) -> tuple[str, str | None]:
    """Split at the last ``sep``; an empty right side becomes ``?`` (never valid)."""
    head, found, tail = text.rpartition(sep)
    if not found:
        return text, None
    return head, tail or "?"


def split_name(text: str) -> tuple[str, str, str, str]:
    """The parts present in ``text``, empty where absent (no defaults yet).

    >>> split_name("smollm2:135m")
    ('', '', 'smollm2', '135m')
    >>> split_name("ns/m")
    ('', 'ns', 'm', '')
    >>> split_name("https://h.example:5000/ns/m:t")
    ('h.example:5000', 'ns', 'm', 't')
    >>> split_name("a/:t")
    ('', 'a', '?', 't')
    """
    host = namespace = tag = ""
    if text.rfind(":") > text.rfind("/"):
        text, found = _cut_last(text, ":")
        tag = found or ""
    rest, model = _cut_last(text, "/")
    if model is None:
        return host, namespace, text, tag
    rest, namespace = _cut_last(rest, "/")
    if namespace is None:
        return host, rest, model, tag
    _, sep, after = rest.partition("://")
    host = after if sep else rest
    return host, namespace, model, tag


def _valid_part(kind: str, text: str) -> bool:
    if not 0 < len(text) <= _MAX_LEN[kind]:
        return False
    if not (text[0].isascii() and (text[0].isalnum() or text[0] == "_")):
        return False
    for char in text[1:]:
        if char.isascii() and (char.isalnum() or char in "_-"):
            continue
        if char == "." and kind != "namespace":
            continue
        if char == ":" and kind == "host":
            continue
        return False
    return True


def parse_name(text: str) -> ModelName:
    """Parse and validate a model name, filling Ollama's defaults.

    >>> parse_name("smollm2:135m").full
    'registry.ollama.ai/library/smollm2:135m'
    >>> parse_name("SmolLM2").tag
    'latest'
    >>> for bad in ["", ":t", "a/:t", "../etc/passwd", "m:a/b", "a..b/m", "-m", "m:t:u"]:
    ...     try:
    ...         parse_name(bad)
    ...     except InvalidName:
    ...         pass
    ...     else:
    ...         print("accepted", bad)
    """
    host, namespace, model, tag = split_name(text.strip())
    name = ModelName(
        host or DEFAULT_HOST,
        namespace or DEFAULT_NAMESPACE,
        model,
        tag or DEFAULT_TAG,
    )
    kinds = ("host", "namespace", "model", "tag")
    if not all(_valid_part(kind, part) for kind, part in zip(kinds, name.parts)):
        raise InvalidName(f"invalid model name: {text!r}")
    return name
