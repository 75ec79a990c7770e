"""Serving metrics exactly as vLLM's serving benchmark defines them (``vllm bench serve``).

Pure functions over what a client saw: when it sent a request and when each content
chunk arrived. Nothing here talks to an engine, so the definitions can be checked
on hand-computed traces:

- TTFT: send → first content chunk.
- ITL: the gaps between content chunks (per chunk, which is per token when the
  engine streams one token per chunk, as both engines here do).
- TPOT: (E2EL − TTFT) / (output tokens − 1); the first token is excluded, and a
  1-token reply has no TPOT.
- E2EL: send → last chunk.
- Throughputs divide by the run's wall time; goodput counts only the requests that
  met every SLO (DistServe's definition, as vLLM uses it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

PERCENTILE_METRICS = ("ttft", "tpot", "itl", "e2el")


@dataclass
class RequestRecord:
    """One request as the client saw it (times in seconds, ``time.perf_counter``)."""

    sent: float
    chunk_times: list[float] = field(default_factory=list)  # content chunks only
    output_tokens: int = 0
    input_tokens: int = 0
    ok: bool = False
    error: str = ""

    @property
    def ttft(self) -> float | None:
        return self.chunk_times[0] - self.sent if self.chunk_times else None

    @property
    def e2el(self) -> float | None:
        return self.chunk_times[-1] - self.sent if self.chunk_times else None

    @property
    def itls(self) -> list[float]:
        return [b - a for a, b in zip(self.chunk_times, self.chunk_times[1:])]

    @property
    def tpot(self) -> float | None:
        """Mean time per output token after the first; None for 0 or 1 tokens."""
        if self.output_tokens < 2 or not self.chunk_times:
            return None
        return (self.e2el - self.ttft) / (self.output_tokens - 1)


@dataclass(frozen=True)
class SLO:
    """Service-level objectives in milliseconds; None means no limit on that metric."""

    ttft_ms: float | None = None
    tpot_ms: float | None = None
    e2el_ms: float | None = None

    @classmethod
    def parse(cls, text: str) -> SLO:
        """``"ttft:500 tpot:50"`` (vLLM's ``--goodput`` syntax) → SLO."""
        limits = {}
        for item in text.replace(",", " ").split():
            name, _, value = item.partition(":")
            if name not in ("ttft", "tpot", "e2el") or not value:
                raise ValueError(f"goodput SLO {item!r}: expected ttft:MS, tpot:MS or e2el:MS")
            limits[f"{name}_ms"] = float(value)
        return cls(**limits)

    def met_by(self, record: RequestRecord) -> bool:
        """True when the request succeeded and met every limit (no TPOT counts as 0)."""
        if not record.ok:
            return False
        values = {"ttft_ms": record.ttft, "tpot_ms": record.tpot or 0.0, "e2el_ms": record.e2el}
        return all(
            limit is None or (values[name] is not None and values[name] * 1000 <= limit)
            for name, limit in vars(self).items()
        )


def percentile(values: Sequence[float], p: float) -> float:
    """NumPy's linear-interpolation percentile, as vLLM prints it; NaN when empty."""
    return float(np.percentile(values, p)) if len(values) else math.nan


def summarize(
    records: Sequence[RequestRecord],
    duration: float,
    percentiles: Sequence[float] = (50, 90, 99),
    slo: SLO | None = None,
) -> dict[str, float]:
    """The benchmark's summary: counts, throughputs, and mean/median/std/pN of each metric in ms."""
    done = [r for r in records if r.ok]
    out_tokens = sum(r.output_tokens for r in done)
    in_tokens = sum(r.input_tokens for r in done)
    summary: dict[str, float] = {
        "completed": len(done),
        "failed": len(records) - len(done),
        "duration_s": duration,
        "total_input_tokens": in_tokens,
        "total_output_tokens": out_tokens,
        "request_throughput": len(done) / duration,
        "output_throughput": out_tokens / duration,
        "total_token_throughput": (in_tokens + out_tokens) / duration,
        "peak_output_throughput": peak_output_throughput(done),
    }
    if slo is not None:
        summary["goodput"] = sum(slo.met_by(r) for r in done) / duration
    series = {
        "ttft": [r.ttft for r in done if r.ttft is not None],
        "tpot": [r.tpot for r in done if r.tpot is not None],
        "itl": [gap for r in done for gap in r.itls],
        "e2el": [r.e2el for r in done if r.e2el is not None],
    }
    for name, values in series.items():
        ms = np.asarray(values, dtype=float) * 1000
        summary[f"mean_{name}_ms"] = float(ms.mean()) if ms.size else math.nan
        summary[f"median_{name}_ms"] = percentile(ms, 50)
        summary[f"std_{name}_ms"] = float(ms.std()) if ms.size else math.nan
        summary[f"max_{name}_ms"] = float(ms.max()) if ms.size else math.nan
        for p in percentiles:
            summary[f"p{p:g}_{name}_ms"] = percentile(ms, p)
    return summary


TAIL_FACTOR = 5  # a p99 needs at least this many requests per concurrent slot


def tail(summary: dict[str, float], metric: str, requests: int, concurrency: int) -> tuple[str, float]:
    """``("p99", value)`` when the run had at least 5× as many requests as its
    concurrency, else ``("max", value)``.

    With fewer, the requests come in a few waves and "p99" is the slowest request
    under another name (32 requests: p99 sits 0.31 of the way from the 31st to the
    32nd value); say what it is.
    """
    if requests >= TAIL_FACTOR * concurrency:
        return "p99", summary[f"p99_{metric}_ms"]
    return "max", summary[f"max_{metric}_ms"]


def highest_rate_meeting(rates: Sequence[float], met_fractions: Sequence[float], target: float = 0.9) -> float | None:
    """The highest offered rate at which at least ``target`` of the requests met the
    SLO, counting only rates below the first one that missed (DistServe's goodput
    capacity, as a sweep measures it); None when even the lowest missed."""
    best = None
    for rate, met in sorted(zip(rates, met_fractions)):
        if met < target:
            break
        best = rate
    return best


def peak_output_throughput(records: Sequence[RequestRecord]) -> float:
    """Most content chunks (≈ tokens) that arrived in any whole second of the run."""
    times = [t for r in records for t in r.chunk_times]
    if not times:
        return 0.0
    start = min(r.sent for r in records)
    buckets = np.bincount(((np.asarray(times) - start) // 1.0).astype(int))
    return float(buckets.max())


def arrival_times(n: int, rate: float, burstiness: float = 1.0, seed: int = 0) -> list[float]:
    """Send times (s from the start) for n requests at ``rate`` per second.

    As vLLM does it: gaps drawn from a gamma distribution with shape ``burstiness``
    and mean 1/rate, so burstiness 1 is a Poisson process and smaller is burstier;
    then scaled so that the last request goes at exactly n/rate (vLLM's fix for the
    1–2% drift of a random sum). An infinite rate sends everything at t = 0.
    """
    if math.isinf(rate):
        return [0.0] * n
    if rate <= 0 or burstiness <= 0:
        raise ValueError("request rate and burstiness must be positive")
    rng = np.random.default_rng(seed)
    times = np.cumsum(rng.gamma(shape=burstiness, scale=1.0 / (rate * burstiness), size=n))
    return [float(t) for t in times * (n / rate) / times[-1]]


def compare(ours: Mapping[str, float], theirs: Mapping[str, float], keys: Sequence[str]) -> list[dict]:
    """Rows of (metric, ours, theirs, relative difference) for the keys both have."""
    rows = []
    for key in keys:
        a, b = ours.get(key), theirs.get(key)
        if a is None or b is None:
            continue
        rows.append({"metric": key, "course": a, "vllm": b, "diff": (a - b) / b if b else math.nan})
    return rows
