"""More of real Ollama 0.33 where a learner looks (issue 21): ``/api/tags`` capabilities
and context length, what ``/api/show`` leaves out, create from an unknown base, CORS,
prompt truncation, ``show --template``, and ``OLLAMA_KV_CACHE_TYPE``.

Real Ollama's side is quoted from its source at v0.33.0-rc2 in each test's docstring.
"""

import os
import subprocess
from functools import lru_cache

import ollama
import pytest
import requests
from gguf import GGUFReader

from course_lib import services
from course_lib.lab_ollama.catalog import SMOLLM2_TEMPLATE
from course_lib.lab_ollama.runner.buffers import buffer_bytes
from course_lib.model import bundled_gguf
from course_lib.store.layout import MEDIA_PREFIX, Store
from course_lib.store.modelfile import parse
from course_lib.store.names import parse_name

from ..helpers import COURSE
from .conftest import running_lab

M = "smollm2:135m"
E = "all-minilm"
EXTRA_ORIGIN = "https://notebook.course.example"


@pytest.fixture(scope="module")
def minilm(client):
    assert [s.status for s in client.pull(E, stream=True)][-1] == "success"
    return E


@lru_cache(maxsize=2)
def _gguf_fields(path) -> dict:
    """The GGUF's keys as the ``gguf`` package reads them (~5 s for smollm2: once)."""
    return GGUFReader(str(path)).fields


def _gguf_number(path, key: str) -> int:
    return int(_gguf_fields(path)[key].contents())


# -- /api/tags ---------------------------------------------------------------------


def test_tags_carry_capabilities_and_the_trained_context(lab, pulled, minilm):
    """``/api/tags`` entries have ``capabilities`` (v0.9.1+) and ``details.context_length``
    / ``embedding_length`` from the GGUF (v0.30.0+), as ``ollama ls`` reads them."""
    entries = {m["model"]: m for m in requests.get(lab.url + "/api/tags", timeout=10).json()["models"]}
    smol, mini = entries[M], entries[E + ":latest"]
    assert smol["capabilities"] == ["completion"]  # the library template has no tools branch
    assert mini["capabilities"] == ["embedding"]
    gguf = bundled_gguf()
    assert smol["details"]["context_length"] == _gguf_number(gguf, "llama.context_length") == 8192
    assert smol["details"]["embedding_length"] == _gguf_number(gguf, "llama.embedding_length") == 576
    blob = Store(lab.models).blob_path(next(
        l["digest"] for l in Store(lab.models).read_manifest(parse_name(E))["layers"] if l["mediaType"] == MEDIA_PREFIX + "model"
    ))  # fmt: skip
    assert mini["details"]["context_length"] == _gguf_number(blob, "bert.context_length") == 512
    assert mini["details"]["embedding_length"] == 384  # MiniLM-L6's width


# -- /api/show ---------------------------------------------------------------------


def test_show_omits_the_name_and_the_jinja_template(client, pulled):
    """``routes.go:1579-1580`` deletes ``general.name`` and ``tokenizer.chat_template``
    from ``model_info``; the GGUF has both, and the other ``general.*`` keys stay."""
    fields = _gguf_fields(bundled_gguf())
    assert "general.name" in fields and "tokenizer.chat_template" in fields
    info = client.show(M).modelinfo
    assert "general.name" not in info and "tokenizer.chat_template" not in info
    assert info["general.architecture"] == "llama" and "tokenizer.ggml.model" in info


def test_a_model_without_a_template_shows_ollamas_default(client, lab, minilm):
    """No template layer: ``Template`` is ``template.DefaultTemplate`` (``images.go:688``),
    ``{{ .Prompt }}``, in ``template`` and in the Modelfile (``images.go:615``)."""
    list(client.create(model="plain", from_=E, system="Embed things.", stream=True))
    layers = Store(lab.models).read_manifest(parse_name("plain"))["layers"]
    assert not any(l["mediaType"].endswith(("template", "prompt")) for l in layers)
    shown = client.show("plain")
    assert shown.template == "{{ .Prompt }}"
    assert parse(shown.modelfile).template == "{{ .Prompt }}"
    assert parse(shown.modelfile).system == "Embed things."


# -- /api/create from an unknown base ------------------------------------------------


def test_create_from_an_unknown_name_answers_as_pull_does(lab, client):
    """``create.go:155-158``: a base that is not stored goes through ``PullModel``, and
    its error reaches the client as pull's would (500, pull's text)."""
    with pytest.raises(ollama.ResponseError) as pulled_error:
        client.pull("llama3.2")
    with pytest.raises(ollama.ResponseError) as created_error:
        client.create(model="mine", from_="llama3.2")
    assert (created_error.value.status_code, created_error.value.error) == (
        pulled_error.value.status_code, pulled_error.value.error)  # fmt: skip
    assert created_error.value.status_code == 500
    assert created_error.value.error.startswith("pull model manifest: file does not exist")
    streamed = []
    with pytest.raises(ollama.ResponseError) as streamed_error:
        for progress in client.create(model="mine", from_="llama3.2", stream=True):
            streamed.append(progress.status)
    assert streamed == ["pulling manifest"] and streamed_error.value.error == pulled_error.value.error
    assert "mine" not in {m.model.split(":")[0] for m in client.list().models}


# -- CORS --------------------------------------------------------------------------


def _preflight(url: str, origin: str) -> requests.Response:
    headers = {"Origin": origin, "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "content-type"}  # fmt: skip
    return requests.options(url + "/api/chat", headers=headers, timeout=5)


@pytest.mark.parametrize("origin", ["http://localhost:8888", "http://127.0.0.1", "vscode-webview://abc"])
def test_a_preflight_from_an_allowed_origin_gets_204(lab, origin):
    """gin-contrib/cors v1.7.2 (``routes.go:1842-1875``): an allowed origin's OPTIONS is
    answered 204, empty, with the origin echoed back."""
    reply = _preflight(lab.url, origin)
    assert reply.status_code == 204 and reply.content == b""
    assert reply.headers["Access-Control-Allow-Origin"] == origin
    assert "POST" in reply.headers["Access-Control-Allow-Methods"].split(",")
    assert "content-type" in reply.headers["Access-Control-Allow-Headers"].lower().split(",")


def test_a_disallowed_origin_is_forbidden(lab):
    """gin-contrib/cors ``applyCors``: an origin not in ``AllowOrigins`` is aborted with
    403 and no CORS header, a preflight and an ordinary request alike."""
    reply = _preflight(lab.url, EXTRA_ORIGIN)
    assert reply.status_code == 403 and "Access-Control-Allow-Origin" not in reply.headers
    plain = requests.get(lab.url + "/api/tags", headers={"Origin": "http://evil.example"}, timeout=5)
    assert plain.status_code == 403 and "Access-Control-Allow-Origin" not in plain.headers
    same = requests.get(lab.url + "/api/tags", headers={"Origin": lab.url}, timeout=5)
    assert same.status_code == 200, "the server's own origin is not a CORS request"
    allowed = requests.get(lab.url + "/api/tags", headers={"Origin": "http://localhost:3000"}, timeout=5)
    assert allowed.status_code == 200 and allowed.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"


def test_cors_answers_before_the_host_guard(lab):
    """``routes.go:1872-1873`` (v0.33.0) installs CORS before the host guard: a preflight from
    an allowed origin is answered 204 whatever the Host; any other request from a foreign
    Host is refused 403, the CORS header already set."""
    foreign = {"Host": "evil.example", "Origin": "http://localhost:3000"}
    preflight = requests.options(lab.url + "/api/chat", headers={**foreign, "Access-Control-Request-Method": "POST"},
                                 timeout=5)  # fmt: skip
    assert preflight.status_code == 204, f"CORS ends a preflight before the host check; got {preflight.status_code}"
    plain = requests.get(lab.url + "/api/tags", headers=foreign, timeout=5)
    assert plain.status_code == 403 and plain.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """A lab Ollama of this module's own: an extra origin, a q8_0 KV cache, and llama.cpp's
    log (OLLAMA_DEBUG); smollm2 pulled and loaded. Yields its URL and its log so far."""
    with running_lab(tmp_path_factory.mktemp("tuned-home"), origins=EXTRA_ORIGIN, kv_cache_type="q8_0", debug="1") as server:
        port = server.url.rsplit(":", 1)[1]
        requests.post(server.url + "/api/pull", json={"model": M, "stream": False}, timeout=300).raise_for_status()
        warm = {"model": M, "prompt": "Hi", "stream": False, "options": {"num_predict": 1}}
        requests.post(server.url + "/api/generate", json=warm, timeout=300).raise_for_status()
        log = services.Service(f"lab-ollama-test-{port}", [], "127.0.0.1", int(port), "/").log_file
        yield server.url, log.read_text(errors="replace").rsplit("\n=== ", 1)[-1]  # this start's part


def test_ollama_origins_adds_an_origin(tuned):
    """``envconfig.AllowedOrigins``: OLLAMA_ORIGINS comes on top of the defaults."""
    url, _ = tuned
    reply = _preflight(url, EXTRA_ORIGIN)
    assert reply.status_code == 204 and reply.headers["Access-Control-Allow-Origin"] == EXTRA_ORIGIN
    assert _preflight(url, "http://localhost:5173").status_code == 204, "the defaults stay"
    assert _preflight(url, "https://other.example").status_code == 403


# -- OLLAMA_KV_CACHE_TYPE ------------------------------------------------------------


def test_kv_cache_type_q8_0_reaches_llama_cpp(tuned, lab, client, pulled):
    """``llama_server.go:394-395`` passes ``--cache-type-k/-v q8_0`` to llama.cpp; ``/api/ps``
    ``size`` is what llama.cpp allocated (``MemorySize``), so it is smaller by what the
    q8_0 cache saves: 32 values take 34 bytes instead of 64."""
    url, text = tuned
    assert "K (q8_0)" in text and "V (q8_0)" in text, "llama.cpp's KV cache line"
    assert "K (f16)" not in text
    (q8,) = requests.get(url + "/api/ps", timeout=10).json()["models"]
    client.generate(model=M, prompt="Hi", options={"num_predict": 1})
    (f16,) = [m for m in client.ps().models if m.model == M]
    assert q8["context_length"] == f16.context_length == 4096
    f16_cache = 2 * 30 * 3 * 64 * 2 * 4096  # K and V, 30 layers, 3 KV heads of 64, 2 bytes, 4096 tokens
    saved = f16_cache * (1 - 34 / 64)
    assert 0.8 < (f16.size - q8["size"]) / saved < 1.2, (f16.size, q8["size"], saved)


def test_ps_size_adds_up_the_buffers_llama_cpp_reported(tuned):
    """Ollama's ``size`` is the sum of the buffer lines llama-server logs while loading
    (``llm/llama_server.go`` ``memoryParsingWriter``); lab Ollama's, of the same lines of
    its in-process llama.cpp, printed here under OLLAMA_DEBUG."""
    url, text = tuned
    (loaded,) = requests.get(url + "/api/ps", timeout=10).json()["models"]
    buffers = buffer_bytes(text)
    assert {kind for _, _, kind in buffers} >= {"model", "KV", "compute"}, buffers
    assert loaded["size"] == sum(buffers.values())
    weights = bundled_gguf().stat().st_size
    assert loaded["size"] > weights + 2 * 30 * 3 * 64 * (34 / 32) * 4096, "weights and the q8_0 cache, and a compute buffer"


# -- truncation ----------------------------------------------------------------------


@pytest.mark.parametrize("num_keep, kept", [(None, 130), (10, 133)])
def test_a_long_prompt_is_cut_as_ollama_cuts_it(client, pulled, num_keep, kept):
    """``llama_server.go:302-330``: keep ``num_keep`` (4 by default; smollm2 adds no BOS),
    then the end, ``num_ctx - (num_ctx - num_keep) // 2`` tokens in all."""
    options = {"num_ctx": 256, "num_predict": 1, "temperature": 0}
    if num_keep is not None:
        options["num_keep"] = num_keep
    reply = client.generate(model=M, prompt="one two three four five " * 120, options=options)
    assert reply.prompt_eval_count == kept
    short = client.generate(model=M, prompt="one two three", options=options)
    assert 0 < short.prompt_eval_count < 100, "a prompt that fits is not cut"


# -- ollama show --template ----------------------------------------------------------


def test_show_template_prints_the_library_text_exactly(lab, pulled, client):
    """``cmd.go:1275-1276``: ``fmt.Print(resp.Template)``, no newline added; the same
    for ``--system`` (``fmt.Print(resp.System)``)."""
    env = {"OLLAMA_HOST": lab.url.removeprefix("http://"), "PATH": "/usr/bin:/bin",
           "PYTHONPATH": os.environ.get("PYTHONPATH", "")}  # fmt: skip
    shown = subprocess.run([COURSE, "ollama", "show", M, "--template"], capture_output=True, text=True, env=env, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == SMOLLM2_TEMPLATE
    list(client.create(model="terse-sys", from_=M, system="Be terse.", stream=True))
    system = subprocess.run([COURSE, "ollama", "show", "terse-sys", "--system"], capture_output=True, text=True, env=env, timeout=120)
    assert system.stdout == "Be terse."
