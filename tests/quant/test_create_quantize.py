"""``ollama create --quantize`` on lab Ollama, through the official ``ollama`` client:
the statuses, the result, Ollama's errors, and a store that survives a kill."""

import os
import signal
import threading

import ollama
import pytest

from course_lib import services

from .conftest import lab_server

FP16 = "smollm2:135m-instruct-fp16"


@pytest.fixture(scope="module")
def client(quant_lab):
    client = ollama.Client(host=quant_lab)
    client.pull(FP16)
    return client


def test_fp16_model_is_f16_and_says_where_it_came_from(client):
    shown = client.show(FP16)
    assert shown.details.quantization_level == "F16" and shown.details.family == "llama"
    assert "dequantized Q4_1" in shown.modelinfo["general.description"]
    sizes = {m.model: m.size for m in client.list().models}
    assert sizes[FP16] > 2 * 134_515_008  # 2 bytes a weight, plus metadata


def test_quantize_round_trip(client):
    statuses = list(client.create(model="smol-q4km", from_=FP16, quantize="q4_K_M", stream=True))
    progress = [s for s in statuses if s.status == "quantizing F16 model to Q4_K_M"]
    assert progress and all(s.digest == "0000000000000000000" and s.total for s in progress)
    assert [s.completed for s in progress] == sorted(s.completed for s in progress)
    texts = [s.status for s in statuses]
    assert texts.index("verifying conversion") > texts.index(progress[-1].status)
    assert any(t.startswith("creating new layer sha256:") for t in texts) and texts[-1] == "success"
    assert client.show("smol-q4km").details.quantization_level == "Q4_K_M"
    reply = client.generate(model="smol-q4km", prompt="The capital of France is", raw=True,
                            options={"num_predict": 4, "temperature": 0})  # fmt: skip
    assert reply.eval_count >= 1 and reply.response
    sizes = {m.model: m.size for m in client.list().models}
    assert sizes["smol-q4km:latest"] < 0.5 * sizes[FP16]


def test_unsupported_type_gets_ollamas_error(client):
    with pytest.raises(ollama.ResponseError) as caught:
        client.create(model="smol-q6k", from_=FP16, quantize="q6_K")
    assert caught.value.error == (
        "unsupported quantization type Q6_K - supported types are F32, F16, Q4_K_S, Q4_K_M, Q8_0")
    assert "smol-q6k:latest" not in {m.model for m in client.list().models}


def test_quantized_source_gets_ollamas_error(client):
    client.pull("smollm2:135m")  # the bundled Q4_1
    with pytest.raises(ollama.ResponseError) as caught:
        client.create(model="smol-requant", from_="smollm2:135m", quantize="q8_0")
    assert caught.value.error == "quantization is only supported for F16, BF16 and F32 models"


def test_killed_quantize_leaves_the_store_as_it_was(tmp_path):
    """SIGKILL the server (and its quantizer) mid-quantize: after a restart the store
    holds no partial file, no new model, and the F16 source still verifies."""
    models = tmp_path / "store"
    with lab_server(models) as (url, pid, _):
        client = ollama.Client(host=url)
        client.pull(FP16)
        before = sorted(p.name for p in (models / "blobs").iterdir())
        started = threading.Event()

        def create():
            try:
                for status in client.create(model="smol-killed", from_=FP16, quantize="q4_K_M", stream=True):
                    if status.status.startswith("quantizing") and status.completed:
                        started.set()
            except Exception:  # the connection dies with the server
                pass

        worker = threading.Thread(target=create, daemon=True)
        worker.start()
        assert started.wait(120), "no quantize progress"
        os.killpg(pid, signal.SIGKILL)  # at once: q8_0 of 135M can finish in the time a check takes
        worker.join(30)
        assert services.wait_group_gone(pid, 30)
        assert any(p.name.endswith("-partial") for p in (models / "blobs").iterdir()), "the kill came after the end"
    with lab_server(models) as (url, _, _):
        client = ollama.Client(host=url)
        assert sorted(p.name for p in (models / "blobs").iterdir()) == before
        assert "smol-killed:latest" not in {m.model for m in client.list().models}
        assert client.show(FP16).details.quantization_level == "F16"
