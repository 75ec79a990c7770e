"""Embeddings as Ollama 0.33 serves them: only an embedding model (``all-minilm``)
embeds; a generation model gets the runner's 501 (500 on the legacy route)."""

import math

import ollama
import openai
import pytest
import requests

from course_lib.lab_ollama.routes.embed import NO_EMBEDDINGS

M = "smollm2:135m"
E = "all-minilm"


@pytest.fixture(scope="module")
def minilm(client):
    statuses = [s.status for s in client.pull(E, stream=True)]
    assert statuses[0] == "pulling manifest" and statuses[-1] == "success"
    return E


def _norm(vector):
    return math.sqrt(sum(v * v for v in vector))


def test_all_minilm_is_an_embedding_model(client, minilm):
    shown = client.show(E)
    assert shown.capabilities == ["embedding"]
    assert shown.modelinfo["general.architecture"] == "bert" and shown.modelinfo["bert.pooling_type"] == 1
    assert shown.details.quantization_level == "F16" and shown.details.family == "bert"
    (entry,) = [m for m in client.list().models if m.model == "all-minilm:latest"]
    assert entry.size < 50_000_000  # F16 MiniLM, ~46 MB as in Ollama's library


def test_embed_batches_and_normalises(client, minilm):
    reply = client.embed(model=E, input=["The cat sat on the mat.", "Stock markets fell today."])
    assert len(reply.embeddings) == 2 and len(reply.embeddings[0]) == 384  # MiniLM-L6's width
    assert all(abs(_norm(v) - 1) < 1e-4 for v in reply.embeddings)
    assert reply.prompt_eval_count > 4 and reply.total_duration > 0
    assert reply.embeddings[0] != reply.embeddings[1]


def test_similar_texts_are_closer(client, minilm):
    a, b, c = client.embed(model=E, input=["I love my dog.", "I adore my puppy.", "The invoice is overdue."]).embeddings
    cosine = lambda x, y: sum(p * q for p, q in zip(x, y))  # noqa: E731 (vectors are unit length)
    assert cosine(a, b) > cosine(a, c) + 0.3


def test_dimensions_truncate_then_renormalise(client, minilm):
    (full,) = client.embed(model=E, input="hello").embeddings
    (short,) = client.embed(model=E, input="hello", dimensions=64).embeddings
    assert len(short) == 64 and abs(_norm(short) - 1) < 1e-4
    scale = _norm(full[:64])
    assert all(abs(s - f / scale) < 1e-4 for s, f in zip(short, full[:64]))


def test_empty_input_loads_the_model(lab, minilm):
    reply = requests.post(lab.url + "/api/embed", json={"model": E, "input": []}, timeout=60).json()
    assert reply["embeddings"] == []


def test_legacy_embeddings_match_embed(client, minilm):
    legacy = client.embeddings(model=E, prompt="hello").embedding
    (unit,) = client.embed(model=E, input="hello").embeddings
    assert len(legacy) == 384 and all(abs(r - u) < 1e-4 for r, u in zip(legacy, unit))
    assert client.embeddings(model=E, prompt="").embedding == []


def test_openai_embeddings(lab, minilm):
    oai = openai.OpenAI(base_url=lab.url + "/v1", api_key="ollama")
    reply = oai.embeddings.create(model=E, input=["one", "two"])
    assert [d.index for d in reply.data] == [0, 1] and len(reply.data[0].embedding) == 384


def test_a_generation_model_does_not_embed(lab, client, pulled):
    """Ollama 0.33 starts llama-server with --embeddings only for a GGUF with a pooling
    type: smollm2 loads, then the runner refuses (501; the legacy route says 500)."""
    with pytest.raises(ollama.ResponseError) as error:
        client.embed(model=M, input="hello")
    assert (error.value.status_code, error.value.error) == (501, NO_EMBEDDINGS)
    with pytest.raises(ollama.ResponseError) as error:
        client.embeddings(model=M, prompt="hello")
    assert (error.value.status_code, error.value.error) == (500, NO_EMBEDDINGS)
    oai = openai.OpenAI(base_url=lab.url + "/v1", api_key="ollama")
    with pytest.raises(openai.InternalServerError) as error:
        oai.embeddings.create(model=M, input="hello")
    assert error.value.status_code == 501 and error.value.body["message"] == NO_EMBEDDINGS


def test_an_embedding_model_does_not_chat(client, minilm):
    with pytest.raises(ollama.ResponseError) as error:
        client.chat(model=E, messages=[{"role": "user", "content": "hi"}])
    assert (error.value.status_code, error.value.error) == (400, '"all-minilm" does not support chat')
    with pytest.raises(ollama.ResponseError) as error:
        client.generate(model=E, prompt="hi")
    assert (error.value.status_code, error.value.error) == (400, '"all-minilm" does not support generate')
