"""``/api/create``: a new model from a stored one or from uploaded GGUF blobs.

The base model's layers are reused; what the request sets (template, system,
parameters, messages, adapters) replaces the base's, and its licenses are added to the
base's, as in Ollama (``server/create.go``, ``setLicense`` appends). Statuses follow
Ollama: one ``using existing layer`` / ``creating new layer`` per layer (the config
blob is not reported), then ``writing manifest`` and ``success``. Errors carry
Ollama's texts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import PurePosixPath

from ..model import gguf_file_type
from ..store.layout import CONFIG_MEDIA, MEDIA_PREFIX, Layer, Store, StoreError, normalise_digest
from ..store.names import InvalidName, ModelName, parse_name
from . import catalog, describe, gotemplate, quantize
from .errors import bad_request
from .pull import pull
from .schemas import CreateRequest

GGUF_MAGIC = b"GGUF"


def create(store: Store, request: CreateRequest) -> Iterator[dict]:
    """Yield Ollama's create statuses; raise OllamaError for bad input."""
    name = _name(request.model)
    if not request.from_ and not request.files:
        raise bad_request("neither 'from' or 'files' was specified")
    if request.template:
        try:
            gotemplate.parse(request.template)
        except gotemplate.TemplateError as exc:
            raise bad_request(f"template error: {exc}") from exc
    if request.files:
        model_layer, config = _from_files(store, request.files)
        base = None
    else:
        base = yield from _base_model(store, request.from_)
        model_layer = next(
            Layer(l["mediaType"], l["digest"], l["size"], base.parent or base.name.display)
            for l in base.manifest["layers"]
            if l["mediaType"] == MEDIA_PREFIX + "model"
        )
        config = Layer(CONFIG_MEDIA, base.manifest["config"]["digest"], base.manifest["config"]["size"])
    fresh: set[str] = set()
    if request.quantize:
        model_layer, config, fresh = yield from quantize.quantized(store, model_layer, config, request.quantize)
    layers = [model_layer, *_adapter_layers(store, request.adapters)]
    existing = {l.digest for l in [*layers, config]} - fresh
    for media_type, data in _text_layers(request, base):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if store.has_blob(digest):
            existing.add(digest)
        layers.append(store.write_blob_bytes(data, media_type))
    for layer in layers:
        verb = "using existing" if layer.digest in existing else "creating new"
        yield {"status": f"{verb} layer {layer.digest}"}
        existing.add(layer.digest)
    yield {"status": "writing manifest"}
    store.replace_manifest(name, config, layers)  # blobs the old version alone used go
    yield {"status": "success"}


def _name(text: str) -> ModelName:
    try:
        return parse_name(text)
    except InvalidName as exc:
        raise bad_request("invalid model name") from exc


def _base_model(store: Store, text: str) -> Iterator[dict]:
    """The stored base model; a missing one is pulled first, as Ollama does."""
    base_name = _name(text)
    base = describe.load(store, base_name)
    if base is None:  # an unknown name fails inside pull, with pull's messages
        yield from pull(store, base_name)
        base = describe.load(store, base_name)
    return base


def _checked_blob(store: Store, filename: str, digest: str) -> Layer:
    path = PurePosixPath(filename)
    if path.is_absolute() or ".." in path.parts:
        raise bad_request("file path must be relative")
    try:
        blob = store.blob_path(digest)
    except StoreError as exc:
        raise bad_request(str(exc)) from exc
    if not blob.is_file():
        raise bad_request(f"blob {digest} not found")
    return Layer("", normalise_digest(digest), blob.stat().st_size)


def _from_files(store: Store, files: dict[str, str]) -> tuple[Layer, Layer]:
    """A model layer from an uploaded GGUF, and a config describing it."""
    ggufs = [(f, d) for f, d in files.items() if f.endswith(".gguf")] or list(files.items())
    filename, digest = ggufs[0]
    layer = _checked_blob(store, filename, digest)
    blob = store.blob_path(layer.digest)
    with blob.open("rb") as handle:
        if handle.read(4) != GGUF_MAGIC:
            raise bad_request("supplied file was not in GGUF format")
    info, _ = describe.gguf_metadata(str(blob))
    arch = info.get("general.architecture", "")
    config = catalog.gguf_config(
        arch, catalog.human_number(info["general.parameter_count"]), gguf_file_type(blob)
    )
    config_layer = store.write_blob_bytes(config, CONFIG_MEDIA)
    return Layer(MEDIA_PREFIX + "model", layer.digest, layer.size), config_layer


def _adapter_layers(store: Store, adapters: dict[str, str]) -> list[Layer]:
    result = []
    for filename, digest in adapters.items():
        layer = _checked_blob(store, filename, digest)
        result.append(Layer(MEDIA_PREFIX + "adapter", layer.digest, layer.size))
    return result


def _text_layers(request: CreateRequest, base) -> list[tuple[str, bytes]]:
    """Template, system, params, messages and licenses: the request's, else the base's."""
    template = request.template if request.template is not None else getattr(base, "template", None)
    system = request.system if request.system is not None else getattr(base, "system", None)
    params = dict(getattr(base, "params", {}) or {})
    params.update(request.parameters or {})
    messages = request.messages if request.messages is not None else getattr(base, "messages", [])
    added = request.license if request.license is not None else []
    licenses = [*(getattr(base, "licenses", None) or []), *([added] if isinstance(added, str) else added)]
    layers = []
    if template:
        layers.append((MEDIA_PREFIX + "template", template.encode()))
    if system:
        layers.append((MEDIA_PREFIX + "system", system.encode()))
    if params:
        layers.append((MEDIA_PREFIX + "params", json.dumps(params).encode()))
    if messages:
        layers.append((MEDIA_PREFIX + "messages", json.dumps(messages).encode()))
    layers += [(MEDIA_PREFIX + "license", text.encode()) for text in licenses]
    return layers
