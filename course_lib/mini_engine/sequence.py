"""A request as the engine tracks it: its tokens, how many have K/V, its block table.

``num_computed_tokens`` is how far the model has gone through ``token_ids``; the gap
is what the next step must compute (a whole or chunked prompt, or the one token
sampled last step). Taught in notebook 05.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from enum import Enum

_ids = itertools.count()


class Status(Enum):
    WAITING = "waiting"
    RUNNING = "running"
    FINISHED = "finished"


@dataclass(eq=False)
class Sequence:
    """One request (compared by identity, so it can key the scheduler's dicts)."""

    token_ids: list[int]
    max_tokens: int
    arrival_step: int = 0
    eos_token_id: int | None = None
    seq_id: int = field(default_factory=lambda: next(_ids))
    num_prompt_tokens: int = 0
    num_computed_tokens: int = 0
    block_table: list[int] = field(default_factory=list)
    block_hashes: list[bytes] = field(default_factory=list)
    status: Status = Status.WAITING
    num_preemptions: int = 0
    first_token_step: int | None = None
    finish_step: int | None = None

    def __post_init__(self) -> None:
        self.token_ids = list(self.token_ids)
        self.num_prompt_tokens = self.num_prompt_tokens or len(self.token_ids)

    @property
    def num_tokens(self) -> int:
        return len(self.token_ids)

    @property
    def output_ids(self) -> list[int]:
        return self.token_ids[self.num_prompt_tokens :]

    @property
    def num_uncomputed_tokens(self) -> int:
        return self.num_tokens - self.num_computed_tokens

    def append_token(self, token_id: int, step: int) -> None:
        self.token_ids.append(token_id)
        if self.first_token_step is None:
            self.first_token_step = step
        if len(self.output_ids) >= self.max_tokens or token_id == self.eos_token_id:
            self.status, self.finish_step = Status.FINISHED, step
