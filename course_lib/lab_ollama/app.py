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
    allowed_origin = re.compile(origins_regex(settings.allowed_origins))

    # Starlette runs the middleware added last first. Ollama's order (v0.33.0 server/routes.go:1872-1873):
    # CORS, then the host guard; the lab header goes on every answer, both guards' too.
    @app.middleware("http")
    async def _host_guard(request: Request, call_next) -> Response:
        if not host_allowed(bound_host, request.headers.get("host", "")):
            return Response(status_code=403)
        return await call_next(request)

    @app.middleware("http")
    async def _cors(request: Request, call_next) -> Response:
        """Ollama's gin-contrib/cors v1.7.2 (``routes.go:1842-1875``): an origin not allowed
        gets 403, an allowed one's OPTIONS 204 with the preflight headers."""
        origin, host = request.headers.get("origin", ""), request.headers.get("host", "")
        if not origin or origin in (f"http://{host}", f"https://{host}"):
            return await call_next(request)  # not a CORS request
        if not allowed_origin.fullmatch(origin):
            return Response(status_code=403)
        if request.method == "OPTIONS":
            response = Response(status_code=204, headers=CORS_PREFLIGHT)
            for vary in ("Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"):
                response.headers.append("Vary", vary)
        else:
            response = await call_next(request)
            response.headers["Vary"] = "Origin"
        response.headers["Access-Control-Allow-Origin"] = origin
        return response

    @app.middleware("http")
    async def _lab_header(request: Request, call_next) -> Response:
        response = await call_next(request)
        response.headers[LAB_HEADER] = __version__
        return response

    app.include_router(meta.router)
    for module in (models, generate, embed, running, openai):
        app.include_router(module.router)
    return app


#: The preflight headers gin-contrib/cors sends with Ollama's configuration: its default
#: methods and max age (12 h), Ollama's allowed headers in Go's canonical form.
CORS_PREFLIGHT = {
    "Access-Control-Allow-Methods": "GET,POST,PUT,PATCH,DELETE,HEAD,OPTIONS",
    "Access-Control-Allow-Headers": ",".join(
        ["Authorization", "Content-Type", "User-Agent", "Accept", "X-Requested-With", "Openai-Beta"]
        + ["X-Stainless-" + h for h in ("Arch", "Async", "Custom-Poll-Interval", "Helper-Method", "Lang", "Os",
                                        "Package-Version", "Poll-Helper", "Retry-Count", "Runtime",
                                        "Runtime-Version", "Timeout")]
    ),  # fmt: skip
    "Access-Control-Max-Age": "43200",
}


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
