"""What ``/api/show`` and ``/api/tags`` say about a stored model.

Reads the manifest and its layers back into the parts of a model (template, system,
parameters, messages, licenses) and the GGUF's own metadata for ``model_info``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .. import gguf_info
from ..store import modelfile as mf
from ..store.layout import MEDIA_PREFIX, Store
from ..store.names import ModelName
from . import gotemplate


#: A model without a template layer has Ollama's ``template.DefaultTemplate``.
DEFAULT_TEMPLATE = "{{ .Prompt }}"


@dataclass
class StoredModel:
    """A model as its manifest and layers describe it."""

    name: ModelName
    manifest_path: Path
    manifest: dict
    config: dict
    model_path: Path | None = None
    parent: str = ""
    template: str | None = None
    system: str | None = None
    params: dict = field(default_factory=dict)
    messages: list[dict] = field(default_factory=list)
    licenses: list[str] = field(default_factory=list)
    adapters: list[Path] = field(default_factory=list)

    @property
    def size(self) -> int:
        layers = self.manifest["layers"]
        return sum(l["size"] for l in layers) + self.manifest["config"]["size"]

    @property
    def digest(self) -> str:
        """sha256 of the manifest file's bytes, hex, as ``/api/tags`` reports it."""
        return hashlib.sha256(self.manifest_path.read_bytes()).hexdigest()

    @property
    def modified_at(self) -> str:
        stamp = dt.datetime.fromtimestamp(self.manifest_path.stat().st_mtime).astimezone()
        return stamp.isoformat()

    def details(self) -> dict:
        families = self.config.get("model_families")
        return {
            "parent_model": self.parent,
            "format": self.config.get("model_format", "gguf"),
            "family": self.config.get("model_family", ""),
            "families": families,
            "parameter_size": self.config.get("model_type", ""),
            "quantization_level": self.config.get("file_type", ""),
        }

    def capabilities(self) -> list[str]:
        """As Ollama derives them: a GGUF with a pooling type embeds (and does
        nothing else); other models complete, plus what their template takes."""
        if self.embeds:
            return ["embedding"]
        caps = ["completion"]
        try:
            used = gotemplate.fields(gotemplate.parse(self.template or ""))
        except gotemplate.TemplateError:
            used = set()
        if "Tools" in used:
            caps.append("tools")
        if "Suffix" in used:
            caps.append("insert")
        return caps

    @property
    def embeds(self) -> bool:
        """The GGUF has ``<arch>.pooling_type``: Ollama starts llama-server with
        ``--embeddings`` for it, and only for it (``llm/llama_server.go``)."""
        return self.model_path is not None and bool(gguf_keys(str(self.model_path)).get("pooling_type"))

    def context_length(self) -> int:
        """The trained context from the GGUF (``<arch>.context_length``), 0 if unknown."""
        if self.model_path is None:
            return 0
        return int(gguf_keys(str(self.model_path)).get("context_length") or 0)

    def to_modelfile(self) -> mf.Modelfile:
        return mf.Modelfile(
            from_=str(self.model_path) if self.model_path else self.parent,
            adapters=[str(a) for a in self.adapters],
            template=self.template or DEFAULT_TEMPLATE,  # Ollama's Modelfile always has one
            system=self.system,
            parameters=dict(self.params),
            licenses=list(self.licenses),
            messages=list(self.messages),
        )


def load(store: Store, name: ModelName) -> StoredModel | None:
    """Read a stored model back from its manifest, or None if absent."""
    stored = store.find(name)
    if stored is None:
        return None
    path = store.manifest_file(stored)
    manifest = json.loads(path.read_text())
    config = json.loads(store.read_blob(manifest["config"]["digest"]))
    result = StoredModel(stored, path, manifest, config)
    for layer in manifest["layers"]:
        kind = layer["mediaType"].removeprefix(MEDIA_PREFIX)
        blob = store.blob_path(layer["digest"])
        if kind == "model":
            result.model_path, result.parent = blob, layer.get("from", "")
        elif kind == "adapter":
            result.adapters.append(blob)
        elif kind in ("template", "prompt"):
            result.template = blob.read_text()
        elif kind == "system":
            result.system = blob.read_text()
        elif kind == "params":
            result.params = json.loads(blob.read_text())
        elif kind == "messages":
            result.messages = json.loads(blob.read_text())
        elif kind == "license":
            result.licenses.append(blob.read_text())
    return result


def format_parameters(params: dict) -> str:
    """``/api/show``'s ``parameters``: ``%-30s %#v`` per value, stop lines repeated."""
    lines = []
    for key, value in params.items():
        for item in value if isinstance(value, list) else [value]:
            shown = json.dumps(item) if isinstance(item, str) else mf.format_value(item)
            lines.append(f"{key:<30} {shown}")
    return "\n".join(lines)


def render_modelfile(model: StoredModel) -> str:
    """``ollama show --modelfile``: a header, then the Modelfile."""
    header = (
        '# Modelfile generated by "ollama show"\n'
        "# To build a new Modelfile based on this, replace FROM with:\n"
        f"# FROM {model.name.display}\n\n"
    )
    return header + mf.render(model.to_modelfile())


HIDDEN_INFO = ("general.name", "tokenizer.chat_template")  # Ollama deletes them (routes.go)


def tags_entry(model: StoredModel) -> dict:
    """One model in ``/api/tags``: with ``capabilities`` (v0.9.1+) and the details'
    ``context_length`` / ``embedding_length`` (v0.30.0+)."""
    keys = gguf_keys(str(model.model_path)) if model.model_path is not None else {}
    details = model.details()
    for key in ("context_length", "embedding_length"):
        if keys.get(key):
            details[key] = int(keys[key])
    return {"name": model.name.display, "model": model.name.display, "modified_at": model.modified_at,
            "size": model.size, "digest": model.digest, "details": details,
            "capabilities": model.capabilities()}  # fmt: skip


def show(model: StoredModel, verbose: bool = False) -> dict:
    """The body of ``/api/show``."""
    body: dict = {
        "modelfile": render_modelfile(model),
        "parameters": format_parameters(model.params),
        "template": model.template or DEFAULT_TEMPLATE,
        "system": model.system,
        "license": "\n".join(model.licenses) if model.licenses else None,
        "details": model.details(),
        "model_info": {},
        "capabilities": model.capabilities(),
        "modified_at": model.modified_at,
    }
    if model.messages:
        body["messages"] = model.messages
    if model.model_path is not None:
        info, tensors = gguf_metadata(str(model.model_path))
        body["model_info"] = {
            k: ([] if isinstance(v, list) and len(v) > 5 and not verbose else v)
            for k, v in info.items()
            if k not in HIDDEN_INFO
        }
        body["tensors"] = tensors
    return {k: v for k, v in body.items() if v not in (None, "")}


@lru_cache(maxsize=16)
def gguf_keys(path: str) -> dict[str, str]:
    """The architecture's own keys without the ``<arch>.`` prefix (``pooling_type``,
    ``context_length``, ``embedding_length``), read through llama.cpp (fast)."""
    from .runner.engine import model_metadata

    info = model_metadata(path)
    prefix = info.get("general.architecture", "llama") + "."
    return {k.removeprefix(prefix): v for k, v in info.items() if k.startswith(prefix)}


@lru_cache(maxsize=8)
def gguf_metadata(path: str) -> tuple[dict, list[dict]]:
    """GGUF key/values (``general.architecture``, ``llama.context_length``…) and tensors."""
    header = gguf_info.read(path)
    info = {**header.fields, "general.parameter_count": header.parameter_count}
    tensors = [{"name": t.name, "type": t.type_name, "shape": list(t.shape)} for t in header.tensors]
    return info, tensors
