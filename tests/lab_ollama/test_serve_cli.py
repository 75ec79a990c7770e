"""`course ollama serve`: lab Ollama in the foreground, bound where OLLAMA_HOST says."""

import os
import signal
import subprocess
import time

import requests

from course_lib.lab_ollama.settings import LabSettings

from ..helpers import COURSE, free_port


def test_settings_bind_loopback_by_default(monkeypatch, tmp_path):
    for key in ("OLLAMA_HOST", "OLLAMA_MODELS", "OLLAMA_NUM_PARALLEL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("COURSE_HOME", str(tmp_path))
    settings = LabSettings()
    assert settings.bind == ("127.0.0.1", 11434)
    assert settings.models == tmp_path / "ollama" / "models"
    assert (settings.num_parallel, settings.max_queue, settings.keep_alive) == (1, 512, "5m")
    monkeypatch.setenv("OLLAMA_HOST", ":11600")
    monkeypatch.setenv("OLLAMA_NUM_PARALLEL", "4")
    assert LabSettings().bind == ("127.0.0.1", 11600)
    assert LabSettings().num_parallel == 4


def test_bad_settings_warn_and_fall_back_as_go_does(monkeypatch, tmp_path, caplog):
    """Ollama's envconfig: trimmed of spaces and quotes; a bad number warns and keeps
    the default instead of stopping the server; ParseBool's rejects count as true."""
    monkeypatch.setenv("COURSE_HOME", str(tmp_path))
    for value in ("0", "abc", "-2"):
        monkeypatch.setenv("OLLAMA_NUM_PARALLEL", value)
        assert LabSettings().num_parallel == 1
    assert "invalid environment variable, using default key=OLLAMA_NUM_PARALLEL" in caplog.text
    monkeypatch.setenv("OLLAMA_NUM_PARALLEL", ' "2" ')
    monkeypatch.setenv("OLLAMA_NOPRUNE", "yes")
    settings = LabSettings()
    assert (settings.num_parallel, settings.noprune) == (2, True)


def test_kv_cache_type_needs_flash_attention(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_HOME", str(tmp_path))
    monkeypatch.setenv("OLLAMA_KV_CACHE_TYPE", "q8_0")
    assert LabSettings().cache_type == "q8_0" and LabSettings().flash_attention_mode is None
    monkeypatch.setenv("OLLAMA_FLASH_ATTENTION", "0")
    assert LabSettings().cache_type == "f16"
    monkeypatch.setenv("OLLAMA_FLASH_ATTENTION", "1")
    monkeypatch.setenv("OLLAMA_KV_CACHE_TYPE", "q5_1")
    assert LabSettings().cache_type == "f16"


def test_foreground_serve_answers_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    env = {**os.environ, "OLLAMA_HOST": f"127.0.0.1:{port}", "OLLAMA_MODELS": str(tmp_path)}
    server = subprocess.Popen([COURSE, "ollama", "serve"], env=env, start_new_session=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                reply = requests.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except requests.ConnectionError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        assert reply.text == "Ollama is running" and "X-Course-Lab" in reply.headers
        os.killpg(server.pid, signal.SIGINT)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
    assert b"Traceback" not in server.stdout.read()
