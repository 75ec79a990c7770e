"""The benchmark's metric definitions on hand-computed traces (pure functions)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from course_lib.bench import server_limits
from course_lib.bench.metrics import (SLO, RequestRecord, arrival_times, compare, highest_rate_meeting, percentile,
                                     summarize, tail)


def trace(sent, chunks, tokens=None, ok=True, input_tokens=10):
    return RequestRecord(sent, list(chunks), len(chunks) if tokens is None else tokens, input_tokens, ok)


def test_ttft_itl_tpot_e2el_of_one_request():
    r = trace(10.0, [10.5, 10.6, 10.8, 11.1])  # 4 tokens
    assert r.ttft == pytest.approx(0.5)
    assert r.itls == pytest.approx([0.1, 0.2, 0.3])
    assert r.e2el == pytest.approx(1.1)
    assert r.tpot == pytest.approx(0.6 / 3)  # the first token excluded


def test_tpot_uses_the_token_count_not_the_chunk_count():
    r = trace(0.0, [1.0, 2.0], tokens=5)  # a chunk carried several tokens
    assert r.tpot == pytest.approx(1.0 / 4)
    assert r.itls == [1.0]  # ITL stays per chunk, as vLLM's benchmark measures it


def test_one_token_has_no_tpot_and_no_itl():
    r = trace(0.0, [0.25])
    assert r.tpot is None and r.itls == [] and r.ttft == r.e2el == 0.25


def test_summary_throughputs_and_percentiles():
    records = [trace(0.0, [1.0, 1.5, 2.0]), trace(0.0, [2.0, 2.5, 3.0, 3.5, 4.0]),
               trace(0.0, [], ok=False, tokens=0)]  # fmt: skip
    s = summarize(records, duration=4.0, percentiles=(50, 99))
    assert (s["completed"], s["failed"]) == (2, 1)
    assert s["total_output_tokens"] == 8 and s["total_input_tokens"] == 20
    assert s["request_throughput"] == 0.5 and s["output_throughput"] == 2.0
    assert s["total_token_throughput"] == 7.0
    assert s["median_ttft_ms"] == pytest.approx(1500.0)  # (1000 + 2000) / 2
    assert s["p99_ttft_ms"] == pytest.approx(1990.0)  # linear interpolation
    assert s["mean_tpot_ms"] == pytest.approx(500.0)
    assert s["median_itl_ms"] == pytest.approx(500.0)
    assert s["mean_e2el_ms"] == pytest.approx(3000.0)
    assert s["peak_output_throughput"] == 3  # 2.0, 2.0, 2.5 land in second [2, 3)


def test_percentile_matches_numpy_and_handles_empty():
    values = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0]
    assert percentile(values, 90) == np.percentile(values, 90)
    assert math.isnan(percentile([], 50))


def test_goodput_counts_requests_that_meet_every_slo():
    fast = trace(0.0, [0.2, 0.3, 0.4])  # TTFT 200 ms, TPOT 100 ms
    slow_start = trace(0.0, [0.9, 1.0])  # TTFT 900 ms
    slow_tokens = trace(0.0, [0.1, 0.5, 0.9])  # TPOT 400 ms
    slo = SLO.parse("ttft:500 tpot:150")
    assert [slo.met_by(r) for r in (fast, slow_start, slow_tokens)] == [True, False, False]
    assert summarize([fast, slow_start, slow_tokens], 2.0, slo=slo)["goodput"] == 0.5
    assert SLO.parse("e2el:1000").met_by(slow_start) and not SLO.parse("e2el:800").met_by(slow_start)
    with pytest.raises(ValueError, match="ttft:MS"):
        SLO.parse("latency:5")


def test_arrival_times_poisson_rate_and_infinite_rate():
    assert arrival_times(4, math.inf) == [0.0] * 4
    times = arrival_times(2000, rate=5.0, seed=1)
    assert times[-1] == pytest.approx(2000 / 5.0)  # scaled as vLLM scales them
    gaps = np.diff(times)
    assert (gaps >= 0).all()
    assert np.std(gaps) / np.mean(gaps) == pytest.approx(1.0, abs=0.1)  # exponential: CV 1
    bursty = np.diff(arrival_times(2000, rate=5.0, burstiness=0.25, seed=1))
    assert np.std(bursty) / np.mean(bursty) > 1.5  # gamma shape 0.25: CV 2
    with pytest.raises(ValueError):
        arrival_times(3, rate=0)


def test_compare_reports_relative_difference():
    rows = compare({"a": 110.0, "b": 1.0}, {"a": 100.0}, ["a", "b"])
    assert rows == [{"metric": "a", "course": 110.0, "vllm": 100.0, "diff": pytest.approx(0.1)}]


def test_tail_says_max_when_a_run_has_too_few_requests_for_a_p99():
    summary = summarize([trace(0.0, [t, t + 0.1]) for t in np.linspace(0.1, 3.2, 32)], 4.0)
    assert tail(summary, "ttft", 32, 1) == ("p99", summary["p99_ttft_ms"])
    assert tail(summary, "ttft", 32, 8) == ("max", pytest.approx(3200))  # 4 per slot: the slowest
    assert tail(summary, "ttft", 40, 8)[0] == "p99"  # 5 per slot


def test_highest_rate_meeting_stops_at_the_first_miss():
    assert highest_rate_meeting([1, 2, 4, 8], [1.0, 0.95, 0.5, 0.92]) == 2  # 8 is past a miss
    assert highest_rate_meeting([4, 1, 2], [0.9, 1.0, 1.0]) == 4  # order of the sweep does not matter
    assert highest_rate_meeting([1, 2], [0.8, 1.0]) is None


def test_server_flags_are_read_in_every_spelling():
    argv = ["python", "-m", "vllm.entrypoints.openai.api_server", "--port", "8103", "--max_num_seqs=8",
            "--max-num-batched-tokens", "512"]
    assert server_limits._flag(argv, "port") == 8103
    assert server_limits._flag(argv, "max-num-seqs") == 8
    assert server_limits._flag(argv, "max-num-batched-tokens") == 512
    assert server_limits._flag(argv, "tensor-parallel-size") is None
