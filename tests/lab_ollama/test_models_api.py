"""Lab Ollama's model management, through the official ``ollama`` client over HTTP."""

import hashlib
import json

import ollama
import pytest
import requests

from course_lib.model import bundled_gguf, sha256_of
from course_lib.store.layout import Store
from course_lib.store.modelfile import parse
from course_lib.store.names import parse_name


def test_root_version_and_lab_header(lab):
    root = requests.get(lab.url + "/", timeout=5)
    assert root.text == "Ollama is running"
    assert requests.head(lab.url + "/", timeout=5).status_code == 200
    version = requests.get(lab.url + "/api/version", timeout=5)
    assert version.json() == {"version": "0.33.0-rc2"}
    assert "X-Course-Lab" in version.headers


def test_a_foreign_host_header_is_refused(lab):
    reply = requests.get(lab.url + "/api/tags", headers={"Host": "evil.example"}, timeout=5)
    assert reply.status_code == 403 and reply.content == b""


def test_pull_streams_ollamas_progress(pulled):
    statuses = [p.status for p in pulled]
    assert statuses[0] == "pulling manifest"
    assert statuses[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    gguf_digest = "sha256:" + sha256_of(bundled_gguf())
    model_progress = [p for p in pulled if p.digest == gguf_digest]
    assert model_progress[0].status == f"pulling {gguf_digest[7:19]}"
    assert model_progress[-1].completed == model_progress[-1].total == bundled_gguf().stat().st_size
    completed = [p.completed or 0 for p in model_progress]
    assert completed == sorted(completed) and len(completed) >= 3, "progress grows"


def test_list_shows_the_model_as_ollama_does(client, pulled, lab):
    (entry,) = [m for m in client.list().models if m.model == "smollm2:135m"]
    assert entry.details.quantization_level == "Q4_1"
    assert entry.details.parameter_size == "134.52M"
    assert entry.details.family == "llama" and entry.details.format == "gguf"
    manifest = lab.models / "manifests/registry.ollama.ai/library/smollm2/135m"
    assert entry.digest == hashlib.sha256(manifest.read_bytes()).hexdigest()
    layers = json.loads(manifest.read_text())
    assert entry.size == sum(l["size"] for l in layers["layers"]) + layers["config"]["size"]


def test_show_gives_what_the_client_needs(client, pulled, lab):
    shown = client.show("smollm2:135m")
    assert shown.modelinfo["general.architecture"] == "llama"
    assert shown.modelinfo["llama.attention.head_count"] == 9
    assert shown.modelinfo["llama.attention.head_count_kv"] == 3
    assert shown.modelinfo["tokenizer.ggml.tokens"] == [], "long arrays only with verbose"
    assert shown.capabilities == ["completion"]  # the library template has no tools branch
    assert "<|im_start|>" in shown.template
    assert 'stop                           "<|im_end|>"' in shown.parameters
    assert "Apache" in shown.license
    # The official client (0.6.3) cannot ask for verbose; the CLI's `show -v` does.
    verbose = requests.post(f"{lab.url}/api/show", json={"model": "smollm2:135m", "verbose": True}, timeout=30)
    assert len(verbose.json()["model_info"]["tokenizer.ggml.tokens"]) == 49152


def test_show_modelfile_round_trips_through_create(client, pulled):
    first = parse(client.show("smollm2:135m").modelfile)
    assert first.template == client.show("smollm2:135m").template
    list(client.create(
        model="coder", from_="smollm2:135m", system="You are a coding assistant.",
        parameters={"temperature": 0.2, "num_ctx": 2048}, stream=True,
    ))  # fmt: skip
    shown = parse(client.show("coder").modelfile)
    assert shown.system == "You are a coding assistant."
    assert shown.parameters["temperature"] == 0.2 and shown.parameters["num_ctx"] == 2048
    assert shown.parameters["stop"] == ["<|im_start|>", "<|im_end|>"], "base params kept"
    list(client.create(
        model="coder-again", from_="coder", system=shown.system,
        parameters=shown.parameters, template=shown.template, stream=True,
    ))  # fmt: skip
    again = parse(client.show("coder-again").modelfile)
    assert again.parameters == shown.parameters and again.system == shown.system


def test_create_reports_new_and_existing_layers(client, pulled):
    statuses = [p.status for p in client.create(model="sys1", from_="smollm2:135m", system="Be brief.", stream=True)]
    assert any(s.startswith("creating new layer sha256:") for s in statuses)
    assert any(s.startswith("using existing layer sha256:") for s in statuses)
    assert statuses[-2:] == ["writing manifest", "success"]
    again = [p.status for p in client.create(model="sys2", from_="smollm2:135m", system="Be brief.", stream=True)]
    assert not any(s.startswith("creating new layer") for s in again)


def test_create_reports_every_layer_but_the_config_and_adds_licenses(client, lab, pulled):
    """Ollama reports the manifest's layers, not its config blob, and appends a
    request's licenses to the base's (server/create.go at v0.33.0-rc2, setLicense)."""
    statuses = [p.status for p in client.create(model="licensed", from_="smollm2:135m", license="Extra terms.",
                                                 stream=True)]  # fmt: skip
    manifest = Store(lab.models).read_manifest(parse_name("licensed"))
    reported = {s.split()[-1] for s in statuses if s.endswith(tuple("0123456789abcdef")) and " layer " in s}
    assert reported == {layer["digest"] for layer in manifest["layers"]}
    assert manifest["config"]["digest"] not in reported
    shown = client.show("licensed").license
    assert "Apache" in shown and "Extra terms." in shown


def test_create_from_an_uploaded_gguf(client, lab):
    digest = client.create_blob(bundled_gguf())
    assert requests.head(f"{lab.url}/api/blobs/{digest}", timeout=5).status_code == 200
    list(client.create(model="from-file", files={"SmolLM2.gguf": digest}, stream=True))
    shown = client.show("from-file")
    assert shown.details.quantization_level == "Q4_1"
    assert shown.modelinfo["general.architecture"] == "llama"


def test_copy_and_delete(client, pulled):
    client.copy("smollm2:135m", "me/smol:copy")
    names = {m.model for m in client.list().models}
    assert "me/smol:copy" in names
    client.delete("me/smol:copy")
    assert "me/smol:copy" not in {m.model for m in client.list().models}
    assert "smollm2:135m" in {m.model for m in client.list().models}, "shared blobs stay"
    with pytest.raises(ollama.ResponseError) as error:
        client.delete("me/smol:copy")
    assert error.value.status_code == 404 and error.value.error == "model 'me/smol:copy' not found"


def test_pulling_a_model_lab_ollama_cannot_provide(client):
    with pytest.raises(ollama.ResponseError, match="pull model manifest: file does not exist"):
        list(client.pull("llama3.2", stream=True))
    with pytest.raises(ollama.ResponseError) as error:
        client.pull("llama3.2")
    assert error.value.status_code == 500


def test_capabilities_follow_the_template(client, pulled):
    list(client.create(model="fim", from_="smollm2:135m", template="<PRE> {{ .Prompt }} <SUF>{{ .Suffix }} <MID>", stream=True))
    assert client.show("fim").capabilities == ["completion", "insert"]


def test_the_alias_reuses_the_blobs_already_pulled(client, pulled):
    again = list(client.pull("smollm2:135m-instruct-q4_1", stream=True))
    gguf_digest = "sha256:" + sha256_of(bundled_gguf())
    model_lines = [p for p in again if p.digest == gguf_digest]
    assert len(model_lines) == 1 and model_lines[0].completed == model_lines[0].total
    names = {m.model: m.digest for m in client.list().models}
    assert "smollm2:135m-instruct-q4_1" in names
    with pytest.raises(ollama.ResponseError, match="file does not exist"):
        list(client.pull("smollm2", stream=True))
