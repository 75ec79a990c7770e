"""``/api/pull``: install a bundled model with Ollama's progress messages.

Statuses, in Ollama's order: ``pulling manifest``; per blob ``pulling <12 hex>``
with ``digest``, ``total`` and ``completed`` (about every 60 ms while copying);
``verifying sha256 digest``; ``writing manifest``; ``success``. A name lab Ollama
cannot provide fails with Ollama's text, ``pull model manifest: file does not exist``,
followed by why: this offline lab carries only the course's models, listed.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from ..model import sha256_of
from ..store.layout import CONFIG_MEDIA, MEDIA_PREFIX, Layer, Store
from ..store.names import ModelName
from . import catalog, minilm
from .errors import OllamaError

CHUNK = 1 << 20
PROGRESS_EVERY = 0.06  # seconds, as Ollama's pull reports


def pull(store: Store, name: ModelName) -> Iterator[dict]:
    """Yield Ollama's pull statuses; raise OllamaError (500) for an unknown model."""
    yield {"status": "pulling manifest"}
    try:
        bundled = catalog.lookup(name)
    except minilm.MissingModel as exc:  # a course model whose package is not installed
        raise OllamaError(500, str(exc)) from exc
    if bundled is None:
        raise OllamaError(500, not_in_lab())
    model_digest = "sha256:" + sha256_of(bundled.gguf)
    small = [
        (MEDIA_PREFIX + kind, data)
        for kind, data in (("template", bundled.template.encode()), ("system", bundled.system.encode()),
                           ("license", bundled.license.encode()), ("params", _json(bundled.params) if bundled.params else b""))
        if data
    ]  # fmt: skip
    size = bundled.gguf.stat().st_size
    yield from _copy_gguf(store, bundled.gguf, model_digest, size)
    layers = [Layer(MEDIA_PREFIX + "model", model_digest, size)]
    for media_type, data in small:
        layer = store.write_blob_bytes(data, media_type)
        yield _progress(layer.digest, layer.size, layer.size)
        layers.append(layer)
    config = store.write_blob_bytes(catalog.config_blob(bundled), CONFIG_MEDIA)
    yield _progress(config.digest, config.size, config.size)
    yield {"status": "verifying sha256 digest"}
    yield {"status": "writing manifest"}
    if store.replace_manifest(name, config, layers):
        yield {"status": "removing unused layers"}
    yield {"status": "success"}


def not_in_lab() -> str:
    """Ollama's text for a name it cannot find, and why here: the lab is offline."""
    return ("pull model manifest: file does not exist (this offline lab carries only the course's models: "
            + ", ".join(catalog.names()) + "; other models need a real Ollama with a network)")  # fmt: skip


def _copy_gguf(store: Store, path: Path, digest: str, size: int) -> Iterator[dict]:
    """Copy the GGUF into the store in a writer thread, yielding live progress."""
    if store.has_blob(digest):
        yield _progress(digest, size, size)  # present: reported once, complete
        return
    events: queue.Queue = queue.Queue()

    def chunks() -> Iterator[bytes]:
        with path.open("rb") as handle:
            while block := handle.read(CHUNK):
                yield block

    def write() -> None:
        try:
            store.write_blob(chunks(), digest, lambda n: events.put(("progress", n)))
            events.put(("done", None))
        except Exception as exc:  # handed to the response, never lost
            events.put(("error", exc))

    threading.Thread(target=write, daemon=True, name="pull-writer").start()
    yield _progress(digest, size, 0)
    last = 0.0
    while True:
        kind, value = events.get()
        if kind == "error":
            raise value
        if kind == "done":
            break
        if time.monotonic() - last >= PROGRESS_EVERY:
            last = time.monotonic()
            yield _progress(digest, size, value)
    yield _progress(digest, size, size)


def _progress(digest: str, total: int, completed: int) -> dict:
    status = {"status": f"pulling {digest.split(':')[1][:12]}", "digest": digest, "total": total}
    if completed:
        status["completed"] = completed
    return status


def _json(data: dict) -> bytes:
    return json.dumps(data).encode()
