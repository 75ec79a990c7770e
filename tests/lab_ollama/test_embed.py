"""/api/embed (normalised, batched, dimensions) and the legacy /api/embeddings (raw)."""

import math

import requests

M = "smollm2:135m"


def _norm(vector):
    return math.sqrt(sum(v * v for v in vector))


def test_embed_batches_and_normalises(client, pulled):
    reply = client.embed(model=M, input=["The cat sat on the mat.", "Stock markets fell today."])
    assert len(reply.embeddings) == 2 and len(reply.embeddings[0]) == 576  # SmolLM2-135M's width
    assert all(abs(_norm(v) - 1) < 1e-4 for v in reply.embeddings)
    assert reply.prompt_eval_count > 4 and reply.total_duration > 0
    assert reply.embeddings[0] != reply.embeddings[1]


def test_similar_texts_are_closer(client, pulled):
    a, b, c = client.embed(model=M, input=["I love my dog.", "I adore my puppy.", "The invoice is overdue."]).embeddings
    cosine = lambda x, y: sum(p * q for p, q in zip(x, y))  # noqa: E731 (vectors are unit length)
    assert cosine(a, b) > cosine(a, c)


def test_dimensions_truncate_then_renormalise(client, pulled):
    (full,) = client.embed(model=M, input="hello").embeddings
    (short,) = client.embed(model=M, input="hello", dimensions=64).embeddings
    assert len(short) == 64 and abs(_norm(short) - 1) < 1e-4
    scale = _norm(full[:64])
    assert all(abs(s - f / scale) < 1e-4 for s, f in zip(short, full[:64]))


def test_empty_input_loads_the_model(lab, pulled):
    reply = requests.post(lab.url + "/api/embed", json={"model": M, "input": []}, timeout=60).json()
    assert reply["embeddings"] == []


def test_legacy_embeddings_are_not_normalised(client, pulled):
    raw = client.embeddings(model=M, prompt="hello").embedding
    (unit,) = client.embed(model=M, input="hello").embeddings
    assert len(raw) == 576 and abs(_norm(raw) - 1) > 0.01
    assert all(abs(r / _norm(raw) - u) < 1e-4 for r, u in zip(raw, unit))
    assert client.embeddings(model=M, prompt="").embedding == []
