"""Ollama's on-disk store: ``manifests/<host>/<ns>/<model>/<tag>`` and ``blobs/``.

Every write is atomic: bytes go to a ``-partial`` file beside the target, are hashed
while written, flushed to disk, checked against the expected digest, and only then
renamed into place. A manifest is written after all its blobs, the same way. So a
pull or create killed at any moment leaves either the old state or the new one, plus
at most a ``-partial`` file, which ``Store(...)`` removes when it opens the store.

Test-only switch: with ``COURSE_LAB_KILL_AFTER_BYTES=N`` set, the writer kills its
own process with SIGKILL once N bytes of a blob are on disk, so a test can prove the
kill landed mid-write and that the store is intact afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .names import ModelName

MEDIA_PREFIX = "application/vnd.ollama.image."
MANIFEST_MEDIA = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_MEDIA = "application/vnd.docker.container.image.v1+json"
DIGEST = re.compile(r"^sha256[:-]([0-9a-fA-F]{64})$")
PARTIAL = "-partial"
_KILL_SWITCH = "COURSE_LAB_KILL_AFTER_BYTES"


class StoreError(ValueError):
    """Bad input for the store; the text is Ollama's (e.g. ``invalid digest format``)."""


@dataclass(frozen=True)
class Layer:
    """One entry of a manifest's ``layers`` (or its ``config``)."""

    media_type: str
    digest: str  # "sha256:<hex>"
    size: int
    from_: str | None = None

    def as_json(self) -> dict:
        entry = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.from_:
            entry["from"] = self.from_
        return entry


def normalise_digest(digest: str) -> str:
    """``sha256:<hex>`` from either spelling; StoreError as Ollama words it.

    >>> normalise_digest("sha256-" + "A" * 64) == "sha256:" + "a" * 64
    True
    """
    match = DIGEST.match(digest)
    if not match:
        raise StoreError("invalid digest format")
    return f"sha256:{match.group(1).lower()}"


class Store:
    """A model store rooted at ``OLLAMA_MODELS``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.blobs = self.root / "blobs"
        self.manifests = self.root / "manifests"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.manifests.mkdir(parents=True, exist_ok=True)
        self.remove_partials()

    # -- blobs ---------------------------------------------------------------

    def blob_path(self, digest: str) -> Path:
        return self.blobs / normalise_digest(digest).replace(":", "-")

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

    def write_blob(
        self,
        chunks: Iterable[bytes],
        expected: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[str, int]:
        """Store a blob atomically; return its digest and size.

        With ``expected``, a mismatch raises StoreError in Ollama's words and
        nothing is kept.
        """
        kill_after = int(os.environ.get(_KILL_SWITCH, "0") or 0)
        partial = self.blobs / f"sha256-{os.getpid()}-{time.monotonic_ns()}{PARTIAL}"
        digest, size = hashlib.sha256(), 0
        try:
            with partial.open("wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    if progress:
                        progress(size)
                    if kill_after and size >= kill_after:
                        out.flush()
                        os.fsync(out.fileno())
                        os.kill(os.getpid(), signal.SIGKILL)
                out.flush()
                os.fsync(out.fileno())
            actual = f"sha256:{digest.hexdigest()}"
            if expected is not None and normalise_digest(expected) != actual:
                raise StoreError(
                    f'digest mismatch, expected "{normalise_digest(expected)}", '
                    f'got "{actual}"'
                )
            os.replace(partial, self.blob_path(actual))
            return actual, size
        finally:
            partial.unlink(missing_ok=True)

    def write_blob_bytes(self, data: bytes, media_type: str) -> Layer:
        """A small blob (template, params, config…) stored and described as a layer."""
        digest, size = self.write_blob([data])
        return Layer(media_type, digest, size)

    def read_blob(self, digest: str) -> bytes:
        return self.blob_path(digest).read_bytes()

    def remove_partials(self) -> list[Path]:
        """Delete what killed writers left; return what was removed."""
        leftovers = [p for p in self.blobs.glob(f"*{PARTIAL}*") if p.is_file()]
        leftovers += [p for p in self.manifests.rglob(f"*{PARTIAL}*") if p.is_file()]
        for path in leftovers:
            path.unlink(missing_ok=True)
        return leftovers

    # -- manifests -------------------------------------------------------------

    def find(self, name: ModelName) -> ModelName | None:
        """The stored spelling of ``name`` (Ollama matches case-insensitively)."""
        for stored, _ in self.models():
            if stored.matches(name):
                return stored
        return None

    def manifest_file(self, name: ModelName) -> Path:
        return name.manifest_path(self.manifests)

    def read_manifest(self, name: ModelName) -> dict | None:
        stored = self.find(name)
        if stored is None:
            return None
        return json.loads(self.manifest_file(stored).read_text())

    def write_manifest(self, name: ModelName, config: Layer, layers: list[Layer]) -> Path:
        """Write the manifest after checking that every blob it names is stored."""
        for layer in [config, *layers]:
            if not self.has_blob(layer.digest):
                raise StoreError(f"blob {layer.digest} is missing")
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA,
            "config": config.as_json(),
            "layers": [layer.as_json() for layer in layers],
        }
        return self._write_manifest_file(name, manifest)

    def replace_manifest(self, name: ModelName, config: Layer, layers: list[Layer]) -> list[str]:
        """Write the manifest, then delete the blobs the old one used and nothing
        references any more (a re-pull or re-create); return their digests."""
        before = self.read_manifest(name)
        self.write_manifest(name, config, layers)
        if before is None:
            return []
        old = {before["config"]["digest"], *(l["digest"] for l in before["layers"])}
        orphans = sorted(old - self.referenced_digests())
        for digest in orphans:
            self.blob_path(digest).unlink(missing_ok=True)
        return orphans

    def _write_manifest_file(self, name: ModelName, manifest: dict) -> Path:
        """Atomic: a partial file, flushed, then renamed over the stored spelling."""
        target = self.manifest_file(self.find(name) or name)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + PARTIAL)
        partial.write_text(json.dumps(manifest) + "\n")
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, target)
        return target

    def copy(self, source: ModelName, destination: ModelName) -> bool:
        """Point ``destination`` at ``source``'s manifest (overwriting); False if absent."""
        manifest = self.read_manifest(source)
        if manifest is None:
            return False
        self._write_manifest_file(destination, manifest)
        return True

    def models(self) -> Iterator[tuple[ModelName, Path]]:
        """Every stored model with its manifest file."""
        for path in self.manifests.glob("*/*/*/*"):
            if path.is_file() and PARTIAL not in path.name:
                host, namespace, model, tag = path.relative_to(self.manifests).parts
                yield ModelName(host, namespace, model, tag), path

    def delete(self, name: ModelName) -> bool:
        """Remove a model's manifest and those of its blobs no other manifest uses.

        Other unreferenced blobs (an upload waiting for its create) stay.
        """
        stored = self.find(name)
        if stored is None:
            return False
        path = self.manifest_file(stored)
        manifest = json.loads(path.read_text())
        own = {manifest["config"]["digest"], *(l["digest"] for l in manifest["layers"])}
        path.unlink()
        for parent in path.parents:
            if parent == self.manifests or any(parent.iterdir()):
                break
            parent.rmdir()
        for digest in own - self.referenced_digests():
            self.blob_path(digest).unlink(missing_ok=True)
        return True

    def referenced_digests(self) -> set[str]:
        digests = set()
        for _, path in self.models():
            manifest = json.loads(path.read_text())
            digests.add(manifest["config"]["digest"])
            digests.update(layer["digest"] for layer in manifest["layers"])
        return digests

    def prune(self, older_than: float = 0.0) -> list[str]:
        """Delete blobs no manifest references (only those older than ``older_than``
        seconds); return their digests. Ollama prunes at start with one hour."""
        keep = self.referenced_digests()
        cutoff = time.time() - older_than
        removed = []
        for blob in self.blobs.glob("sha256-*"):
            digest = blob.name.replace("-", ":", 1)
            if PARTIAL in blob.name or digest in keep or blob.stat().st_mtime > cutoff:
                continue
            blob.unlink()
            removed.append(digest)
        return removed
