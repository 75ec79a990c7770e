"""What the class gateway costs: the same load sent to an engine directly and through
the gateway (nginx, the key check, the token-counting filter) with the instructor's
key, which is never rate-limited.

The two sides alternate in rounds within one run (direct then gateway, then gateway
then direct, ...), each round's two sides on the same prompts, so that a drift of the
machine (another program, a warmer cache) falls on both sides alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .load import LoadSpec, run
from .metrics import RequestRecord, summarize

SIDES = ("direct", "gateway")
#: The metrics reported for each side, and compared as gateway / direct.
METRICS = ("median_ttft_ms", "p90_ttft_ms", "median_itl_ms", "output_throughput")


@dataclass
class Overhead:
    """Both sides' requests and summaries, and the ratios gateway / direct."""

    spec: LoadSpec
    rounds: int
    records: dict[str, list[RequestRecord]]
    summaries: dict[str, dict[str, float]]

    @property
    def ratios(self) -> dict[str, float]:
        direct, through = self.summaries["direct"], self.summaries["gateway"]
        return {name: through[name] / direct[name] if direct[name] else math.nan for name in METRICS}

    def to_dict(self) -> dict:
        keep = ("completed", "failed", "total_input_tokens", "total_output_tokens", "duration_s", *METRICS)
        return {"engine_url": self.spec.base_url, "model": self.spec.model, "rounds": self.rounds,
                "num_prompts": self.spec.num_prompts, "max_concurrency": self.spec.max_concurrency,
                "input_len": self.spec.input_len, "output_len": self.spec.output_len,
                **{side: {k: self.summaries[side][k] for k in keep} for side in SIDES},
                "ratios": self.ratios}  # fmt: skip


def gateway_base_url(spec: LoadSpec, gateway_url: str) -> str:
    """The gateway's URL for ``spec``'s engine: its root for Ollama's /api, /v1 for vLLM."""
    return gateway_url.rstrip("/") + ("/v1" if spec.backend == "openai" else "")


def measure(spec: LoadSpec, gateway_url: str, key: str, rounds: int = 4, progress: bool = False,
            warn_if_busy: bool = True) -> Overhead:
    """``rounds`` runs of ``spec`` on each side, interleaved; a round's sides share prompts."""
    through = replace(spec, base_url=gateway_base_url(spec, gateway_url))
    headers = {"direct": {}, "gateway": {"Authorization": f"Bearer {key}"}}
    records: dict[str, list[RequestRecord]] = {side: [] for side in SIDES}
    durations = dict.fromkeys(SIDES, 0.0)
    for number in range(rounds):
        order = SIDES if number % 2 == 0 else SIDES[::-1]
        for side in order:
            side_spec = replace(spec if side == "direct" else through, seed=spec.seed + number)
            result = run(side_spec, progress=progress, warn_if_busy=warn_if_busy and number == 0 and side == order[0], headers=headers[side])
            records[side] += result.records
            durations[side] += result.duration
    summaries = {side: summarize(records[side], durations[side]) for side in SIDES}
    return Overhead(spec, rounds, records, summaries)
