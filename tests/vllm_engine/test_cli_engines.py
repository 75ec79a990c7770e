"""`course up / status / doctor / down` against the real vLLM server.

The session fixture (tests/conftest.py) already ran `course up` and will run
`course down`, asserting that no process is left.
"""

import socket

from course_lib import services
from course_lib.vllm_tools import server as vllm_server

from ..helpers import course, free_port, require_vllm


def test_second_up_reuses_the_running_server(vllm_base_url):
    pid = services.running_pid(vllm_server.vllm_service())
    again = course("up")
    assert again.returncode == 0, again.stderr
    assert "nothing to start" in again.stdout
    assert services.running_pid(vllm_server.vllm_service()) == pid


def test_status_names_the_engine_and_who_started_it(vllm_base_url):
    pid = services.running_pid(vllm_server.vllm_service())
    shown = course("status")
    assert shown.returncode == 0
    assert "lab Ollama" in next(l for l in shown.stdout.splitlines() if l.startswith("ollama"))
    line = next(l for l in shown.stdout.splitlines() if l.startswith("vllm"))
    assert vllm_base_url in line
    assert f"vLLM {vllm_server.installed_engine()[1]}" in line
    assert f"started by course (pid {pid})" in line


def test_doctor_shows_engine_model_and_server(vllm_base_url):
    report = course("doctor")
    assert report.returncode == 0
    rows = {l.split("  ")[0]: l for l in report.stdout.splitlines()}
    dist, version = vllm_server.installed_engine()
    assert "✔" in rows["vLLM"] and f"{version} ({dist}" in rows["vLLM"]
    assert "✔" in rows["Model for vLLM"] and "Q4_1" in rows["Model for vLLM"]
    assert "✔" in rows[f"vLLM server at {vllm_base_url}"]
    ollama_row = next(v for k, v in rows.items() if k.startswith("Ollama at"))
    assert "✔" in ollama_row and "lab Ollama 0.33.0-rc2, started by course" in ollama_row


def test_a_server_that_fails_to_start_shows_its_log_and_leaves_nothing():
    require_vllm()
    port, ollama_port = free_port(), free_port()
    env = {
        "VLLM_BASE_URL": f"http://127.0.0.1:{port}/v1",
        "OLLAMA_HOST": f"127.0.0.1:{ollama_port}",
    }
    failed = course("up", "--no-such-flag", env=env, timeout=300)
    assert failed.returncode == 1
    assert "exited before it was ready" in failed.stderr
    assert "--no-such-flag" in failed.stderr, "the tail of vLLM's own log is shown"
    assert "Traceback" not in failed.stderr.split("Last ")[0]
    assert not services.port_in_use("127.0.0.1", port)
    assert not services.port_in_use("127.0.0.1", ollama_port), "lab Ollama rolled back"
    assert course("down", env=env).stdout.strip() == "nothing to stop"


def test_a_port_taken_by_another_program_is_refused():
    require_vllm()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = {
            "VLLM_BASE_URL": f"http://127.0.0.1:{port}/v1",
            "OLLAMA_HOST": f"127.0.0.1:{free_port()}",
        }
        refused = course("up", env=env, timeout=120)
    assert refused.returncode == 1
    assert f"port {port}" in refused.stderr and "already in use" in refused.stderr
