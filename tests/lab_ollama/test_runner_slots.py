"""The runner's slots: batching, order, hang-ups, the load queue and max loaded models.

Each test here runs its own lab Ollama with the settings it is about.
"""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from .conftest import running_lab

M = "smollm2:135m"


def _runners(url: str) -> list[dict]:
    return requests.get(url + "/lab/runners", timeout=10).json()["runners"]


def _wait_idle(url: str, timeout: float = 20) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        (runner,) = _runners(url)
        if runner["busy"] == 0 and runner["waiting"] == 0 and runner["refcount"] == 0:
            return runner
        time.sleep(0.1)
    raise AssertionError(f"runner never went idle: {_runners(url)}")


@pytest.fixture(scope="module")
def four_slots(tmp_path_factory):
    """OLLAMA_NUM_PARALLEL=4, and an empty store to begin with."""
    with running_lab(tmp_path_factory.mktemp("four-slots"), num_parallel="4") as lab:
        yield lab


def test_empty_store_lists_no_models(four_slots):
    assert requests.get(four_slots.url + "/v1/models", timeout=10).json() == {"object": "list", "data": None}
    assert requests.get(four_slots.url + "/api/tags", timeout=10).json() == {"models": []}
    requests.post(four_slots.url + "/api/pull", json={"model": M}, timeout=120).raise_for_status()


def _generate(url: str, num_predict: int, **extra) -> dict:
    body = {"model": M, "prompt": "Write a long story about a dragon.", "stream": False,
            "options": {"num_predict": num_predict, "temperature": 0}, **extra}  # fmt: skip
    reply = requests.post(url + "/api/generate", json=body, timeout=300)
    reply.raise_for_status()
    return reply.json()


def test_four_requests_share_decode_steps(four_slots):
    _generate(four_slots.url, 1)  # load first, so all four start together
    before = _wait_idle(four_slots.url)
    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(lambda _: _generate(four_slots.url, 48), range(4)))
    assert [r["response"] for r in replies[1:]] == [replies[0]["response"]] * 3  # greedy: same text
    after = _wait_idle(four_slots.url)
    full_steps = after["sequences_per_step"].get("4", 0) - before["sequences_per_step"].get("4", 0)
    assert full_steps >= 30, after["sequences_per_step"]  # most of the 48 tokens came 4 at a time


def test_requests_beyond_the_slots_wait_in_order(four_slots):
    finished: list[int] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        _generate(four_slots.url, 24)
        with lock:
            finished.append(i)

    threads = []
    for i in range(8):
        threads.append(threading.Thread(target=run, args=(i,)))
        threads[-1].start()
        time.sleep(0.05)  # arrive in order
    for t in threads:
        t.join()
    # the first four had the slots; the last four waited and could only finish after them
    assert set(finished[:4]) == {0, 1, 2, 3}, finished


def test_32_streams_with_hang_ups(four_slots):
    """8 of 32 streaming clients hang up after two chunks: the other 24 complete,
    every slot comes back, and the server answers normally afterwards."""
    results: dict[int, str] = {}

    def client(i: int) -> None:
        body = {"model": M, "prompt": f"Tell story number {i}.", "options": {"num_predict": 24}}
        with requests.post(four_slots.url + "/api/generate", json=body, stream=True, timeout=300) as reply:
            lines = reply.iter_lines()
            if i % 4 == 0:
                next(lines), next(lines)
                results[i] = "hung up"
                return  # closing the response drops the connection mid-stream
            last = [json.loads(line) for line in lines if line][-1]
            results[i] = "done" if last.get("done") else "broken"

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(client, range(32)))
    assert sorted(results.values()).count("done") == 24 and "broken" not in results.values()
    runner = _wait_idle(four_slots.url)
    assert runner["slots"] == 4
    assert _generate(four_slots.url, 4)["done"]


@pytest.fixture(scope="module")
def one_slot(tmp_path_factory):
    with running_lab(tmp_path_factory.mktemp("one-slot"), max_queue="1") as lab:
        requests.post(lab.url + "/api/pull", json={"model": M}, timeout=120).raise_for_status()
        yield lab


def test_a_hang_up_frees_the_slot_at_once(one_slot):
    body = {"model": M, "prompt": "Hi", "options": {"num_predict": 100000, "temperature": 0}}
    with requests.post(one_slot.url + "/api/generate", json=body, stream=True, timeout=60) as reply:
        lines = reply.iter_lines()
        next(lines), next(lines)
    _wait_idle(one_slot.url, timeout=5)  # not 100000 tokens later
    assert _generate(one_slot.url, 3)["eval_count"] == 3


def test_a_non_streaming_client_that_leaves_frees_the_slot(one_slot):
    # raw counting: greedy goes on counting far past 2 s (a templated "Hi" may stop at once)
    body = {"model": M, "prompt": "1, 2, 3, 4, 5, 6, 7, 8,", "raw": True, "stream": False,
            "options": {"num_predict": 100000, "temperature": 0}}  # fmt: skip
    with pytest.raises(requests.ReadTimeout):
        requests.post(one_slot.url + "/api/generate", json=body, timeout=2)
    _wait_idle(one_slot.url, timeout=5)


def test_the_load_queue_is_the_only_503(one_slot):
    """OLLAMA_MAX_QUEUE=1: while one load is pending, more loads get Ollama's 503;
    requests for a loaded model never do."""
    requests.post(one_slot.url + "/api/generate", json={"model": M, "keep_alive": 0}, timeout=60)
    body = {"model": M, "prompt": "Hi", "stream": False, "options": {"num_predict": 2}}
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: requests.post(one_slot.url + "/api/generate", json=body, timeout=120), range(8)))
    statuses = sorted(r.status_code for r in replies)
    assert 200 in statuses and 503 in statuses and set(statuses) == {200, 503}
    busy = next(r for r in replies if r.status_code == 503)
    assert busy.json() == {"error": "server busy, please try again.  maximum pending requests exceeded"}
    with ThreadPoolExecutor(8) as pool:  # loaded now: all of them wait for the slot instead
        assert {r.status_code for r in pool.map(lambda _: requests.post(one_slot.url + "/api/generate", json=body, timeout=120), range(8))} == {200}


