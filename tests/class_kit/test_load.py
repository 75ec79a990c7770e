"""A class under load, for real: learners as processes of their own, each with only
COURSE_SERVER and COURSE_KEY, sending lesson 02's and lesson 04's requests through the
gateway at once (``learner_process.py``); and the gateway's overhead benchmark.

``LEARNERS`` is the class size: 6 here, 20 for the measured run
(``LOAD_LEARNERS=20``). The first learner is greedy (a burst far above its rate), the
second has its key revoked halfway, the others send their requests one after another.
Each learner's prompt has a length of its own, so a reply sent to the wrong learner
would show in its prompt token count.
"""

from __future__ import annotations

import collections
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

import course_lib
from course_lib import config
from course_lib.bench import gateway_overhead
from course_lib.bench.load import LoadSpec
from course_lib.class_kit import gateway, keys, roster, usage
from course_lib.vllm_tools.server import installed_engine

from ..helpers import free_port
from ..make_lab import nginx
from .conftest import MODEL, running_gateway
from .learner_process import GREEDY_BURST

LEARNERS = int(os.environ.get("LOAD_LEARNERS", "6"))
NAMES = [f"learner-{number:02d}" for number in range(LEARNERS)]
GREEDY, REVOKED = NAMES[0], NAMES[1]
RATE, BURST = "5r/s", 10
SCRIPT = Path(__file__).with_name("learner_process.py")
ROOT = Path(course_lib.__file__).parents[1]
#: What ``connect()`` asks through the gateway first: the probes, and whether the model is there.
CONNECT = ["/ollama/api/version", "/ollama/api/version", "/ollama/api/show"]


@pytest.fixture(scope="module")
def vllm(request) -> tuple[str, str] | None:
    """The session's real vLLM (root URL, served model name) where one is installed."""
    if installed_engine() is None:
        return None
    base = request.getfixturevalue("vllm_base_url")
    return base.removesuffix("/v1"), config.VLLM_SERVED_NAME


@pytest.fixture(scope="module")
def gw(vllm, home, lab):  # vllm first: the session's server is started with the course's own COURSE_HOME
    """The gateway in front of the lab Ollama and the vLLM (the lab Ollama stands in
    for it where there is none; no vLLM request is then sent); every learner has a key."""
    nginx.require()
    keys.issue(roster.Learner(name) for name in NAMES)
    keys.issue_instructor()
    vllm_url = vllm[0] if vllm else lab
    with running_gateway(gateway.Settings(port=free_port(), ollama_url=lab, vllm_url=vllm_url, rate=RATE, burst=BURST)) as settings:
        yield settings


def prompt_of(number: int) -> str:
    """A prompt whose token count no other learner's has."""
    return " ".join(["word"] * (4 + 3 * number)) + " go"


def alone(lab: str, vllm: tuple[str, str] | None, prompt: str) -> dict[str, int]:
    """The prompt token count of each kind of request, asked of the engines directly."""
    body = {"model": MODEL, "stream": False, "options": {"num_predict": 1}}
    message = [{"role": "user", "content": prompt}]
    found = {
        "ollama-generate": requests.post(f"{lab}/api/generate", json={**body, "prompt": prompt, "raw": True}, timeout=120),
        "ollama-chat": requests.post(f"{lab}/api/chat", json={**body, "messages": message}, timeout=120),
    }
    counts = {kind: reply.json()["prompt_eval_count"] for kind, reply in found.items()}
    counts["ollama-generate-stream"] = counts["ollama-generate"]
    counts["ollama-v1-chat"] = counts["ollama-chat"]
    if vllm:
        root, name = vllm
        for kind, path, extra in (("vllm-completion", "completions", {"prompt": prompt}),
                                  ("vllm-chat", "chat/completions", {"messages": message})):  # fmt: skip
            reply = requests.post(f"{root}/v1/{path}", json={"model": name, "max_tokens": 1, **extra}, timeout=120)
            counts[kind] = reply.json()["usage"]["prompt_tokens"]
    return counts


def start(gw: gateway.Settings, name: str, role: str, number: int, vllm, folder: Path) -> subprocess.Popen:
    """A learner's process: its own COURSE_HOME (its netrc), COURSE_SERVER and COURSE_KEY."""
    home = folder / name
    home.mkdir()
    drop = ("OLLAMA_API_KEY", "NETRC", "COURSE_HOME", "OLLAMA_HOST", "VLLM_BASE_URL", "COURSE_SERVER", "COURSE_KEY")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))  # this checkout's course_lib
    env.update(COURSE_SERVER=gw.url, COURSE_KEY=keys.load()[name]["key"], COURSE_HOME=str(home))
    argv = [sys.executable, str(SCRIPT), role, prompt_of(number), MODEL, vllm[1] if vllm else "-", str(home)]
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_log(count: int, learner: str | None = None, timeout: float = 15.0) -> list[dict]:
    """The access log (``learner``'s lines only, if given) once it holds ``count``
    requests: nginx writes a request's line just after its last byte."""
    deadline = time.monotonic() + timeout
    while True:
        entries = [entry for entry in usage.entries() if learner in (None, entry["learner"])]
        if len(entries) >= count or time.monotonic() > deadline:
            return entries
        time.sleep(0.05)


def test_a_class_of_learner_processes(gw, lab, vllm, tmp_path):
    expected = {name: alone(lab, vllm, prompt_of(number)) for number, name in enumerate(NAMES)}
    assert len({counts["ollama-generate"] for counts in expected.values()}) == LEARNERS, expected
    roles = {GREEDY: "greedy", REVOKED: "revoked"}
    started = time.monotonic()
    processes = {name: start(gw, name, roles.get(name, "plain"), number, vllm, tmp_path) for number, name in enumerate(NAMES)}

    signal = tmp_path / REVOKED / "half-done"
    while not signal.exists() and processes[REVOKED].poll() is None:
        time.sleep(0.02)
    gateway.revoke(REVOKED)
    (tmp_path / REVOKED / "revoked").touch()
    still_running = [name for name, process in processes.items() if process.poll() is None and name != REVOKED]

    replies: dict[str, list[dict]] = {}
    for name, process in processes.items():
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, f"{name}: {err[-2000:]}"
        replies[name] = [json.loads(line) for line in out.splitlines() if line.startswith("{")]  # after connect()'s line
    seconds = time.monotonic() - started
    kinds = 5 + 2 * bool(vllm)
    sent = sum(len(found) for found in replies.values())
    assert sent == LEARNERS * kinds + GREEDY_BURST
    assert still_running, "the revocation came after every other learner had finished"

    # A learner over their rate gets 429 with the clear message; their lesson requests then pass.
    burst = [r for r in replies[GREEDY] if r["kind"] == "greedy-show"]
    statuses = {r["status"] for r in burst}
    assert statuses == {200, 429}, statuses
    assert all("Rate limit" in r["error"] for r in burst if r["status"] == 429)

    # A revoked key: 401 from the next request on; before, answered.
    half = kinds // 2
    assert [r["status"] for r in replies[REVOKED]] == [200] * half + [401] * (kinds - half), replies[REVOKED]
    assert all("revoked" in r["error"] for r in replies[REVOKED][half:]), replies[REVOKED][half:]

    # Everyone else (and the greedy learner's lesson requests): answered, and with their own prompt's count.
    for name in NAMES:
        own = [r for r in replies[name] if r["kind"] != "greedy-show"][: half if name == REVOKED else None]
        assert all(r["status"] == 200 for r in own), (name, own)
        for r in own:
            if r["kind"] in expected[name]:
                assert r["prompt"] == expected[name][r["kind"]], (name, r, expected[name])
                assert r["completion"] >= 1, (name, r)

    # Logged exactly once each, under its own learner; usage as sent and as reported.
    log = wait_for_log(sent + len(CONNECT) * LEARNERS)  # the direct requests above bypass the gateway
    for name in NAMES:
        theirs = [entry for entry in log if name in (entry["learner"], entry["revoked"])]
        assert [entry["uri"] for entry in theirs[: len(CONNECT)]] == CONNECT, name  # before any lesson request
        found, mine = usage.summarize(theirs[len(CONNECT) :])[name], replies[name]
        assert found.requests == len(mine), (name, found)
        assert found.rate_limited == sum(r["status"] == 429 for r in mine), (name, found)
        assert found.unauthorized == sum(r["status"] == 401 for r in mine), (name, found)
        answered = [r for r in mine if r["status"] == 200]
        assert found.prompt_tokens == sum(r.get("prompt") or 0 for r in answered), (name, found)
        assert found.completion_tokens == sum(r.get("completion") or 0 for r in answered), (name, found)
    statuses = collections.Counter(r["status"] for found in replies.values() for r in found)
    print(f"\n{LEARNERS} learners, {sent} requests in {seconds:.1f} s, statuses {dict(statuses)}")


def test_the_gateway_overhead_benchmark_counts_every_request(gw, lab):
    """Small: the shape and the counts, no timing bound (ratios finite and positive)."""
    before = usage.per_learner().get(keys.INSTRUCTOR, usage.Usage())
    spec = LoadSpec("ollama", lab, MODEL, input_len=16, output_len=4, num_prompts=3, max_concurrency=2)
    found = gateway_overhead.measure(spec, gw.url, keys.issue_instructor(), rounds=2, warn_if_busy=False)
    for side in gateway_overhead.SIDES:
        assert len(found.records[side]) == 6 and all(r.ok for r in found.records[side]), side
        assert found.summaries[side]["completed"] == 6
    # Ollama cannot ignore end-of-sequence: an output may end early on either side, so
    # its length is bounded rather than compared between the sides.
    assert all(1 <= r.output_tokens <= 4 for side in gateway_overhead.SIDES for r in found.records[side])
    assert all(math.isfinite(v) and v > 0 for v in found.ratios.values()), found.ratios
    data = found.to_dict()
    assert set(data["ratios"]) == set(gateway_overhead.METRICS) and data["gateway"]["failed"] == 0
    logged = usage.summarize(wait_for_log(before.requests + 8, keys.INSTRUCTOR))[keys.INSTRUCTOR]
    through = found.records["gateway"]
    assert logged.requests - before.requests == 6 + 2 and logged.rate_limited == 0  # + a warm-up per round
    assert logged.completion_tokens - before.completion_tokens >= sum(r.output_tokens for r in through)


def test_the_capacity_sweep_goes_through_the_gateway_and_stops_at_the_first_miss(gw, lab):
    """Small and loose: two rates through the gateway, every request logged under the instructor."""
    from course_lib.bench import capacity

    before = usage.per_learner().get(keys.INSTRUCTOR, usage.Usage())
    spec = LoadSpec("ollama", gw.url, MODEL, input_len=16, output_len=4, num_prompts=3, warmups=0)
    seen = []
    found = capacity.sweep(spec, [4.0, 2.0], capacity.SLO(e2el_ms=60_000), through="gateway",
                           headers={"Authorization": f"Bearer {keys.issue_instructor()}"},
                           report=lambda rate, met: seen.append((rate, met)))  # fmt: skip
    assert seen == [(2.0, 1.0), (4.0, 1.0)] and found.best_rate == 4.0 and found.learners(10) == 40
    logged = usage.summarize(wait_for_log(before.requests + 6, keys.INSTRUCTOR))[keys.INSTRUCTOR]
    assert logged.requests - before.requests == 6 and logged.rate_limited == 0
    strict = capacity.sweep(spec, [2.0, 4.0], capacity.SLO(ttft_ms=0.001), through="gateway",
                            headers={"Authorization": f"Bearer {keys.issue_instructor()}"})  # fmt: skip
    assert strict.met == {2.0: 0.0} and strict.best_rate is None  # the first miss ends the sweep
