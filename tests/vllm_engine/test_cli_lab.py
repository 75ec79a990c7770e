"""`course lab` (what `make lab` runs): engines, then JupyterLab; Ctrl-C stops both.

Driven as a terminal would: its own process group, then SIGINT to the group.
"""

import os
import re
import signal
import subprocess
import time

import requests

from course_lib import services

from ..helpers import COURSE, course, free_port, require_vllm


def test_ctrl_c_stops_jupyterlab_and_the_engine_it_started(tmp_path):
    require_vllm()
    vllm_port, jupyter_port, ollama_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "VLLM_BASE_URL": f"http://127.0.0.1:{vllm_port}/v1",
        "OLLAMA_HOST": f"127.0.0.1:{ollama_port}",
        "JUPYTER_PORT": str(jupyter_port),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    log = tmp_path / "lab.log"
    with log.open("w") as out:
        lab = subprocess.Popen(
            [COURSE, "lab", "--no-browser", "--enforce-eager"],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 600
        url = None
        while url is None:
            assert lab.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            found = re.search(rf"http://127\.0\.0\.1:{jupyter_port}/lab\?token=\w+", log.read_text())
            url = found.group(0) if found else None
            time.sleep(0.5)
        assert requests.get(url, timeout=10).status_code == 200
        assert services.is_healthy(f"http://127.0.0.1:{vllm_port}/health")
        assert "X-Course-Lab" in requests.get(f"http://127.0.0.1:{ollama_port}/", timeout=5).headers
        os.killpg(lab.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        assert lab.wait(timeout=120) == 0, log.read_text()[-3000:]
    finally:
        if lab.poll() is None:
            os.killpg(lab.pid, signal.SIGKILL)
            course("down", env=env)  # the engines live in sessions of their own
    text = log.read_text()
    assert "stopped: jupyterlab, ollama, vllm" in text
    assert not services.port_in_use("127.0.0.1", jupyter_port)
    assert not services.port_in_use("127.0.0.1", vllm_port)
    assert not services.port_in_use("127.0.0.1", ollama_port)
