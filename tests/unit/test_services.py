"""services: background servers with pid/log files, on real processes."""

import os
import socket
import sys
import time

import pytest

from course_lib import services


@pytest.fixture(autouse=True)
def _course_home(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_HOME", str(tmp_path))


free_port = services.free_port


def http_service(port: int, with_child: bool = False, name: str = "web") -> services.Service:
    """A real HTTP server; optionally with a second process in its group."""
    server = f"{sys.executable} -m http.server {port} --bind 127.0.0.1"
    script = f"sleep 300 & exec {server}" if with_child else f"exec {server}"
    return services.Service(name, ["sh", "-c", script], "127.0.0.1", port, "/")


def group_members(pgid: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[-1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(entry))
    return members


def test_start_status_stop_leaves_no_process():
    service = http_service(free_port(), with_child=True)
    pid = services.start(service, timeout=30)
    assert services.is_healthy(service.url + "/")
    assert services.running_pid(service) == pid
    assert len(group_members(pid)) == 2, "the server and its child"
    assert service.pid_file.read_text().strip() == str(pid)
    assert services.stop(service) is True
    assert group_members(pid) == []
    assert not service.pid_file.exists()
    assert not services.port_in_use("127.0.0.1", service.port)
    assert services.stop(service) is False, "nothing left to stop"


def test_second_start_reuses_the_running_server():
    service = http_service(free_port())
    try:
        first = services.start(service, timeout=30)
        assert services.start(service, timeout=30) == first
    finally:
        services.stop(service)


def test_a_port_held_by_another_program_is_a_clear_error():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(services.ServiceError, match=f"port {port} .* already in use"):
            services.start(http_service(port), timeout=10)


def test_a_server_that_dies_reports_its_log_tail():
    service = services.Service(
        "broken", ["sh", "-c", "echo 'bad flag --nope'; exit 3"], "127.0.0.1", free_port()
    )
    started = time.monotonic()
    with pytest.raises(services.ServiceError) as error:
        services.start(service, timeout=60)
    assert time.monotonic() - started < 30, "a dead server is noticed, not waited out"
    assert "exited before it was ready" in str(error.value)
    assert "bad flag --nope" in str(error.value)
    assert not service.pid_file.exists()


def test_a_server_that_never_gets_healthy_times_out_and_is_stopped():
    service = services.Service("mute", ["sleep", "300"], "127.0.0.1", free_port())
    with pytest.raises(services.ServiceError, match="did not answer"):
        services.start(service, timeout=2)
    assert services.running_pid(service) is None


def test_process_tree_lists_children_first_and_kill_processes_ends_them():
    import subprocess

    parent = subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time; "
                               "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"])  # fmt: skip
    deadline = time.monotonic() + 10
    while len(tree := services.process_tree(parent.pid)) < 2:
        assert time.monotonic() < deadline, "the grandchild never started"
        time.sleep(0.1)
    assert tree[-1].pid == parent.pid and tree[0].ppid() == parent.pid
    services.kill_processes(tree)
    assert services.process_tree(parent.pid) == []
    assert not any(process.is_running() for process in tree)
