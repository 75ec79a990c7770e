"""``/api/ps`` (what is loaded, until when) and the lab's own runner view."""

from __future__ import annotations

from fastapi import APIRouter, Request

from . import common

router = APIRouter()


@router.get("/api/ps")
def ps(request: Request) -> dict:
    return {"models": common.scheduler(request).ps()}


@router.get("/lab/runners")
def runners(request: Request) -> dict:
    """Not Ollama's: each loaded runner's slots and how many sequences shared each
    decode step (``sequences_per_step``), so tests and lessons can see batching."""
    return {"runners": common.scheduler(request).runners()}
