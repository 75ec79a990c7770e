"""Right and plausible wrong answers for exercise 10_benchmarks (see __init__)."""

from __future__ import annotations

import json
import time

import requests

from .marks import caught_publicly


# --- 10 q1: metrics from token timestamps -------------------------------------------------


def metrics_right(sent, token_times):
    if not token_times:
        raise ValueError("no token")
    ttft, e2el = token_times[0] - sent, token_times[-1] - sent
    itl = [b - a for a, b in zip(token_times, token_times[1:])]
    tpot = (e2el - ttft) / (len(token_times) - 1) if len(token_times) > 1 else None
    return {"ttft": ttft, "itl": itl, "e2el": e2el, "tpot": tpot}


@caught_publicly
def metrics_tpot_with_first(sent, token_times):
    """Divides the whole latency by every token: the prefill leaks into TPOT."""
    result = metrics_right(sent, token_times)
    return {**result, "tpot": result["e2el"] / len(token_times)}


@caught_publicly
def metrics_tpot_divided_by_n(sent, token_times):
    """Divides the decode time by every token instead of the n − 1 gaps."""
    result = metrics_right(sent, token_times)
    return {**result, "tpot": (result["e2el"] - result["ttft"]) / len(token_times)}


def metrics_itl_from_send(sent, token_times):
    """Counts the send → first token gap as an ITL too."""
    result = metrics_right(sent, token_times)
    return {**result, "itl": [token_times[0] - sent, *result["itl"]]}


def metrics_empty_is_zero(sent, token_times):
    if not token_times:
        return {"ttft": 0.0, "itl": [], "e2el": 0.0, "tpot": None}
    return metrics_right(sent, token_times)


# --- 10 q2: percentiles -------------------------------------------------------------------


def percentile_right(values, p):
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * p / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def percentile_nearest_rank(values, p):
    ordered = sorted(values)
    return ordered[round((len(ordered) - 1) * p / 100)]


def percentile_n_not_n_minus_1(values, p):
    ordered = sorted(values)
    position = min(len(ordered) * p / 100, len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@caught_publicly
def percentile_unsorted(values, p):
    position = (len(values) - 1) * p / 100
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


# --- 10 q3: throughput --------------------------------------------------------------------


def throughput_right(requests):
    duration = max(f for _, f, _ in requests) - min(s for s, _, _ in requests)
    return len(requests) / duration, sum(n for _, _, n in requests) / duration


def throughput_summed_latencies(requests):
    duration = sum(f - s for s, f, _ in requests)
    return len(requests) / duration, sum(n for _, _, n in requests) / duration


def throughput_list_order(requests):
    """Takes the first request as the earliest and the last as the latest."""
    duration = requests[-1][1] - requests[0][0]
    return len(requests) / duration, sum(n for _, _, n in requests) / duration


# --- 10 q4: bounded concurrency -----------------------------------------------------------


def bounded_right(fn, items, max_concurrency):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max_concurrency) as pool:
        return list(pool.map(fn, items))


@caught_publicly
def bounded_plain_loop(fn, items, max_concurrency):
    """One call at a time: a loop, not a load generator."""
    return [fn(item) for item in items]


@caught_publicly
def bounded_unbounded(fn, items, max_concurrency):
    return bounded_right(fn, items, len(items))


def bounded_in_waves(fn, items, max_concurrency):
    """Starts N, waits for all N, starts the next N: not a closed loop."""
    results = []
    for i in range(0, len(items), max_concurrency):
        results += bounded_right(fn, items[i : i + max_concurrency], max_concurrency)
    return results


def bounded_completion_order(fn, items, max_concurrency):
    from concurrent.futures import ThreadPoolExecutor, as_completed

    with ThreadPoolExecutor(max_workers=max_concurrency) as pool:
        return [f.result() for f in as_completed([pool.submit(fn, item) for item in items])]


# --- 10 q5: a measured streamed request -----------------------------------------------------


def _measure(base_url, model, prompt, num_predict, stream=True, sent_after_headers=False, raw=True):
    body = {"model": model, "prompt": prompt, "stream": stream, "options": {"num_predict": num_predict}}
    if raw:
        body["raw"] = True
    sent = time.perf_counter()
    times, tokens = [], 0
    with requests.post(f"{base_url}/api/generate", json=body, stream=True, timeout=120) as reply:
        if sent_after_headers:
            sent = time.perf_counter()
        for line in reply.iter_lines():
            if not line:
                continue
            data = json.loads(line)
            if data.get("done"):
                tokens = data.get("eval_count", 0)
            else:
                times.append(time.perf_counter())
    return {**metrics_right(sent, times), "tokens": tokens}


def measure_right(base_url, model, prompt, num_predict):
    return _measure(base_url, model, prompt, num_predict)


@caught_publicly
def measure_no_eval_count(base_url, model, prompt, num_predict):
    """Counts nothing: 'tokens' left at 0."""
    return {**_measure(base_url, model, prompt, num_predict), "tokens": 0}


def measure_not_streamed(base_url, model, prompt, num_predict):
    return _measure(base_url, model, prompt, num_predict, stream=False)


def measure_sent_after_headers(base_url, model, prompt, num_predict):
    return _measure(base_url, model, prompt, num_predict, sent_after_headers=True)


def measure_templated(base_url, model, prompt, num_predict):
    return _measure(base_url, model, prompt, num_predict, raw=False)


# --- 10 q6: pick an engine ----------------------------------------------------------------


def _pick(curves, users, ttft_ms, tpot_ms, row_for, check_slo=True):
    best, best_tput = None, -1.0
    for engine, rows in curves.items():
        row = row_for(rows, users)
        if row is None:
            continue
        meets = row["p99_ttft_ms"] <= ttft_ms and row["median_tpot_ms"] <= tpot_ms
        if (meets or not check_slo) and row["output_throughput"] > best_tput:
            best, best_tput = engine, row["output_throughput"]
    return best


def _smallest_at_least(rows, users):
    above = [r for r in rows if r["concurrency"] >= users]
    return min(above, key=lambda r: r["concurrency"]) if above else None


def pick_right(curves, users, ttft_ms, tpot_ms):
    return _pick(curves, users, ttft_ms, tpot_ms, _smallest_at_least)


@caught_publicly
def pick_ignores_slo(curves, users, ttft_ms, tpot_ms):
    return _pick(curves, users, ttft_ms, tpot_ms, _smallest_at_least, check_slo=False)


def pick_nearest_below(curves, users, ttft_ms, tpot_ms):
    """Uses the closest measured row even below `users` (extrapolating from fewer users)."""
    return _pick(curves, users, ttft_ms, tpot_ms, lambda rows, u: min(rows, key=lambda r: abs(r["concurrency"] - u)))


def pick_first_row_above(curves, users, ttft_ms, tpot_ms):
    """Takes the first row ≥ users in list order, assuming rows are sorted."""
    return _pick(curves, users, ttft_ms, tpot_ms, lambda rows, u: next((r for r in rows if r["concurrency"] >= u), None))


# --- 10 q7: predict the queue of a one-slot server --------------------------------------------


def predict_right(ttft_alone, e2el_alone, users, slots):
    if users < 1 or slots < 1:
        raise ValueError("users and slots must be at least 1")
    return [ttft_alone + (user // slots) * e2el_alone for user in range(users)]


def predict_ignores_slots(ttft_alone, e2el_alone, users, slots):
    return predict_right(ttft_alone, e2el_alone, users, 1)


@caught_publicly
def predict_waits_ttft(ttft_alone, e2el_alone, users, slots):
    """Each user waits only for the TTFTs ahead of it, not for whole requests."""
    return [ttft_alone * (user // slots + 1) for user in range(users)]


@caught_publicly
def predict_off_by_one(ttft_alone, e2el_alone, users, slots):
    """Makes the first user wait for a request too."""
    return [ttft_alone + (user // slots + 1) * e2el_alone for user in range(users)]


@caught_publicly
def predict_no_queue(ttft_alone, e2el_alone, users, slots):
    return [ttft_alone] * users


def predict_slots_round_robin(ttft_alone, e2el_alone, users, slots):
    """Divides the wait by the slots instead of counting waves."""
    return [ttft_alone + user * e2el_alone / slots for user in range(users)]


def shared(question: str, request) -> dict:
    """q2 onwards may call the learner's q1: the right one."""
    return dict(time=time, request_metrics=metrics_right)

CASES = {
    ("10_benchmarks", "q1"): ("request_metrics", metrics_right,
                              [metrics_tpot_with_first, metrics_tpot_divided_by_n, metrics_itl_from_send,
                               metrics_empty_is_zero]),
    ("10_benchmarks", "q2"): ("percentile", percentile_right,
                              [percentile_nearest_rank, percentile_n_not_n_minus_1, percentile_unsorted]),
    ("10_benchmarks", "q3"): ("throughput", throughput_right, [throughput_summed_latencies, throughput_list_order]),
    ("10_benchmarks", "q4"): ("run_bounded", bounded_right,
                              [bounded_plain_loop, bounded_unbounded, bounded_in_waves, bounded_completion_order]),
    ("10_benchmarks", "q5"): ("measure_request", measure_right,
                              [measure_no_eval_count, measure_not_streamed, measure_sent_after_headers,
                               measure_templated]),
    ("10_benchmarks", "q6"): ("pick_engine", pick_right,
                              [pick_ignores_slo, pick_nearest_below, pick_first_row_above]),
    ("10_benchmarks", "q7"): ("predict_ttfts", predict_right,
                              [predict_ignores_slots, predict_waits_ttft, predict_off_by_one, predict_no_queue,
                               predict_slots_round_robin]),
}
