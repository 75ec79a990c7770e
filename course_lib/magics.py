"""``%ollama`` and ``%%ollama``: type Ollama's commands in a notebook.

They run the real ``ollama`` binary when one is on PATH, else ``course ollama``
(which talks to whatever answers at OLLAMA_HOST), and say which in one line.
``%%ollama`` sends the cell as standard input (``%%ollama run smollm2:135m`` with a
prompt below), or, for ``create`` without ``-f``, uses the cell as the Modelfile.

    %load_ext course_lib.magics
    %ollama list
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def ollama_command() -> tuple[list[str], str]:
    """The command to run, and the line that says which one it is."""
    real = shutil.which("ollama")
    if real:
        return [real], f"(running the real ollama: {real})"
    course = Path(sys.executable).with_name("course")
    base = [str(course)] if course.exists() else [sys.executable, "-m", "course_lib.cli"]
    return [*base, "ollama"], "(no ollama binary on PATH: running `course ollama`)"


def run_ollama(args: list[str], stdin: str | None = None, announce: bool = True) -> int:
    """Run one command, streaming its output into the cell; returns the exit code."""
    command, which = ollama_command()
    if announce:
        print(which, flush=True)
    process = subprocess.Popen(
        [*command, *args],
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    if stdin is not None:
        process.stdin.write(stdin)
        process.stdin.close()
    for chunk in iter(lambda: process.stdout.read(1), ""):
        sys.stdout.write(chunk)
        if chunk == "\n":
            sys.stdout.flush()
    sys.stdout.flush()
    return process.wait()


def ollama_line(line: str) -> None:
    """``%ollama list``, ``%ollama run smollm2:135m "Why is the sky blue?"``."""
    run_ollama(shlex.split(line))


def ollama_cell(line: str, cell: str) -> None:
    """``%%ollama create NAME`` with a Modelfile below, or any command fed the cell."""
    args = shlex.split(line)
    if args[:1] == ["create"] and "-f" not in args and "--file" not in args:
        # in the working folder, so that FROM ./model.gguf resolves as it would there
        with tempfile.NamedTemporaryFile("w", dir=".", prefix=".Modelfile-", delete=False) as handle:
            handle.write(cell)
        try:
            run_ollama([*args, "-f", handle.name])
        finally:
            Path(handle.name).unlink(missing_ok=True)
        return
    run_ollama(args, stdin=cell)


def load_ipython_extension(ipython) -> None:
    ipython.register_magic_function(ollama_line, "line", "ollama")
    ipython.register_magic_function(ollama_cell, "cell", "ollama")
