"""A lab Ollama killed in the middle of a pull leaves a store it can serve from."""

import json
import sys
import time

import requests

from course_lib import services
from course_lib.model import bundled_gguf

from ..helpers import free_port

KILL_AT = 20 << 20  # bytes of the 98 MB GGUF written when the server kills itself


def lab_service(port, models, home, kill=False):
    env = {"OLLAMA_HOST": f"127.0.0.1:{port}", "OLLAMA_MODELS": str(models), "COURSE_HOME": str(home)}
    if kill:
        env["COURSE_LAB_KILL_AFTER_BYTES"] = str(KILL_AT)
    return services.Service("lab-ollama-kill", [sys.executable, "-m", "course_lib.lab_ollama"],
                            "127.0.0.1", port, "/", env=env)  # fmt: skip


def test_pull_killed_mid_blob_then_restarted(tmp_path):
    models = tmp_path / "models"
    port = free_port()
    doomed = lab_service(port, models, tmp_path, kill=True)
    pid = services.start(doomed, timeout=60)
    lines = []
    try:
        with requests.post(f"http://127.0.0.1:{port}/api/pull", json={"model": "smollm2:135m"}, stream=True, timeout=60) as reply:
            for line in reply.iter_lines():
                lines.append(json.loads(line))
    except requests.RequestException:
        pass  # the server died under us, as intended
    deadline = time.monotonic() + 30  # the socket closes while the process is torn down
    while services.pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not services.pid_alive(pid), "the kill switch fired"
    services.stop(doomed)
    assert lines[0] == {"status": "pulling manifest"}
    assert "success" not in [l.get("status") for l in lines]
    partial = [p for p in (models / "blobs").iterdir() if "partial" in p.name]
    assert len(partial) == 1 and KILL_AT <= partial[0].stat().st_size < bundled_gguf().stat().st_size
    assert list((models / "manifests").rglob("*135m*")) == []

    revived = lab_service(port, models, tmp_path)
    services.start(revived, timeout=60)
    try:
        url = f"http://127.0.0.1:{port}"
        assert requests.get(url + "/api/tags", timeout=10).json() == {"models": []}
        assert [p for p in (models / "blobs").iterdir() if "partial" in p.name] == []
        final = requests.post(url + "/api/pull", json={"model": "smollm2:135m", "stream": False}, timeout=120)
        assert final.json() == {"status": "success"}
        (entry,) = requests.get(url + "/api/tags", timeout=10).json()["models"]
        assert entry["model"] == "smollm2:135m"
    finally:
        services.stop(revived)
