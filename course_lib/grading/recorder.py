"""A recording proxy in front of a real engine, for exercise tests.

Some answers can only be judged by what they *send*: did the chat session send its
history, did the call pass ``options``, did it retry after a 503 and give up at once
on a 404? An exercise test points the learner's function at this proxy, which
forwards every request to the real server (streams stay streams) and records the
request. It can also inject faults a real deployment produces: a 503 "server busy"
for the first N requests, a slow first answer, or a stream cut off after N chunks. So that a wrong answer that
forgets ``num_predict`` cannot generate forever, a generate or chat request without
one gets ``num_predict`` = ``cap`` on the way through; the record keeps what was sent.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

BUSY = {"error": "server busy, please try again.  maximum pending requests exceeded"}


@dataclass
class Record:
    """One request as the client sent it."""

    method: str
    path: str
    body: dict | list | None


@dataclass
class RecordingProxy:
    """``with RecordingProxy(target) as proxy:`` then send requests to ``proxy.url``."""

    target: str
    busy_first: int = 0  # answer 503 (Ollama's load-queue error) to the first N requests
    delay_first: int = 0  # hold the first N requests back for ``delay`` seconds
    delay: float = 0.0
    cap: int | None = 128
    cut_after: int | None = None  # close a streamed answer after this many chunks (a dying server)
    records: list[Record] = field(default_factory=list)

    def __enter__(self) -> "RecordingProxy":
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def posts(self, path: str) -> list[Record]:
        """The requests sent to ``path`` (e.g. ``/api/chat``), in order."""
        return [r for r in self.records if r.path == path]


def _handler_for(proxy: RecordingProxy) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # the body ends when the connection closes

        def log_message(self, *args) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            self._forward()

        def do_HEAD(self) -> None:
            self._forward()

        def do_POST(self) -> None:
            self._forward()

        def do_DELETE(self) -> None:
            self._forward()

        def _forward(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = _parse(raw)
            with lock:
                proxy.records.append(Record(self.command, self.path, body))
                number = len(proxy.records)
            if number <= proxy.delay_first:
                time.sleep(proxy.delay)
            if number <= proxy.busy_first:
                return self._send(503, "application/json", [json.dumps(BUSY).encode()])
            sent = _capped(self.path, body, proxy.cap) if proxy.cap else body
            data = json.dumps(sent).encode() if sent is not body else raw
            try:
                upstream = requests.request(
                    self.command, proxy.target + self.path, data=data or None,
                    headers={"Content-Type": "application/json"} if data else {},
                    stream=True, timeout=300,
                )  # fmt: skip
            except requests.RequestException as error:
                return self._send(502, "application/json", [json.dumps({"error": str(error)}).encode()])
            with upstream:
                chunks = upstream.iter_content(chunk_size=None)
                if proxy.cut_after is not None:
                    chunks = itertools.islice(chunks, proxy.cut_after)
                self._send(upstream.status_code, upstream.headers.get("Content-Type", "application/json"), chunks)

        def _send(self, status: int, content_type: str, chunks) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.end_headers()
                if self.command != "HEAD":
                    for chunk in chunks:
                        self.wfile.write(chunk)
                        self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout): nothing more to do

    return Handler


def _parse(raw: bytes) -> dict | list | None:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _capped(path: str, body, cap: int):
    """``body`` with num_predict = cap when a generate/chat request sets none."""
    if not isinstance(body, dict) or not path.startswith(("/api/generate", "/api/chat")):
        return body
    options = body.get("options") if isinstance(body.get("options"), dict) else {}
    if "num_predict" in options:
        return body
    return {**body, "options": {**options, "num_predict": cap}}
