"""What one machine serves a class: the highest request rate at which lesson 10's SLO
still holds, measured through the class gateway, and how many learners that carries.

The sweep is lesson 10's goodput experiment: Poisson arrivals at rising rates, each
rate a fresh run, stopping at the first rate where fewer than 90% of the requests met
the SLO (a higher rate only queues more). The learners a rate carries depend on how
often a learner sends a request, which the instructor knows better than the course:
the report gives it for a few paces, and ``learners`` for any.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from .load import LoadSpec, run
from .metrics import SLO, highest_rate_meeting

#: Lesson 10's SLO for a chat app: first token within 1 s, then at most 100 ms a token.
LESSON_10_SLO = SLO(ttft_ms=1000, tpot_ms=100)
TARGET = 0.9  # the share of requests that must meet the SLO at a rate
#: Seconds between two requests of one learner: working through a lesson cell by cell,
#: reading in between; the worst case is everyone pressing "Run All" at once.
PACES_S = (10, 30, 60)


@dataclass
class Capacity:
    """The fraction of requests meeting the SLO at each rate tried, and the best rate."""

    spec: LoadSpec
    slo: SLO
    met: dict[float, float]
    through: str  # "gateway" or "direct"

    @property
    def best_rate(self) -> float | None:
        return highest_rate_meeting(list(self.met), list(self.met.values()), TARGET)

    def learners(self, pace_s: float) -> int:
        """Learners sending one request every ``pace_s`` seconds that the best rate carries."""
        return math.floor((self.best_rate or 0.0) * pace_s)

    def to_dict(self) -> dict:
        return {"engine_url": self.spec.base_url, "through": self.through, "model": self.spec.model,
                "input_len": self.spec.input_len, "output_len": self.spec.output_len,
                "num_prompts": self.spec.num_prompts, "slo": vars(self.slo), "target": TARGET,
                "met": {str(rate): fraction for rate, fraction in self.met.items()},
                "best_rate": self.best_rate,
                "learners": {str(pace): self.learners(pace) for pace in PACES_S}}  # fmt: skip


def sweep(spec: LoadSpec, rates: Sequence[float], slo: SLO = LESSON_10_SLO, *, headers: dict | None = None,
          through: str = "direct", report: Callable[[float, float], None] | None = None) -> Capacity:
    """Run ``spec`` at each rate (requests/s, ascending) until one misses the SLO."""
    met: dict[float, float] = {}
    for number, rate in enumerate(sorted(rates)):
        result = run(replace(spec, max_concurrency=None, request_rate=rate, seed=spec.seed + number),
                     slo=slo, progress=False, warn_if_busy=number == 0, headers=headers or {})  # fmt: skip
        met[rate] = sum(slo.met_by(record) for record in result.records) / len(result.records)
        if report:
            report(rate, met[rate])
        if met[rate] < TARGET:
            break
    return Capacity(spec, slo, met, through)
