"""The seed guide's vLLM server samples, run against the real server.

The code is the guide's ("Using the API": the openai client, plain and streaming),
with only the model name changed, and the base URL pointing at the test server's
free port instead of :8000. Assertions are on shape, finish reasons and token
counts, never on wording.
"""

import requests
from openai import OpenAI

from course_lib import config


def test_health_and_models(vllm_base_url):
    root = vllm_base_url.removesuffix("/v1")
    health = requests.get(f"{root}/health", timeout=10)
    assert health.status_code == 200
    models = requests.get(f"{vllm_base_url}/models", timeout=10).json()
    assert [m["id"] for m in models["data"]] == [config.VLLM_SERVED_NAME]
    assert models["data"][0]["max_model_len"] == 2048


def test_chat_completion_as_in_the_guide(vllm_base_url):
    client = OpenAI(base_url=vllm_base_url, api_key="EMPTY")
    response = client.chat.completions.create(
        model="HuggingFaceTB/SmolLM2-135M-Instruct",
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "What is machine learning?"},
        ],
        temperature=0.7,
        max_tokens=500,
    )
    choice = response.choices[0]
    assert response.model == config.VLLM_SERVED_NAME
    assert isinstance(choice.message.content, str) and choice.message.content.strip()
    assert choice.message.role == "assistant"
    assert choice.finish_reason in ("stop", "length")
    usage = response.usage
    assert 0 < usage.completion_tokens <= 500
    assert (choice.finish_reason == "length") == (usage.completion_tokens == 500)
    assert usage.prompt_tokens > 10, "the chat template wraps the two messages"
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_streaming_as_in_the_guide(vllm_base_url):
    client = OpenAI(base_url=vllm_base_url, api_key="EMPTY")
    response = client.chat.completions.create(
        model="HuggingFaceTB/SmolLM2-135M-Instruct",
        messages=[{"role": "user", "content": "Write a short story"}],
        stream=True,
        max_tokens=64,
        stream_options={"include_usage": True},
    )
    pieces, finish, usage = [], None, None
    for chunk in response:
        if chunk.usage is not None:
            usage = chunk.usage
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        if chunk.choices and chunk.choices[0].finish_reason:
            finish = chunk.choices[0].finish_reason
    assert len(pieces) >= 2, "tokens arrive in several chunks"
    assert "".join(pieces).strip()
    assert finish in ("stop", "length")
    assert usage is not None and 0 < usage.completion_tokens <= 64
    assert len(pieces) <= usage.completion_tokens, "about one token per chunk"


def test_unknown_model_is_a_404_with_vllms_message(vllm_base_url):
    reply = requests.post(
        f"{vllm_base_url}/chat/completions",
        json={"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
    )
    assert reply.status_code == 404
    assert "does not exist" in reply.json()["error"]["message"]
