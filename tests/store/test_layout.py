"""The on-disk store: Ollama's layout, atomic writes, a writer killed mid-blob."""

import hashlib
import json
import os
import subprocess
import sys

import pytest

from course_lib.model import bundled_gguf, sha256_of
from course_lib.store.layout import MEDIA_PREFIX, Layer, Store, StoreError
from course_lib.store.names import parse_name


def test_layout_is_ollamas(tmp_path):
    store = Store(tmp_path)
    config = store.write_blob_bytes(b'{"model_format":"gguf"}', "application/vnd.docker.container.image.v1+json")
    template = store.write_blob_bytes(b"{{ .Prompt }}", MEDIA_PREFIX + "template")
    name = parse_name("smollm2:135m")
    path = store.write_manifest(name, config, [template])
    assert path == tmp_path / "manifests/registry.ollama.ai/library/smollm2/135m"
    assert (tmp_path / "blobs" / template.digest.replace(":", "-")).read_bytes() == b"{{ .Prompt }}"
    manifest = json.loads(path.read_text())
    assert manifest["schemaVersion"] == 2
    assert manifest["layers"] == [
        {"mediaType": MEDIA_PREFIX + "template", "digest": template.digest, "size": 13}
    ]
    assert template.digest == "sha256:" + hashlib.sha256(b"{{ .Prompt }}").hexdigest()


def test_lookup_is_case_insensitive_and_keeps_the_stored_spelling(tmp_path):
    store = Store(tmp_path)
    config = store.write_blob_bytes(b"{}", "c")
    store.write_manifest(parse_name("Me/Helper:V1"), config, [])
    assert store.find(parse_name("me/helper:v1")).display == "Me/Helper:V1"
    store.write_manifest(parse_name("me/helper:v1"), config, [])
    assert [n.display for n, _ in store.models()] == ["Me/Helper:V1"]


def test_a_wrong_digest_keeps_nothing(tmp_path):
    store = Store(tmp_path)
    with pytest.raises(StoreError, match='digest mismatch, expected "sha256:0+", got "sha256:'):
        store.write_blob([b"data"], expected="sha256:" + "0" * 64)
    assert list((tmp_path / "blobs").iterdir()) == []


@pytest.mark.parametrize("digest", ["sha256:abc", "md5:" + "0" * 64, "sha256:" + "g" * 64])
def test_bad_digests_are_refused_in_ollamas_words(tmp_path, digest):
    with pytest.raises(StoreError, match="^invalid digest format$"):
        Store(tmp_path).blob_path(digest)


def test_a_manifest_needs_its_blobs(tmp_path):
    store = Store(tmp_path)
    ghost = Layer("c", "sha256:" + "1" * 64, 3)
    with pytest.raises(StoreError, match="missing"):
        store.write_manifest(parse_name("m"), ghost, [])
    assert list(store.models()) == []


def test_delete_removes_only_its_own_unshared_blobs(tmp_path):
    store = Store(tmp_path)
    shared = store.write_blob_bytes(b"shared", "c")
    own = store.write_blob_bytes(b"own", MEDIA_PREFIX + "system")
    waiting, _ = store.write_blob([b"an upload waiting for a create"])
    store.write_manifest(parse_name("a"), shared, [own])
    store.write_manifest(parse_name("b"), shared, [])
    assert store.delete(parse_name("A")) is True
    assert store.has_blob(shared.digest) and store.has_blob(waiting)
    assert not store.has_blob(own.digest)
    assert not (tmp_path / "manifests/registry.ollama.ai/library/a").exists()
    assert store.delete(parse_name("a")) is False


KILLED_WRITER = """
import sys
from pathlib import Path
from course_lib.store.layout import Store, MEDIA_PREFIX
from course_lib.store.names import parse_name
store = Store(Path(sys.argv[1]))
gguf = Path(sys.argv[2])
def chunks():
    with gguf.open("rb") as f:
        while block := f.read(1 << 20):
            yield block
digest, size = store.write_blob(chunks())
config = store.write_blob_bytes(b"{}", "c")
store.write_manifest(parse_name("smollm2:135m"), config, [])
print("not killed")
"""


def test_a_writer_killed_mid_blob_leaves_the_store_intact(tmp_path):
    gguf = bundled_gguf()
    total = gguf.stat().st_size
    kill_at = 10 << 20
    result = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(tmp_path), str(gguf)],
        env={**os.environ, "COURSE_LAB_KILL_AFTER_BYTES": str(kill_at)},
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == -9, result.stderr
    partials = list((tmp_path / "blobs").glob("*-partial*"))
    assert len(partials) == 1
    assert kill_at <= partials[0].stat().st_size < total, "the kill landed mid-blob"
    assert [p for p in (tmp_path / "blobs").iterdir() if "partial" not in p.name] == []
    assert not (tmp_path / "manifests").exists() or list((tmp_path / "manifests").rglob("*")) == []

    store = Store(tmp_path)  # opening the store cleans what the killed writer left
    assert list((tmp_path / "blobs").iterdir()) == []
    with gguf.open("rb") as f:
        digest, size = store.write_blob(iter(lambda: f.read(1 << 20), b""))
    assert (digest, size) == ("sha256:" + sha256_of(gguf), total)


def test_replacing_a_manifest_removes_what_only_the_old_one_used(tmp_path):
    store = Store(tmp_path)
    config = store.write_blob_bytes(b"{}", "c")
    old_system = store.write_blob_bytes(b"old", MEDIA_PREFIX + "system")
    new_system = store.write_blob_bytes(b"new", MEDIA_PREFIX + "system")
    assert store.replace_manifest(parse_name("m"), config, [old_system]) == []
    assert store.replace_manifest(parse_name("m"), config, [new_system]) == [old_system.digest]
    assert not store.has_blob(old_system.digest)
    assert store.has_blob(new_system.digest) and store.has_blob(config.digest)
