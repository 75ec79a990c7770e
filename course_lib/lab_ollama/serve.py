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
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("lab_ollama").info(
        "lab Ollama on http://%s:%s, models in %s", host, port, settings.models
    )
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
