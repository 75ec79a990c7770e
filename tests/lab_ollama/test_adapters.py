"""ADAPTER: a LoRA in the model's manifest is applied through llama.cpp's LoRA loading,
and a model with an adapter is a runner of its own (so MAX_LOADED_MODELS counts it)."""

import hashlib

import pytest
import requests

from .conftest import running_lab
from .lora import write_lora

M = "smollm2:135m"
ASK = {"prompt": "The capital of France is", "stream": False, "options": {"temperature": 0, "num_predict": 12}}


def _upload(url: str, path) -> str:
    data = path.read_bytes()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert requests.post(f"{url}/api/blobs/{digest}", data=data, timeout=60).status_code in (200, 201)
    return digest


@pytest.fixture(scope="module")
def one_model_at_a_time(tmp_path_factory):
    home = tmp_path_factory.mktemp("adapters")
    with running_lab(home, max_loaded_models="1") as lab:
        requests.post(lab.url + "/api/pull", json={"model": M}, timeout=120).raise_for_status()
        for name, strength in (("lora-zero", 0.0), ("lora-strong", 0.5)):
            digest = _upload(lab.url, write_lora(home / f"{name}.gguf", strength))
            body = {"model": name, "from": M, "adapters": {f"{name}.gguf": digest}, "stream": False}
            requests.post(lab.url + "/api/create", json=body, timeout=120).raise_for_status()
        yield lab


def _say(url: str, model: str) -> str:
    reply = requests.post(url + "/api/generate", json={"model": model, **ASK}, timeout=120)
    reply.raise_for_status()
    return reply.json()["response"]


def test_an_adapter_changes_the_output_and_a_zero_one_does_not(one_model_at_a_time):
    url = one_model_at_a_time.url
    base = _say(url, M)
    assert _say(url, "lora-zero") == base
    assert _say(url, "lora-strong") != base


def test_show_lists_the_adapter(one_model_at_a_time):
    modelfile = requests.post(one_model_at_a_time.url + "/api/show", json={"model": "lora-strong"}, timeout=30).json()["modelfile"]
    assert "\nADAPTER " in modelfile


def test_max_loaded_models_evicts_the_idle_runner(one_model_at_a_time):
    url = one_model_at_a_time.url
    _say(url, M)
    assert [m["name"] for m in requests.get(url + "/api/ps", timeout=10).json()["models"]] == [M]
    _say(url, "lora-strong")
    assert [m["name"] for m in requests.get(url + "/api/ps", timeout=10).json()["models"]] == ["lora-strong:latest"]
