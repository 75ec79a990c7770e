"""The recording proxy the exercise tests put between a learner's code and Ollama."""

import json

import requests

from course_lib.grading.recorder import BUSY, RecordingProxy


def test_forwards_records_and_streams(ollama_url):
    with RecordingProxy(ollama_url) as proxy:
        body = {"model": "smollm2:135m", "prompt": "Hi", "options": {"num_predict": 4}}
        with requests.post(f"{proxy.url}/api/generate", json=body, stream=True, timeout=60) as reply:
            lines = [json.loads(line) for line in reply.iter_lines() if line]
        tags = requests.get(f"{proxy.url}/api/tags", timeout=30)
    assert reply.headers["Content-Type"] == "application/x-ndjson"
    assert len(lines) >= 2 and lines[-1]["done"] is True and lines[-1]["eval_count"] <= 4
    assert tags.ok and "models" in tags.json()
    assert [(r.method, r.path) for r in proxy.records] == [("POST", "/api/generate"), ("GET", "/api/tags")]
    assert proxy.posts("/api/generate")[0].body == body


def test_busy_delay_and_cap(ollama_url):
    body = {"model": "smollm2:135m", "prompt": "Write a long story.", "stream": False}
    with RecordingProxy(ollama_url, busy_first=1, cap=3) as proxy:
        busy = requests.post(f"{proxy.url}/api/generate", json=body, timeout=60)
        capped = requests.post(f"{proxy.url}/api/generate", json=body, timeout=60)
    assert busy.status_code == 503 and busy.json() == BUSY
    assert capped.ok and capped.json()["eval_count"] <= 3
    assert proxy.records[1].body == body  # the record keeps what the client sent
    with RecordingProxy(ollama_url, delay_first=1, delay=1.0) as proxy:
        try:
            requests.get(f"{proxy.url}/api/version", timeout=0.3)
        except requests.Timeout:
            timed_out = True
        else:
            timed_out = False
        assert requests.get(f"{proxy.url}/api/version", timeout=5).ok
    assert timed_out
