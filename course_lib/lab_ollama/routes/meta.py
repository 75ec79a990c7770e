"""``/`` and ``/api/version``: what Ollama's CLI and clients ask first."""

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from .. import OLLAMA_VERSION

router = APIRouter()


@router.api_route("/", methods=["GET", "HEAD"], response_class=PlainTextResponse)
def root() -> str:
    return "Ollama is running"


@router.api_route("/api/version", methods=["GET", "HEAD"])
def version() -> dict:
    return {"version": OLLAMA_VERSION}
