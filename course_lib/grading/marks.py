"""Which questions need a live engine, and which engines answer here.

A question needs an engine when its tests (public or hidden, as the autograder zip
carries them) use one of the notebook's engine handles: ``OLLAMA`` (the Ollama URL),
``VLLM`` (the vLLM server URL), ``llm`` (a ``vllm.LLM`` in the kernel) or the ``ollama``
client module. The marks are derived from the tests themselves, so the masters carry
no extra markup and a new or changed question is marked the day it lands: a question
whose tests name no engine handle grades anywhere (Gradescope included). Names are
read from the parsed test code, so a handle named in a string or a comment does not
count.

``REGISTRY`` overrides the derived mark for one question, keyed by
``(exercise stem, question)``, e.g. ``("04_vllm", "q3"): frozenset()`` for a question
whose tests name ``llm`` only to read its configuration. The lead keeps it in sync
with the masters; it is empty while every derived mark is right.

Where a needed engine does not answer, the question is **blocked**: it is neither
scored nor counted as zero, and the CSV lists it.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import requests

from .. import config

ENGINE_HANDLES = {"OLLAMA": "ollama", "ollama": "ollama", "VLLM": "vllm", "llm": "vllm-offline"}
ENGINE_LABELS = {"ollama": "an Ollama server", "vllm": "a vLLM server", "vllm-offline": "vLLM in the kernel"}
REGISTRY: dict[tuple[str, str], frozenset[str]] = {}
_PROMPT = re.compile(r"^(>>>|\.\.\.)( |$)")


def engines_in_code(code: str) -> frozenset[str]:
    """The engines a piece of test code uses (doctest prompts allowed)."""
    lines = code.splitlines()
    if any(_PROMPT.match(line) for line in lines):
        lines = [_PROMPT.sub("", line) for line in lines if _PROMPT.match(line)]
    source = "\n".join(lines)
    try:
        names = {node.id for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Name)}
    except SyntaxError:  # not Python as a whole: fall back to whole words outside quotes
        names = set(re.findall(r"\b\w+\b", re.sub(r"(['\"]).*?\1", "", source)))
    return frozenset(ENGINE_HANDLES[name] for name in names & ENGINE_HANDLES.keys())


def _test_cases(text: str) -> list[str]:
    """The code of every case in one otter (OK-format) test file."""
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "test" for t in node.targets):
            test = ast.literal_eval(node.value)
            return [case["code"] for suite in test.get("suites", []) for case in suite.get("cases", [])]
    return [text]  # a plain Python test file: the file is the code


def question_needs(autograder_zip: Path, exercise: str | None = None) -> dict[str, frozenset[str]]:
    """``{question: engines its tests use}`` for every question in the zip."""
    exercise = exercise or autograder_zip.stem
    needs = {}
    with zipfile.ZipFile(autograder_zip) as archive:
        for name in archive.namelist():
            if name.startswith("tests/") and name.endswith(".py"):
                question = Path(name).stem
                code = _test_cases(archive.read(name).decode())
                derived = frozenset().union(*(engines_in_code(c) for c in code))
                needs[question] = REGISTRY.get((exercise, question), derived)
    return needs


def available_engines(timeout: float = 2.0) -> frozenset[str]:
    """The engines that answer here now, where the notebooks would look for them."""
    found = set()
    if _answers(f"{config.ollama_url()}/api/version", timeout):
        found.add("ollama")
    if _answers(f"{config.vllm_root_url()}/health", timeout):
        found.add("vllm")
    if importlib.util.find_spec("vllm") is not None:
        found.add("vllm-offline")
    return frozenset(found)


def _answers(url: str, timeout: float) -> bool:
    try:
        return requests.get(url, timeout=timeout).ok
    except requests.RequestException:
        return False


def blocked(needs: Mapping[str, Iterable[str]], available: Iterable[str]) -> dict[str, list[str]]:
    """``{question: engines it needs that do not answer}`` for the blocked questions."""
    have = set(available)
    return {q: sorted(set(engines) - have) for q, engines in needs.items() if set(engines) - have}


def describe(missing: Iterable[str]) -> str:
    """'an Ollama server and a vLLM server' for a CSV cell or a feedback line."""
    return " and ".join(ENGINE_LABELS.get(m, m) for m in missing)
