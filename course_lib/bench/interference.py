"""Prefill–decode interference, measured: long prompts arrive while streams decode.

A few streams decode steadily; then, while they run, requests with long prompts
arrive. An engine that schedules a long prefill into the running batch makes every
stream wait for that step, so the streams' inter-token latency (ITL) spikes while
their mean time per output token (TPOT) barely moves. That gap between a mean and a
tail is why vLLM's benchmark reports ITL percentiles, and what chunked prefill
(Sarathi-Serve, OSDI'24) and disaggregated prefill (DistServe, OSDI'24) address.
The same streams run once without the long prompts, as the baseline.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import requests

from . import clients, prompts
from .metrics import RequestRecord, percentile


@dataclass
class InterferenceRun:
    """The streams of one run, and when each long prompt was sent and got its first token."""

    streams: list[RequestRecord]
    injected: list[RequestRecord] = field(default_factory=list)

    def itls_ms(self) -> np.ndarray:
        return np.asarray([gap for r in self.streams for gap in r.itls]) * 1000

    def summary(self) -> dict[str, float]:
        """Mean TPOT against the ITL distribution of the streams, in ms."""
        itls = self.itls_ms()
        return {"mean_tpot_ms": float(np.mean([r.tpot for r in self.streams if r.tpot]) * 1000),
                "median_itl_ms": percentile(itls, 50), "p99_itl_ms": percentile(itls, 99),
                "max_itl_ms": float(itls.max()), "itls": len(itls)}  # fmt: skip


def run(
    base_url: str,
    model: str,
    streams: int = 4,
    output_len: int = 128,
    inject: int = 3,
    inject_len: int = 1500,
    first_after: float = 1.0,
    gap: float = 1.0,
    seed: int = 0,
) -> InterferenceRun:
    """``streams`` streamed completions of ``output_len`` tokens; with ``inject`` > 0,
    one request with an ``inject_len``-token prompt (1 output token) is sent
    ``first_after`` seconds after the streams start, then one every ``gap`` seconds."""
    send = clients.openai_completion(base_url, model, ignore_eos=True)
    short = prompts.fixed_length_prompts(streams, 32, seed)
    long = prompts.fixed_length_prompts(max(inject, 1), inject_len, seed + 1)
    local = threading.local()

    def one(prompt: str, input_len: int, out: int) -> RequestRecord:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        record = send(local.session, prompt, input_len, out)
        if not record.ok:
            raise RuntimeError(f"request to {base_url} failed: {record.error}")
        return record

    with ThreadPoolExecutor(streams + max(inject, 1)) as pool:
        running = [pool.submit(one, p, 32, output_len) for p in short]
        injected = []
        for i in range(inject):
            time.sleep(first_after if i == 0 else gap)
            injected.append(pool.submit(one, long[i], inject_len, 1))
        return InterferenceRun([f.result() for f in running], [f.result() for f in injected])
