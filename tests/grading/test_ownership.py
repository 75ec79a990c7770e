"""Commands that share COURSE_HOME never stop each other's engines.

The bug: `course up` in one terminal was still starting vLLM when `course assign
--check` ran in another; assign found the pid file, waited for that server, counted it
as started by itself and stopped it one second after it answered. `course down` in
any terminal stopped every engine, those another command was using included. Each
test here runs two real invocations against one COURSE_HOME.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import requests

from course_lib import services

from ..helpers import COURSE, course, free_port


SLOW_SERVER = """
import sys
from course_lib import services
script = f"sleep 4; exec {sys.executable} -m http.server {PORT} --bind 127.0.0.1"
s = services.Service("slow", ["sh", "-c", script], "127.0.0.1", PORT, "/")
"""  # a real HTTP server that takes 4 s to answer: a start another command can overlap


def python(code: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip


def test_a_server_another_invocation_is_starting_is_waited_for_never_owned(tmp_path, monkeypatch):
    port = free_port()
    env = {"COURSE_HOME": str(tmp_path)}
    monkeypatch.setenv("COURSE_HOME", str(tmp_path))
    setup = SLOW_SERVER.replace("PORT", str(port))
    starter = python(setup + "services.start(s, timeout=60, keep=True); print('up')", env)  # as `course up`
    service = services.Service("slow", [], "127.0.0.1", port, "/")
    deadline = time.monotonic() + 30
    while not service.pid_file.exists():
        assert time.monotonic() < deadline, "the first invocation never started its server"
        time.sleep(0.05)
    assert not services.port_in_use("127.0.0.1", port), "the second one must arrive while the first is starting"
    second = python(setup + "services.start(s, timeout=60); print('mine' if services.started_by_me(s) else 'not mine')", env)
    assert second.communicate(timeout=60)[0].split() == ["not", "mine"]
    assert starter.communicate(timeout=60)[0].strip() == "up"
    try:
        assert services.is_healthy(service.url + "/")
        assert services.owner(service) == services.Owner(starter.pid, keep=True)
    finally:
        services.stop(service)


def test_course_assign_leaves_the_engines_course_up_is_starting(tmp_path, vllm_base_url):
    """The reported case with the real commands: `course up` starts lab Ollama (vLLM
    already answers), `course assign --check` runs meanwhile and ends; lab Ollama lives."""
    env = {"COURSE_HOME": str(tmp_path), "VLLM_BASE_URL": vllm_base_url, "OLLAMA_HOST": f"127.0.0.1:{free_port()}"}
    empty = tmp_path / "none"
    empty.mkdir()
    up = subprocess.Popen([COURSE, "up"], env={**os.environ, **env}, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)  # fmt: skip
    pid_file = tmp_path / "run" / f"lab-ollama-{env['OLLAMA_HOST'].split(':')[1]}.pid"
    deadline = time.monotonic() + 60
    while not pid_file.exists():
        assert time.monotonic() < deadline and up.poll() is None, "course up never started lab Ollama"
        time.sleep(0.05)
    check = course("assign", "--check", "--solutions", str(empty), "--exercises", str(empty), env=env, timeout=300)
    assert check.returncode == 0, check.stdout + check.stderr
    assert up.wait(timeout=120) == 0, up.stdout.read()
    ollama_pid = int(pid_file.read_text())
    try:
        time.sleep(1)
        assert services.pid_alive(ollama_pid), "course assign stopped the lab Ollama that course up started"
        assert requests.get(f"http://{env['OLLAMA_HOST']}/api/version", timeout=10).ok
    finally:
        down = course("down", env=env)
    assert "stopped: ollama" in down.stdout and not services.pid_alive(ollama_pid)


def test_course_down_leaves_an_engine_another_command_is_using(tmp_path, vllm_base_url):
    env = {"COURSE_HOME": str(tmp_path), "VLLM_BASE_URL": vllm_base_url, "OLLAMA_HOST": f"127.0.0.1:{free_port()}"}
    holder = python("""
        import sys, time
        from course_lib import engines
        with engines.running() as started:
            print(*started, flush=True)
            time.sleep(600)
    """, env)  # fmt: skip
    try:
        assert holder.stdout.readline().split() == ["ollama"], "the holder started lab Ollama for itself"
        down = course("down", env=env)
        assert down.returncode == 0
        assert "left running: ollama" in down.stdout and "stopped: ollama" not in down.stdout
        assert requests.get(f"http://{env['OLLAMA_HOST']}/api/version", timeout=10).ok
    finally:
        holder.send_signal(signal.SIGINT)  # Ctrl-C: it leaves its block and stops what it started
        holder.wait(timeout=60)
    assert not services.port_in_use("127.0.0.1", int(env["OLLAMA_HOST"].split(":")[1]))
