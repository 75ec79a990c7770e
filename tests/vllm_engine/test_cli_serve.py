"""`course serve vllm` in the foreground: the guide's server command, extra flags
passed through to vLLM, stopped by Ctrl-C."""

import os
import signal
import subprocess
import time

import requests

from course_lib import config, services

from ..helpers import COURSE, free_port, require_vllm


def test_foreground_server_answers_and_stops_on_ctrl_c(tmp_path):
    require_vllm()
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [COURSE, "serve", "vllm", "--port", str(port),
             "--enforce-eager", "--max-num-seqs", "4"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "VLLM_LOGGING_LEVEL": "INFO"},  # its config line is INFO; a test before may quiet vLLM
        )  # fmt: skip
    root = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while not services.is_healthy(f"{root}/health"):
            assert server.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        models = requests.get(f"{root}/v1/models", timeout=10).json()["data"]
        assert [m["id"] for m in models] == [config.VLLM_SERVED_NAME]
        text = log.read_text()
        assert "vllm.entrypoints.openai.api_server" in text.splitlines()[0]
        assert "max_num_seqs=4" in text.replace(" ", "") or "'max_num_seqs': 4" in text
        os.killpg(server.pid, signal.SIGINT)
        server.wait(timeout=120)
        # its engine process may exit a moment after the server
        assert services.wait_group_gone(server.pid, 60), "an engine process outlived Ctrl-C"
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
    assert not services.port_in_use("127.0.0.1", port)
