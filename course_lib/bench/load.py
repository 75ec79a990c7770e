"""The load generator: many streamed requests at a concurrency or a request rate.

The load is shaped as ``vllm bench serve`` shapes it. Requests are released at
arrival times (all at t=0 for an infinite rate, else gamma gaps; Poisson at
burstiness 1), and at most ``max_concurrency`` are in flight. A request waiting for
a free slot has not been sent, so its TTFT does not include that wait. Warm-up
requests run first and are not counted. One worker thread per slot, each with its
own keep-alive connection.
"""

from __future__ import annotations

import csv
import json
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import requests
from tqdm.auto import tqdm

from . import busy, clients, prompts
from .metrics import SLO, RequestRecord, arrival_times, summarize


@dataclass(frozen=True)
class LoadSpec:
    """One benchmark run: where, what, and how hard."""

    backend: str  # "openai" (vLLM, /v1/completions) or "ollama" (/api/generate)
    base_url: str  # http://host:8000/v1 for openai, http://host:11434 for ollama
    model: str
    input_len: int = 128
    output_len: int = 64
    num_prompts: int = 32
    max_concurrency: int | None = 8  # None: no cap (every request in flight at once)
    request_rate: float = math.inf  # requests per second; inf sends all at t=0
    burstiness: float = 1.0
    warmups: int = 1
    seed: int = 0
    ignore_eos: bool = True  # openai only: vLLM's way to get exactly output_len tokens


@dataclass
class BenchResult:
    """What one run measured: its spec, every request, and the summary."""

    spec: LoadSpec
    records: list[RequestRecord]
    duration: float
    summary: dict[str, float] = field(default_factory=dict)

    def row(self) -> dict:
        """The spec and summary flattened into one CSV/DataFrame row."""
        return {**asdict(self.spec), **self.summary}

    def to_json(self, path: Path | str) -> None:
        data = {"spec": asdict(self.spec), "summary": self.summary,
                "requests": [asdict(r) for r in self.records]}  # fmt: skip
        Path(path).write_text(json.dumps(data, indent=1, default=str))


def run(
    spec: LoadSpec,
    slo: SLO | None = None,
    progress: bool = True,
    warn_if_busy: bool = True,
    prompt_texts: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> BenchResult:
    """Send ``spec.num_prompts`` fixed-length prompts and measure every request.

    ``headers`` go with every request (a gateway's key), kept out of the spec so that
    no secret is written with the results."""
    texts = prompt_texts or prompts.fixed_length_prompts(spec.num_prompts + spec.warmups, spec.input_len, spec.seed)
    warm, timed = texts[: spec.warmups], texts[spec.warmups :][: spec.num_prompts]
    send = clients.request_function(spec.backend, spec.base_url, spec.model, spec.ignore_eos)
    if warn_if_busy:
        busy.warn_if_cpu_busy()
    local = threading.local()

    def one(text: str) -> RequestRecord:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.headers.update(headers or {})
        return send(local.session, text, spec.input_len, spec.output_len)

    slots = spec.max_concurrency or len(timed)
    with ThreadPoolExecutor(max(1, slots)) as pool:
        for record in pool.map(one, warm):
            if not record.ok:
                raise RuntimeError(f"warm-up request to {spec.base_url} failed: {record.error}")
        bar = tqdm(total=len(timed), desc=f"{spec.backend} c={spec.max_concurrency or '∞'}",
                   unit="req", disable=not progress, leave=False)  # fmt: skip
        start = time.perf_counter()
        futures = []
        for text, at in zip(timed, arrival_times(len(timed), spec.request_rate, spec.burstiness, spec.seed)):
            delay = start + at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            future = pool.submit(one, text)
            future.add_done_callback(lambda _: bar.update(1))
            futures.append(future)
        records = [f.result() for f in futures]
        duration = time.perf_counter() - start
        bar.close()
    return BenchResult(spec, records, duration, summarize(records, duration, slo=slo))


def sweep(spec: LoadSpec, concurrencies: list[int], slo: SLO | None = None, progress: bool = True) -> list[BenchResult]:
    """The same load at each concurrency; the prompts differ between runs (new seed)."""
    results = []
    for i, c in enumerate(tqdm(concurrencies, desc="sweep", unit="run", disable=not progress)):
        results.append(run(replace(spec, max_concurrency=c, seed=spec.seed + i), slo, progress, warn_if_busy=i == 0))
    return results


def write_csv(results: list[BenchResult], path: Path | str) -> None:
    """One row per run: the spec's fields, then the summary's."""
    rows = [r.row() for r in results]
    with open(path, "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
