"""Ollama's OpenAI-compatible /v1 through the official ``openai`` client."""

import base64
import json
import re
import struct

import pytest
import requests

M = "smollm2:135m"


@pytest.fixture(scope="module")
def openai_client(lab, pulled):
    from openai import OpenAI

    return OpenAI(base_url=lab.url + "/v1", api_key="any key: Ollama never checks it")


def test_chat_completion(openai_client):
    reply = openai_client.chat.completions.create(model=M, messages=[{"role": "user", "content": "Hi"}], max_tokens=8)
    assert re.fullmatch(r"chatcmpl-\d{1,3}", reply.id) and reply.object == "chat.completion"
    assert reply.system_fingerprint == "fp_ollama" and reply.model == M
    choice = reply.choices[0]
    assert choice.message.role == "assistant" and choice.finish_reason in ("stop", "length")
    assert reply.usage.completion_tokens <= 8
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_chat_stream_ends_with_finish_usage_and_done(lab, pulled):
    body = {"model": M, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 6, "stream": True,
            "stream_options": {"include_usage": True}}
    with requests.post(lab.url + "/v1/chat/completions", json=body, stream=True, timeout=60) as reply:
        assert reply.headers["content-type"].startswith("text/event-stream")
        events = [line for line in reply.iter_lines() if line]
    assert all(e.startswith(b"data: ") for e in events) and events[-1] == b"data: [DONE]"
    chunks = [json.loads(e[6:]) for e in events[:-1]]
    *tokens, finish, usage = chunks
    assert all(c["object"] == "chat.completion.chunk" and c["choices"][0]["finish_reason"] is None for c in tokens)
    assert tokens[0]["choices"][0]["delta"]["role"] == "assistant"
    assert finish["choices"][0]["delta"] == {} and finish["choices"][0]["finish_reason"] in ("stop", "length")
    # a character split over tokens (an emoji is 3) arrives in one chunk, as on a real Ollama
    assert usage["choices"] == [] and len(tokens) <= usage["usage"]["completion_tokens"] <= 6


def test_streaming_through_the_client(openai_client):
    stream = openai_client.chat.completions.create(model=M, messages=[{"role": "user", "content": "Hi"}], max_tokens=6, stream=True)
    pieces = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
    assert pieces


def test_defaults_differ_from_the_native_api(openai_client, client):
    """/v1 samples at temperature 1.0 (native: 0.8), so a seed gives another text
    than the native API's default; temperature 0 on both gives the same greedy text."""
    ask = [{"role": "user", "content": "Tell me a story."}]
    v1 = openai_client.chat.completions.create(model=M, messages=ask, max_tokens=12, temperature=0).choices[0].message.content
    native = client.chat(model=M, messages=ask, options={"temperature": 0, "num_predict": 12}).message.content
    assert v1 == native
    seeded_v1 = openai_client.chat.completions.create(model=M, messages=ask, max_tokens=24, seed=7).choices[0].message.content
    seeded_native = client.chat(model=M, messages=ask, options={"seed": 7, "num_predict": 24}).message.content
    seeded_native_t1 = client.chat(model=M, messages=ask, options={"seed": 7, "num_predict": 24, "temperature": 1.0, "top_p": 1.0}).message.content
    assert seeded_v1 == seeded_native_t1 != seeded_native


def test_completions(openai_client):
    reply = openai_client.completions.create(model=M, prompt="The capital of France is", max_tokens=8, temperature=0)
    assert re.fullmatch(r"cmpl-\d{1,3}", reply.id) and reply.object == "text_completion"
    assert reply.choices[0].text and reply.choices[0].finish_reason in ("stop", "length")


def test_json_mode(openai_client):
    reply = openai_client.chat.completions.create(model=M, messages=[{"role": "user", "content": "Give me a JSON object with a name and an age."}],
                                                  response_format={"type": "json_object"}, temperature=0, max_tokens=200)
    json.loads(reply.choices[0].message.content)


def test_models(openai_client):
    models = openai_client.models.list().data
    assert M in [m.id for m in models] and all(m.owned_by == "library" for m in models)
    one = openai_client.models.retrieve(M)
    assert (one.id, one.object) == (M, "model")


def test_embeddings_float_and_base64(openai_client, lab, client):
    list(client.pull("all-minilm", stream=True))
    reply = openai_client.embeddings.create(model="all-minilm", input=["a", "b"])
    assert [d.index for d in reply.data] == [0, 1] and len(reply.data[0].embedding) == 384
    raw = requests.post(lab.url + "/v1/embeddings", json={"model": "all-minilm", "input": "a", "encoding_format": "base64"}, timeout=60).json()
    packed = base64.b64decode(raw["data"][0]["embedding"])
    floats = struct.unpack(f"<{len(packed) // 4}f", packed)
    assert all(abs(x - y) < 1e-5 for x, y in zip(floats, reply.data[0].embedding))


def test_role_only_in_the_first_stream_chunk(lab, pulled):
    body = {"model": M, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 6, "stream": True, "temperature": 0}
    with requests.post(lab.url + "/v1/chat/completions", json=body, stream=True, timeout=60) as reply:
        chunks = [json.loads(line[6:]) for line in reply.iter_lines() if line and line != b"data: [DONE]"]
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0]["role"] == "assistant" and len(deltas) >= 3
    assert all("role" not in d for d in deltas[1:])


def test_max_completion_tokens_is_ignored_as_ollama_does(openai_client):
    """Ollama's request type has no max_completion_tokens: only max_tokens caps."""
    ask = [{"role": "user", "content": "Write a long story about a dragon."}]
    capped = openai_client.chat.completions.create(model=M, messages=ask, max_tokens=5, temperature=0)
    ignored = openai_client.chat.completions.create(model=M, messages=ask, max_completion_tokens=5, temperature=0,
                                                    extra_body={"max_tokens": 12})  # fmt: skip
    assert capped.usage.completion_tokens == 5 and ignored.usage.completion_tokens == 12


def test_reasoning_effort_is_think_and_smollm2_cannot(openai_client):
    from openai import BadRequestError

    with pytest.raises(BadRequestError) as error:
        openai_client.chat.completions.create(model=M, messages=[{"role": "user", "content": "Hi"}], reasoning_effort="low")
    assert error.value.body["message"] == '"smollm2:135m" does not support thinking'
    none = openai_client.chat.completions.create(model=M, messages=[{"role": "user", "content": "Hi"}],
                                                 reasoning_effort="none", max_tokens=2)  # fmt: skip
    assert none.choices[0].message.role == "assistant"


def test_content_parts_become_messages_joined_by_a_blank_line(lab, pulled):
    parts = [{"type": "text", "text": "First part."}, {"type": "text", "text": "Second part."}]
    body = {"model": M, "messages": [{"role": "user", "content": parts}], "max_tokens": 1, "temperature": 0}
    as_parts = requests.post(lab.url + "/v1/chat/completions", json=body, timeout=60).json()
    body["messages"] = [{"role": "user", "content": "First part.\n\nSecond part."}]
    as_text = requests.post(lab.url + "/v1/chat/completions", json=body, timeout=60).json()
    assert as_parts["usage"]["prompt_tokens"] == as_text["usage"]["prompt_tokens"]


def test_usage_counts_the_whole_prompt(openai_client):
    ask = [{"role": "user", "content": "Tell me about the sea."}]
    first = openai_client.chat.completions.create(model=M, messages=ask, max_tokens=2, temperature=0)
    again = openai_client.chat.completions.create(model=M, messages=ask, max_tokens=2, temperature=0)
    assert again.usage.prompt_tokens == first.usage.prompt_tokens > 20  # cached or not


@pytest.mark.parametrize(
    "path, body, status, kind, message",
    [
        ("/v1/chat/completions", {"model": "nope", "messages": [{"role": "user", "content": "x"}]}, 404, "not_found_error", "model 'nope' not found"),
        ("/v1/chat/completions", {"model": M, "messages": []}, 400, "invalid_request_error", "[] is too short - 'messages'"),
        ("/v1/chat/completions", {"model": M, "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x/cat.png"}}]}]},
         400, "invalid_request_error", "image URLs are not currently supported, please use base64 encoded data instead"),
        ("/v1/chat/completions", {"model": M, "messages": [{"role": "user", "content": None}]}, 400, "invalid_request_error",
         "invalid message content type: <nil>"),
        ("/v1/embeddings", {"model": M, "input": "a", "encoding_format": "int8"}, 400, "invalid_request_error",
         "Invalid value for 'encoding_format' = int8. Supported values: ['float', 'base64']."),
        ("/v1/embeddings", {"model": "nope", "input": "a"}, 404, "not_found_error", 'model "nope" not found, try pulling it first'),
    ],
)
def test_errors_have_openai_shape(lab, pulled, path, body, status, kind, message):
    reply = requests.post(lab.url + path, json=body, timeout=60)
    assert reply.status_code == status
    assert reply.json() == {"error": {"message": message, "type": kind, "param": None, "code": None}}


def test_unknown_model_retrieval(openai_client):
    from openai import NotFoundError

    with pytest.raises(NotFoundError):
        openai_client.models.retrieve("nope")
