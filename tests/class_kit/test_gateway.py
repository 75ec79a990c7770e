"""The class gateway, for real: Debian's nginx in front of a lab Ollama, used through
the official ``ollama`` and ``openai`` clients with learners' keys.

One lab Ollama and one gateway for the module, each on a free loopback port, under a
COURSE_HOME of their own. Each test uses learners of its own, so that one test's rate
or revocation never decides another's outcome.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import ollama
import openai
import psutil
import pytest
import requests

from course_lib import class_server, services
from course_lib.class_kit import gateway, keys, roster, usage

from ..helpers import free_port
from ..make_lab import nginx
from .conftest import MODEL, running_gateway

LEARNERS = ["ada", "bob", "cy", "dee", "eve", "fay", "gus", "hal", "ivy", "kit"] + [f"load-{i}" for i in range(6)]
RATE, BURST = "2r/s", 4


@pytest.fixture(scope="module")
def gw(home, request):
    """The gateway in front of the lab Ollama; every learner has a key. Stopped after,
    and nothing of it may be left running."""
    nginx.require()
    lab = request.getfixturevalue("lab")
    keys.issue(roster.Learner(name) for name in LEARNERS)
    with running_gateway(gateway.Settings(port=free_port(), ollama_url=lab, vllm_url=lab, rate=RATE, burst=BURST)) as settings:
        yield settings


def key(name: str) -> str:
    return keys.load()[name]["key"]


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key(name)}"}


def logged(name: str, count: int, timeout: float = 10.0) -> usage.Usage:
    """The learner's usage once ``count`` requests are logged (nginx writes a request's
    line just after its last byte is sent, so a client may be a moment ahead)."""
    deadline = time.monotonic() + timeout
    while (found := usage.per_learner().get(name, usage.Usage())).requests < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def test_a_key_works_with_the_official_clients(gw):
    client = ollama.Client(host=gw.url, headers=bearer("ada"))
    chat = client.chat(model=MODEL, messages=[{"role": "user", "content": "Hi"}], options={"num_predict": 3})
    assert chat.done and chat.eval_count >= 1 and chat.message.role == "assistant"
    parts = list(client.generate(model=MODEL, prompt="Count: 1, 2,", stream=True, options={"num_predict": 4}))
    assert len(parts) >= 2 and parts[-1].done and not parts[0].done  # streamed, chunk by chunk
    for base in ("/ollama/v1", "/v1"):  # /v1/ goes to vLLM; here a lab Ollama stands in for it
        chat_api = openai.OpenAI(base_url=gw.url + base, api_key=key("ada"), max_retries=0)
        reply = chat_api.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=3)
        assert reply.choices[0].message.content and reply.usage.completion_tokens >= 1
    assert logged("ada", 4).requests == 4
    assert [entry["uri"] for entry in usage.entries() if entry["learner"] == "ada"] == [
        "/api/chat", "/api/generate", "/ollama/v1/chat/completions", "/v1/chat/completions"]


def test_a_stream_passes_through_as_it_is_made(gw):
    """Neither nginx nor the token-counting filter may hold a stream back: held, these
    chunks would all arrive at once, at the end (as they do when usage.js sends only at
    the last buffer)."""
    body = {"model": MODEL, "prompt": "List the numbers from one to twenty:", "options": {"num_predict": 16}}
    arrived = []
    with requests.post(gw.url + "/api/generate", json=body, headers=bearer("gus"), stream=True, timeout=60) as answer:
        for line in answer.iter_lines():
            arrived.append(time.monotonic())
    assert len(arrived) >= 8
    assert arrived[-1] - arrived[len(arrived) // 2] > 0.02, [round(t - arrived[0], 3) for t in arrived]


def test_no_key_or_an_unknown_key_is_refused_with_what_to_do(gw):
    for headers in ({}, {"Authorization": "Bearer not-a-key"}, {"Authorization": key("bob")}):  # the last: no "Bearer "
        answer = requests.post(gw.url + "/api/chat", json={"model": MODEL}, headers=headers, timeout=10)
        assert answer.status_code == 401 and "COURSE_KEY" in answer.json()["error"]
    with pytest.raises(ollama.ResponseError) as refused:
        ollama.Client(host=gw.url).list()
    assert refused.value.status_code == 401 and "COURSE_KEY" in refused.value.error
    for base in ("/ollama/v1", "/v1"):  # OpenAI's error shape there, so the client shows the reason
        with pytest.raises(openai.AuthenticationError) as refused:
            openai.OpenAI(base_url=gw.url + base, api_key="wrong", max_retries=0).models.list()
        assert "COURSE_KEY" in str(refused.value) and refused.value.type == "authentication_error", base


def test_a_revoked_key_is_refused_at_once(gw):
    client = ollama.Client(host=gw.url, headers=bearer("bob"))
    assert client.list().models  # admitted before
    gateway.revoke("bob")
    with pytest.raises(ollama.ResponseError) as refused:
        client.list()  # the same client, its connection kept alive
    assert refused.value.status_code == 401 and "revoked" in refused.value.error
    assert requests.get(gw.url + "/api/tags", headers=bearer("bob"), timeout=10).status_code == 401
    assert requests.get(gw.url + "/api/tags", headers=bearer("cy"), timeout=10).ok  # others unaffected
    assert logged("bob", 3).unauthorized == 2  # the refusals count under bob, not as anonymous


def test_an_openai_client_over_the_rate_is_told_why(gw):
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=key("kit"), max_retries=0)

    def hit(_: int) -> openai.RateLimitError | None:
        try:
            client.models.list()
        except openai.RateLimitError as error:
            return error
        return None

    with ThreadPoolExecutor(12) as pool:
        refused = [error for error in pool.map(hit, range(12)) if error is not None]
    assert refused, "12 requests at once, with a burst of 4: some must be refused"
    assert all("2 requests per second" in str(error) and error.type == "rate_limit_error" for error in refused)


def test_one_learner_over_the_rate_does_not_slow_another(gw):
    def hit(name: str) -> requests.Response:
        return requests.get(gw.url + "/api/version", headers=bearer(name), timeout=10)

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(hit, ["dee"] * 12 + ["eve"] * BURST))
    greedy, calm = answers[:12], answers[12:]
    statuses = sorted(a.status_code for a in greedy)
    assert 200 in statuses and 429 in statuses, statuses
    assert set(statuses) == {200, 429}
    refused = next(a for a in greedy if a.status_code == 429)
    assert "2 requests per second" in refused.json()["error"] and f"bursts of {BURST}" in refused.json()["error"]
    assert [a.status_code for a in calm] == [200] * BURST
    assert logged("dee", 12).rate_limited == statuses.count(429)


def test_the_instructor_is_never_rate_limited(gw):
    """A burst far above the rate: the learner's gets 429s, the instructor's none, so
    that a benchmark can go through the gateway."""
    instructor = {"Authorization": f"Bearer {keys.issue_instructor()}"}
    gateway.reload()

    def burst(headers: dict[str, str]) -> list[int]:
        with ThreadPoolExecutor(10) as pool:
            return sorted(pool.map(lambda _: requests.get(gw.url + "/api/version", headers=headers, timeout=10).status_code,
                                   range(20)))  # fmt: skip

    assert burst(instructor) == [200] * 20
    assert 429 in burst(bearer("ivy"))
    assert logged(keys.INSTRUCTOR, 20) == usage.Usage(requests=20, unknown_tokens=20)


def test_usage_per_learner_is_what_the_engines_reported(gw):
    client = ollama.Client(host=gw.url, headers=bearer("fay"))
    chat = client.chat(model=MODEL, messages=[{"role": "user", "content": "Name a colour."}], options={"num_predict": 5})
    last = list(client.generate(model=MODEL, prompt="Once upon a time", stream=True, options={"num_predict": 6}))[-1]
    chat_api = openai.OpenAI(base_url=gw.url + "/ollama/v1", api_key=key("fay"), max_retries=0)
    plain = chat_api.completions.create(model=MODEL, prompt="The sky is", max_tokens=4)
    counted = list(chat_api.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=3,
                                                    stream=True, stream_options={"include_usage": True}))[-1].usage  # fmt: skip
    uncounted = chat_api.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Yo"}], max_tokens=3,
                                                 stream=True)  # fmt: skip
    assert all(chunk.usage is None for chunk in uncounted)  # the request went through as the learner sent it
    found = logged("fay", 5)
    assert found == usage.Usage(
        requests=5, unknown_tokens=1,
        prompt_tokens=chat.prompt_eval_count + last.prompt_eval_count + plain.usage.prompt_tokens + counted.prompt_tokens,
        completion_tokens=chat.eval_count + last.eval_count + plain.usage.completion_tokens + counted.completion_tokens,
    )  # fmt: skip


def test_six_learners_at_once_each_get_their_own_answers(gw, lab):
    """Each learner's prompt has a length of its own; a raw prompt's ``prompt_eval_count``
    is its own token count, so a reply sent to the wrong learner would show."""
    learners = [f"load-{i}" for i in range(6)]
    prompts = {name: " ".join(["word"] * (3 + 4 * i)) + f" {name}" for i, name in enumerate(learners)}
    body = {"model": MODEL, "raw": True, "stream": False, "options": {"num_predict": 1}}
    alone = {name: requests.post(lab + "/api/generate", json={**body, "prompt": prompt}, timeout=60).json()["prompt_eval_count"]
             for name, prompt in prompts.items()}  # fmt: skip
    assert len(set(alone.values())) == len(learners), alone

    def learner(name: str) -> list[int]:
        with requests.Session() as session:
            return [session.post(gw.url + "/api/generate", json={**body, "prompt": prompts[name]}, headers=bearer(name),
                                 timeout=60).json()["prompt_eval_count"] for _ in range(3)]  # fmt: skip

    with ThreadPoolExecutor(len(learners)) as pool:
        counts = dict(zip(learners, pool.map(learner, learners)))
    assert counts == {name: [alone[name]] * 3 for name in learners}
    for name in learners:
        found = logged(name, 3)
        assert (found.requests, found.prompt_tokens, found.completion_tokens) == (3, 3 * alone[name], 3), name
    assert usage.NO_LEARNER not in {name for name, found in usage.per_learner().items() if found.requests > found.unauthorized}


def test_the_gateway_listens_on_loopback_only(gw):
    pid = services.running_pid(gateway.service(gw))
    listening = {c.laddr for p in services.process_tree(pid) for c in p.net_connections("tcp") if c.status == psutil.CONN_LISTEN}
    assert listening == {("127.0.0.1", gw.port)}
    with pytest.raises(OSError), socket.create_connection(("127.0.0.2", gw.port), timeout=2):
        pass
    assert requests.get(gw.url + "/nowhere", timeout=5).status_code == 404


def test_a_port_in_use_is_a_clear_error_and_nothing_runs(gw, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_HOME", str(tmp_path))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = gateway.Settings(port=port, ollama_url=gw.ollama_url, vllm_url=gw.vllm_url)
        started = time.monotonic()
        with pytest.raises(services.ServiceError, match=f"port {port} .* already in use"):
            gateway.up(settings)
        assert time.monotonic() - started < 10
    assert gateway.running() is None
    assert not [p for p in psutil.process_iter(["cmdline"]) if str(tmp_path) in " ".join(p.info["cmdline"] or [])]


def test_a_second_gateway_in_the_same_home_is_refused(gw):
    with pytest.raises(gateway.GatewayError, match="already runs at"):
        gateway.up(gateway.Settings(port=free_port(), ollama_url=gw.ollama_url, vllm_url=gw.vllm_url))
    assert gateway.running() == gw


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("name,email\nada,a@x\n", "line 1: the header needs a 'learner' column"),
        ("learner\nada\nAda Lovelace\n", "line 3: 'Ada Lovelace' is not a valid learner name"),
        ("learner,email\nada,a@x\nbob,b@x\nada,c@x\n", "line 4: learner 'ada' is listed twice"),
        ("learner,email\nada,a@x,extra\n", "line 2: 3 fields where the header has 2"),
        ("learner\n\n", "no learners below the header"),
    ],
)
def test_a_malformed_roster_names_the_line(tmp_path, text, said):
    path = tmp_path / "roster.csv"
    path.write_text(text)
    with pytest.raises(roster.RosterError) as error:
        roster.read(path)
    assert said in str(error.value) and str(path) in str(error.value)


def test_keys_are_made_once_and_revoked_learners_get_no_new_one(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_HOME", str(tmp_path))
    path = tmp_path / "roster.csv"
    path.write_text("learner,email\nada,ada@example.org\nbob,\n")
    first = keys.issue(roster.read(path))
    keys.revoke("bob")
    path.write_text("learner,email\nada,ada@example.org\nbob,\ncy,\n")
    again = keys.issue(roster.read(path))
    assert again["ada"] == first["ada"] and again["bob"]["key"] == first["bob"]["key"] and again["bob"]["revoked"]
    assert len({record["key"] for record in again.values()}) == 3
    keys.write_handout(tmp_path / "keys.csv", again)
    assert (tmp_path / "keys.csv").read_text().splitlines() == [
        "learner,email,key", f"ada,ada@example.org,{first['ada']['key']}", f"cy,,{again['cy']['key']}"]
    with pytest.raises(roster.RosterError, match="no key was issued to 'zed'"):
        keys.revoke("zed")


class Recorder(BaseHTTPRequestHandler):
    """An engine stand-in that records what reaches it and reports OpenAI-style usage."""

    seen: list[tuple[str, dict]] = []

    def do_GET(self):
        self.seen.append((self.path, dict(self.headers)))
        body = json.dumps({"usage": {"prompt_tokens": 7, "completion_tokens": 2}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_the_engines_get_the_path_they_serve_and_never_the_key(tmp_path, monkeypatch):
    nginx.require()
    monkeypatch.setenv("COURSE_HOME", str(tmp_path))
    keys.issue([roster.Learner("ada")])
    Recorder.seen.clear()
    engine = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=engine.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{engine.server_address[1]}"
    settings = gateway.up(gateway.Settings(port=free_port(), ollama_url=url, vllm_url=url))
    try:
        asked = ["/api/tags", "/ollama/api/tags", "/ollama/v1/models", "/v1/models", "/vllm/metrics", "/vllm/tokenize?x=1"]
        for path in asked:
            assert requests.get(settings.url + path, headers=bearer("ada"), timeout=10).ok, path
        found = logged("ada", len(asked))
    finally:
        assert gateway.down()
        engine.shutdown()
    assert [path for path, _ in Recorder.seen] == ["/api/tags", "/api/tags", "/v1/models", "/v1/models", "/metrics", "/tokenize?x=1"]
    assert all("Authorization" not in headers and headers["Host"] == url.removeprefix("http://") for _, headers in Recorder.seen)
    assert (found.prompt_tokens, found.completion_tokens) == (7 * len(asked), 2 * len(asked))


LEARNER_PROCESS = """
import json, os, ollama, openai, requests
import course_lib
from course_lib import config
from course_lib.lesson import connect

engines = connect()  # through the gateway: nothing is started here
OLLAMA, VLLM = engines.ollama_url, config.vllm_base_url()  # a lab Ollama stands in for vLLM (no /health)
plain = requests.post(f"{OLLAMA}/api/generate", timeout=60, json={
    "model": "smollm2:135m", "prompt": "Hi", "stream": False, "options": {"num_predict": 2}})
chat = ollama.Client(host=OLLAMA).chat(model="smollm2:135m", messages=[{"role": "user", "content": "Hi"}],
                                       options={"num_predict": 2})
# connect() and the calls below come faster than this gateway's rate (2 a second, bursts of 4): the
# openai client waits and retries a 429 by itself, as it does in a learner's notebook
ollama_v1 = openai.OpenAI(base_url=f"{OLLAMA}/v1", api_key=engines.api_key).models.list()
vllm_v1 = openai.OpenAI(base_url=VLLM, api_key=engines.api_key).models.list()
print(json.dumps({"ollama": OLLAMA, "vllm": VLLM, "vllm_root": config.vllm_root_url(), "plain": plain.status_code,
                  "chat": chat.eval_count, "ollama_v1": len(ollama_v1.data), "vllm_v1": len(vllm_v1.data)}))
"""


def test_a_learner_needs_only_course_server_and_course_key(gw, home, tmp_path):
    """A fresh process (as a notebook's kernel) with the two variables: connect(), plain
    requests, the ollama and openai clients and the doctor all go through the gateway
    with the learner's key, and nothing is started locally (OLLAMA_HOST and
    VLLM_BASE_URL point at nothing and are overridden)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("OLLAMA_API_KEY", "NETRC", "COURSE_HOME")}
    env.update(COURSE_SERVER=gw.url, COURSE_KEY=key("hal"), COURSE_HOME=str(tmp_path),
               OLLAMA_HOST=f"127.0.0.1:{free_port()}", VLLM_BASE_URL=f"http://127.0.0.1:{free_port()}/v1")
    ran = subprocess.run([sys.executable, "-c", LEARNER_PROCESS], env=env, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr[-2000:]
    got = json.loads(ran.stdout.strip().splitlines()[-1])
    assert got["ollama"] == f"{gw.url}/ollama" and got["vllm"] == f"{gw.url}/v1" and got["vllm_root"] == f"{gw.url}/vllm"
    assert got["plain"] == 200 and got["chat"] >= 1 and got["ollama_v1"] >= 1 and got["vllm_v1"] >= 1
    assert logged("hal", 5).requests >= 5  # every call above was admitted under hal's key
    time.sleep(BURST / 2)  # hal's rate allowance refills (RATE is 2 a second)
    code = "from course_lib import class_server, doctor\nprint(doctor.class_server_check(class_server.server()))"
    row = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert "ok=True" in row.stdout and "COURSE_KEY set" in row.stdout, row.stdout + row.stderr[-1000:]
    [netrc] = tmp_path.glob("class-server-*.netrc")  # named by hal's key: learners sharing a home keep their own
    assert netrc.name == class_server.netrc_path(key("hal")).name != class_server.netrc_path(key("ivy")).name
    assert oct(netrc.stat().st_mode & 0o777) == "0o600"


def test_a_learner_without_a_key_is_told_what_to_set(gw, tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("OLLAMA_API_KEY", "NETRC", "COURSE_KEY")}
    env.update(COURSE_SERVER=gw.url, COURSE_HOME=str(tmp_path))
    code = "from course_lib.lesson import connect\nconnect()"
    ran = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert ran.returncode != 0 and "class server" in ran.stderr and "COURSE_KEY" in ran.stderr, ran.stderr[-1500:]
    assert not list(tmp_path.glob("run/*.pid")), "no engine may be started for a learner of a class"
