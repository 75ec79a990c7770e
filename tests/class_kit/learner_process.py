"""One simulated learner of a class, run as a process of its own by ``test_load``.

It sets nothing but what a learner sets (``COURSE_SERVER`` and ``COURSE_KEY`` come in
its environment), imports ``course_lib`` and sends lesson 02's requests to Ollama and
lesson 04's to vLLM through the gateway, then prints one JSON line per request: what
it asked, the status, and the token counts the reply reported.

Roles: ``plain`` sends its requests one after another; ``greedy`` first sends a burst
far above its rate; ``revoked`` sends half, waits for the test to revoke its key, then
sends the rest, which must all be refused.

Usage: python learner_process.py ROLE PROMPT OLLAMA_MODEL VLLM_MODEL|- SIGNAL_DIR
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import requests

from course_lib import config
from course_lib.lesson import connect

GREEDY_BURST = 30


def ollama_requests(base: str, model: str, prompt: str, api_key: str) -> list[tuple[str, Callable[[], tuple[int, dict]]]]:
    """Lesson 02's kinds of request: each a (kind, call) whose call returns (status, counts)."""
    options = {"num_predict": 3}

    def plain(path: str, body: dict) -> tuple[int, dict]:
        reply = requests.post(f"{base}{path}", json=body, timeout=120)
        data = reply.json()
        return reply.status_code, {"prompt": data.get("prompt_eval_count"), "completion": data.get("eval_count"),
                                   "error": data.get("error")}  # fmt: skip

    def streamed() -> tuple[int, dict]:
        body = {"model": model, "prompt": prompt, "raw": True, "options": options}
        with requests.post(f"{base}/api/generate", json=body, stream=True, timeout=120) as reply:
            lines = [json.loads(line) for line in reply.iter_lines() if line]
        return reply.status_code, {"prompt": lines[-1].get("prompt_eval_count"), "completion": lines[-1].get("eval_count"),
                                   "chunks": len(lines), "error": lines[-1].get("error")}  # fmt: skip

    def chat_v1() -> tuple[int, dict]:
        client = openai.OpenAI(base_url=f"{base}/v1", api_key=api_key, max_retries=0)
        return _openai(lambda: client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": prompt}], max_tokens=3))  # fmt: skip

    message = [{"role": "user", "content": prompt}]
    generate = {"model": model, "prompt": prompt, "raw": True, "stream": False, "options": options}
    return [
        ("ollama-generate", lambda: plain("/api/generate", generate)),
        ("ollama-generate-stream", streamed),
        ("ollama-chat", lambda: plain("/api/chat", {"model": model, "messages": message, "stream": False, "options": options})),
        ("ollama-show", lambda: plain("/api/show", {"model": model})),
        ("ollama-v1-chat", chat_v1),
    ]


def vllm_requests(base: str, model: str, prompt: str, api_key: str) -> list[tuple[str, Callable[[], tuple[int, dict]]]]:
    """Lesson 04's kinds of request, through the OpenAI client."""
    client = openai.OpenAI(base_url=base, api_key=api_key, max_retries=0)
    message = [{"role": "user", "content": prompt}]
    return [
        ("vllm-completion", lambda: _openai(lambda: client.completions.create(model=model, prompt=prompt, max_tokens=3))),
        ("vllm-chat", lambda: _openai(lambda: client.chat.completions.create(model=model, messages=message, max_tokens=3))),
    ]


def _openai(call: Callable) -> tuple[int, dict]:
    try:
        reply = call()
    except openai.APIStatusError as error:  # the gateway answers /v1 in OpenAI's error shape: the reason is in str(error)
        return error.status_code, {"error": str(error)}
    return 200, {"prompt": reply.usage.prompt_tokens, "completion": reply.usage.completion_tokens}


def attempt(kind: str, call: Callable[[], tuple[int, dict]]) -> dict:
    try:
        status, counts = call()
    except (requests.RequestException, ValueError) as error:
        status, counts = 0, {"error": repr(error)}
    return {"kind": kind, "status": status, **counts}


def wait_for(path: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"no {path} within {timeout} s")
        time.sleep(0.02)


def main(role: str, prompt: str, ollama_model: str, vllm_model: str, signals: Path) -> None:
    engines = connect()  # through the gateway: nothing is started here
    calls = ollama_requests(engines.ollama_url, ollama_model, prompt, engines.api_key)
    if vllm_model != "-":
        calls += vllm_requests(config.vllm_base_url(), vllm_model, prompt, engines.api_key)
    results = []
    if role == "greedy":
        show = calls[3][1]
        with ThreadPoolExecutor(GREEDY_BURST) as pool:
            results += pool.map(lambda _: attempt("greedy-show", show), range(GREEDY_BURST))
        time.sleep(3)  # the rate allows requests again
    half = len(calls) // 2
    for number, (kind, call) in enumerate(calls):
        if role == "revoked" and number == half:
            (signals / "half-done").touch()
            wait_for(signals / "revoked")
        results.append(attempt(kind, call))
    for result in results:
        print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], Path(sys.argv[5]))
