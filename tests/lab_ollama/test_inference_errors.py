"""Bad input on generate, chat and embed: Ollama's statuses and texts, never a traceback."""

import json

import pytest
import requests

M = "smollm2:135m"
TOO_LONG = "the prompt is longer than the context length currently available to the model"


def _body(**fields) -> bytes:
    return json.dumps({"model": M, "stream": False, **fields}).encode()


@pytest.mark.parametrize(
    "path, body, status, error",
    [
        ("/api/generate", b"", 400, "missing request body"),
        ("/api/generate", b'{"model": "smollm2:135m", "prompt": 3}', 400, "json: cannot unmarshal number into Go struct field GenerateRequest.prompt"),
        ("/api/chat", b'{"model": "smollm2:135m", "messages": {}}', 400, "json: cannot unmarshal object into Go struct field ChatRequest.messages"),
        ("/api/generate", b'{"model": ""}', 404, "model '' not found"),
        ("/api/generate", b'{"model": "nope", "prompt": "hi"}', 404, "model 'nope' not found"),
        ("/api/chat", b'{"model": ""}', 400, "model is required"),
        ("/api/chat", b'{"model": "nope", "messages": []}', 404, "model 'nope' not found"),
        ("/api/embed", b'{"model": ""}', 404, "model '' not found"),
        ("/api/embed", b'{"model": "nope", "input": "x"}', 404, 'model "nope" not found, try pulling it first'),
        ("/api/embeddings", b'{"model": "nope", "prompt": "x"}', 404, 'model "nope" not found, try pulling it first'),
        ("/api/embeddings", b'{"model": ""}', 400, "model is required"),
        ("/api/embed", _body(input=5), 400, "invalid input type"),
        ("/api/generate", _body(prompt="hi", raw=True, system="s"), 400, "raw mode does not support template, system, or context"),
        ("/api/generate", _body(prompt="hi", logprobs=True, top_logprobs=21), 400, "top_logprobs must be between 0 and 20"),
        ("/api/generate", _body(prompt="hi", think=True), 400, '"smollm2:135m" does not support thinking'),
        ("/api/generate", _body(prompt="hi", think="lots"), 400, 'invalid think value: "lots" (must be "high", "medium", "low", "max", true, or false)'),
        ("/api/generate", _body(prompt="hi", suffix="end"), 400, "registry.ollama.ai/library/smollm2:135m does not support insert"),
        ("/api/generate", _body(prompt="hi", format="yaml"), 400, 'invalid format: "yaml"; expected "json" or a valid JSON Schema object'),
        ("/api/generate", _body(prompt="hi", keep_alive="300"), 400, 'time: missing unit in duration "300"'),
        ("/api/generate", _body(prompt="hi", keep_alive=True), 400, "Unsupported type: 'bool'"),
        ("/api/generate", _body(prompt="hi", options={"temperature": "hot"}), 500, 'option "temperature" must be of type float32'),
        ("/api/generate", _body(prompt="hi", options={"num_predict": "5"}), 500, 'option "num_predict" must be of type integer'),
        ("/api/generate", _body(prompt="hi", options={"stop": "\n"}), 500, 'option "stop" must be of type array'),
        ("/api/chat", _body(messages=[{"role": "user", "content": "hi"}], options={"use_mmap": 1}), 500, 'option "use_mmap" must be of type boolean'),
        ("/api/generate", _body(prompt="word " * 40, truncate=False, options={"num_ctx": 16}), 400, TOO_LONG),
        # an embedding model (smollm2 answers /api/embed with 501: see test_embed.py)
        ("/api/embed", _body(model="all-minilm", input="word " * 40, truncate=False, options={"num_ctx": 16}), 400,
         "the input length exceeds the context length"),
    ],
)
def test_bad_inference_requests(lab, pulled, path, body, status, error):
    if b'"all-minilm"' in body:
        pull = requests.post(lab.url + "/api/pull", json={"model": "all-minilm", "stream": False}, timeout=600)
        assert pull.status_code == 200, pull.text
    reply = requests.post(lab.url + path, data=body, timeout=120)
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/json")
    assert reply.json()["error"].startswith(error)
    assert "Traceback" not in reply.text


def test_absurd_sizes_are_capped_not_fatal(lab, pulled):
    """num_ctx beyond training is capped at 8192 (SmolLM2's), a tiny one raised to 4;
    a huge num_predict just means "until the model stops"."""
    big = requests.post(lab.url + "/api/generate", data=_body(prompt="Hi", options={"num_ctx": 10**9, "num_predict": 3}), timeout=120)
    assert big.status_code == 200 and big.json()["eval_count"] <= 3
    ps = requests.get(lab.url + "/api/ps", timeout=10).json()["models"]
    assert [m["context_length"] for m in ps if m["name"].startswith("smollm2")] == [8192]
    tiny = requests.post(lab.url + "/api/generate", data=_body(prompt="word " * 40, options={"num_ctx": 1, "num_predict": 1}), timeout=120)
    assert tiny.status_code == 200, tiny.text
    assert tiny.json()["prompt_eval_count"] <= 4
    huge = requests.post(lab.url + "/api/generate", data=_body(prompt="The capital of France is", options={"num_predict": 2**40, "temperature": 0}), timeout=300)
    assert huge.status_code == 200 and huge.json()["done_reason"] == "stop"


def test_unknown_options_are_ignored(lab, pulled):
    reply = requests.post(lab.url + "/api/generate", data=_body(prompt="Hi", options={"mirostat": 2, "numa": True, "num_predict": 2}), timeout=120)
    assert reply.status_code == 200 and reply.json()["done"] is True
