"""The app factory: a fresh lab Ollama per call, configured by LabSettings.

No module globals: the store and settings live on ``app.state``, so tests and the
CLI can run differently configured servers side by side.
"""

from __future__ import annotations

import ipaddress
import re
from contextlib import asynccontextmanager
import socket

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware

from .. import __version__
from ..store.layout import Store
from . import LAB_HEADER, errors
from .routes import embed, generate, meta, models, openai, running
from .runner.scheduler import Scheduler
from .settings import LabSettings


def create_app(settings: LabSettings | None = None) -> FastAPI:
    """Build a lab Ollama app; opening the store cleans what killed writers left."""
    settings = settings or LabSettings()
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.scheduler = Scheduler(settings)
        yield
        await app.state.scheduler.close()

    app = FastAPI(title="lab Ollama", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.settings = settings
    app.state.store = Store(settings.models)
    if not settings.noprune:
        app.state.store.prune(older_than=3600)  # as Ollama: unreferenced, over 1 h old
    errors.install(app)
    bound_host, _ = settings.bind
    app.add_middleware(
        CORSMiddleware,  # Ollama's gin-contrib/cors with envconfig.AllowedOrigins
        allow_origin_regex=origins_regex(settings.allowed_origins),
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "User-Agent", "Accept", "X-Requested-With",
                       "X-Stainless-Lang", "X-Stainless-Package-Version", "X-Stainless-Os", "X-Stainless-Arch",
                       "X-Stainless-Retry-Count", "X-Stainless-Runtime", "X-Stainless-Runtime-Version",
                       "X-Stainless-Async", "X-Stainless-Helper-Method", "X-Stainless-Poll-Helper",
                       "X-Stainless-Custom-Poll-Interval", "X-Stainless-Timeout"],
    )  # fmt: skip

    @app.middleware("http")
    async def _lab_header_and_host_guard(request: Request, call_next) -> Response:
        if not host_allowed(bound_host, request.headers.get("host", "")):
            response = Response(status_code=403)
        else:
            response = await call_next(request)
        response.headers[LAB_HEADER] = __version__
        return response

    app.include_router(meta.router)
    for module in (models, generate, embed, running, openai):
        app.include_router(module.router)
    return app


def origins_regex(origins: list[str]) -> str:
    """Ollama's origin patterns (``*`` is a wildcard) as one regular expression.

    >>> import re; pattern = origins_regex(["http://localhost:*", "app://*"])
    >>> [bool(re.fullmatch(pattern, o)) for o in ("http://localhost:8888", "app://x", "http://evil.com")]
    [True, True, False]
    """
    return "|".join(re.escape(o).replace(r"\*", ".*") for o in origins)


def host_allowed(bound_host: str, host_header: str) -> bool:
    """Ollama's host guard: bound to loopback, only local Host headers get through.

    >>> host_allowed("127.0.0.1", "localhost:11434"), host_allowed("127.0.0.1", "evil.com")
    (True, False)
    >>> host_allowed("0.0.0.0", "evil.com"), host_allowed("127.0.0.1", "10.0.0.5:11434")
    (True, True)
    >>> host_allowed("127.0.0.1", "box.local"), host_allowed("127.0.0.1", "[::1]:11434")
    (True, True)
    """
    try:
        if not ipaddress.ip_address(bound_host).is_loopback:
            return True
    except ValueError:
        if bound_host != "localhost":
            return True
    host = host_header
    if host.startswith("["):
        host = host[1 : host.find("]")]
    elif host.count(":") == 1:
        host = host.split(":")[0]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host in ("", "localhost", socket.gethostname()) or host.endswith(
            (".localhost", ".local", ".internal")
        )
    return address.is_loopback or address.is_private or address.is_unspecified
