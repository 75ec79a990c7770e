"""Bad input on the model endpoints: Ollama's statuses and texts, never a traceback."""

import pytest
import requests

DIGEST0 = "sha256:" + "0" * 64


@pytest.mark.parametrize(
    "method, path, body, status, error",
    [
        ("post", "/api/show", b"", 400, "missing request body"),
        ("post", "/api/show", b"{not json", 400, "invalid character 'n' looking for beginning of object key string"),
        ("post", "/api/show", b'{"model": 5}', 400, "json: cannot unmarshal number into Go struct field ShowRequest.model"),
        ("post", "/api/pull", b'{"model":"smollm2:135m","stream":"yes"}', 400, "json: cannot unmarshal string into Go struct field PullRequest.stream"),
        ("post", "/api/show", b"[1, 2]", 400, "json: cannot unmarshal array into Go value of type api.ShowRequest"),
        ("post", "/api/show", b"{}", 400, "model is required"),
        ("post", "/api/show", b'{"model":"nope"}', 404, "model 'nope:latest' not found"),
        ("post", "/api/pull", b'{"model":""}', 400, "invalid model name"),
        ("post", "/api/pull", b'{"model":"../../etc/passwd"}', 400, "invalid model name"),
        ("post", "/api/copy", b'{"source":"nope","destination":"x"}', 404, 'model "nope" not found'),
        ("post", "/api/copy", b'{"source":"smollm2:135m","destination":"a/:b"}', 400, 'destination "a/:b" is invalid'),
        ("delete", "/api/delete", b'{"model":"nope"}', 404, "model 'nope' not found"),
        ("delete", "/api/delete", b"{}", 400, "model is required"),
        ("post", "/api/create", b'{"model":"x"}', 400, "neither 'from' or 'files' was specified"),
        ("post", "/api/create", b'{"model":"x","from":"smollm2:135m","template":"{{ if .System }}"}', 400, "template error: template: :1: unexpected EOF"),
        ("post", "/api/create", b'{"model":"x","from":"smollm2:135m","template":"{{ nope }}"}', 400, 'template error: template: :1: function "nope" not defined'),
        ("post", "/api/create", b'{"model":"bad name!","from":"smollm2:135m"}', 400, "invalid model name"),
        ("post", "/api/create", b'{"model":"x","files":{"/etc/m.gguf":"' + DIGEST0.encode() + b'"}}', 400, "file path must be relative"),
        ("post", "/api/create", b'{"model":"x","files":{"m.gguf":"sha256:12"}}', 400, "invalid digest format"),
        ("post", f"/api/blobs/{DIGEST0}", b"not these bytes", 400, 'digest mismatch, expected "' + DIGEST0 + '", got "sha256:'),
        ("post", "/api/blobs/sha256:xyz", b"data", 400, "invalid digest format"),
    ],
)
def test_bad_requests(lab, method, path, body, status, error):
    reply = getattr(requests, method)(lab.url + path, data=body, timeout=30)
    assert reply.status_code == status
    assert reply.headers["content-type"].startswith("application/json")
    assert reply.json()["error"].startswith(error)
    assert "Traceback" not in reply.text


def test_a_non_gguf_upload_cannot_become_a_model(lab):
    import hashlib

    data = b"definitely not a model"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert requests.post(f"{lab.url}/api/blobs/{digest}", data=data, timeout=10).status_code == 201
    assert requests.post(f"{lab.url}/api/blobs/{digest}", data=data, timeout=10).status_code == 200
    reply = requests.post(lab.url + "/api/create", json={"model": "x", "files": {"x.gguf": digest}}, timeout=10)
    assert (reply.status_code, reply.json()["error"]) == (400, "supplied file was not in GGUF format")


def test_unknown_paths_and_methods_answer_like_go(lab):
    missing = requests.get(lab.url + "/api/nothing", timeout=5)
    assert (missing.status_code, missing.text) == (404, "404 page not found")
    wrong = requests.get(lab.url + "/api/pull", timeout=5)
    assert (wrong.status_code, wrong.text) == (405, "405 method not allowed")


def test_the_server_keeps_serving_after_the_battery(lab):
    assert requests.get(lab.url + "/api/version", timeout=5).status_code == 200
