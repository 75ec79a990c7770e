"""Run lab Ollama with uvicorn, bound where OLLAMA_HOST says (loopback by default)."""

from __future__ import annotations

import logging

import uvicorn

from .app import create_app
from .settings import LabSettings


def main(settings: LabSettings | None = None) -> None:
    """Serve until interrupted; log lines look like a server's, not a traceback."""
    settings = settings or LabSettings()
    host, port = settings.bind
    debug = settings.debug.strip() not in ("", "0", "false", "False")
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip
    if debug:  # as OLLAMA_DEBUG=1: the rendered prompts, and llama.cpp's own log
        from llama_cpp import _logger as llama_logger

        llama_logger.set_verbose(True)
    logging.getLogger("lab_ollama").info(
        "lab Ollama on http://%s:%s, models in %s", host, port, settings.models
    )
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
