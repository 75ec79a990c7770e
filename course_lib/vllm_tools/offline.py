"""Helpers for vLLM's offline ``LLM`` inside a notebook or test process.

A notebook's own ``LLM(...)`` holds its engine core (an EngineCore child process; on a
2-core CPU, inside the notebook's process, see ``server.engine_env``) and its KV cache
until shut down; DESIGN.md's resource plan has every notebook release it before it
ends. ``del llm`` alone leaves that to interpreter exit, where vLLM's finalizers log
into closed streams.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import config
from .server import engine_env

#: KV cache of a notebook's own LLM(...) on the CPU (DESIGN.md, resource plan).
OFFLINE_KVCACHE_GIB = "1"


def use_course_engine_env() -> dict[str, str]:
    """Set the course's vLLM environment in this process, before ``LLM(...)``.

    vLLM reads these variables when the engine starts, so a notebook calls this
    first; values the learner already set are kept. Returns what is in force.
    """
    env = engine_env(kv_cache_gib=OFFLINE_KVCACHE_GIB)
    os.environ.update(env)
    return env


def shutdown_llm(llm: Any) -> None:
    """Stop an ``vllm.LLM``'s engine process now and free its memory."""
    engine_core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
    if engine_core is not None:
        engine_core.shutdown()
    gc.collect()


def engine_log_path(name: str) -> Path:
    """Where a notebook's own vLLM engine writes its log: ``COURSE_HOME/logs/<name>.log``."""
    path = config.course_home() / "logs" / f"{name}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def vllm_log_to(path: Path) -> Iterator[Path]:
    """Send vLLM's own log to ``path`` instead of the notebook.

    Inside the block, this process's stdout and stderr (Python's and the file
    descriptors) go to the file, so ``import vllm`` and ``LLM(...)`` log there, and the
    engine process started in the block inherits the file for its whole life. vLLM's
    log handlers keep writing to it afterwards. A learner reads it with
    ``print(path.read_text())``.
    """
    log = path.open("a", buffering=1, errors="replace")
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    try:
        for fd in saved:
            os.dup2(log.fileno(), fd)
        for handler in logging.getLogger("vllm").handlers:  # vLLM imported before the block
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(log)
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            yield path
    finally:
        log.flush()
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)


def log_summary(path: Path) -> str:
    """One line about an engine log: where it is, how long, how many warnings and errors.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     log = Path(tmp) / "x.log"
    ...     _ = log.write_text("INFO a\\nWARNING b\\nINFO c\\n")
    ...     log_summary(log).endswith("(3 lines: 1 warnings, 0 errors)")
    True
    """
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    warnings = sum("WARNING" in line for line in lines)
    errors = sum("ERROR" in line for line in lines)
    return f"vLLM's log: {path} ({len(lines)} lines: {warnings} warnings, {errors} errors)"
