"""The engine loop: schedule, run one batched forward pass, sample, retire; repeat.

``step()`` is the whole of it. Requests carry an ``arrival_step`` so a trace can be
replayed: a request joins the waiting queue at that step. Every step is recorded in
``timeline`` ({seq_id: tokens computed}) for the lesson's plots. Sampling is greedy
(temperature 0): this engine is for reading and measuring the mechanisms, not for
serving. Taught in notebook 05.
"""

from __future__ import annotations

import time

import numpy as np

from .block_manager import BlockManager
from .kv_cache import ContiguousKV, KVPool
from .model import Model
from .scheduler import Scheduler
from .sequence import Sequence


class Engine:
    def __init__(self, model: Model, num_blocks: int = 256, block_size: int = 16, max_num_seqs: int = 8,
                 max_num_batched_tokens: int = 256, enable_prefix_caching: bool = True,
                 enable_chunked_prefill: bool = True, policy: str = "iteration") -> None:  # fmt: skip
        self.model = model
        self.pool = KVPool(model.config, num_blocks, block_size)
        self.block_manager = BlockManager(num_blocks, block_size, enable_prefix_caching)
        self.scheduler = Scheduler(self.block_manager, max_num_seqs, max_num_batched_tokens,
                                   enable_chunked_prefill, policy)  # fmt: skip
        self.pending: list[Sequence] = []  # not arrived yet
        self.timeline: list[dict[int, int]] = []
        self.step_seconds: list[float] = []

    def add_request(self, prompt_ids: list[int], max_tokens: int, arrival_step: int = 0) -> Sequence:
        seq = Sequence(prompt_ids, max_tokens, arrival_step, self.model.config.eos_token_id)
        self.pending.append(seq)
        return seq

    def step(self) -> list[Sequence]:
        """One iteration; returns the sequences that finished in it."""
        now = len(self.timeline)
        for seq in [s for s in self.pending if s.arrival_step <= now]:
            self.pending.remove(seq)
            self.scheduler.add(seq)
        start = time.perf_counter()
        scheduled = self.scheduler.schedule()
        for src, dst in self.block_manager.copies:
            self.pool.copy_block(src, dst)
        self.block_manager.copies.clear()
        segments = [(seq.token_ids[seq.num_computed_tokens : seq.num_computed_tokens + n],
                     self.pool.view(seq.block_table, seq.num_computed_tokens)) for seq, n in scheduled.items()]  # fmt: skip
        logits = self.model.forward_batch(segments, last_only=True) if segments else []
        next_tokens = {seq: int(np.argmax(row[-1])) for (seq, n), row in zip(scheduled.items(), logits)
                       if seq.num_computed_tokens + n == seq.num_tokens}  # fmt: skip
        finished = self.scheduler.postprocess(scheduled, next_tokens, now)
        self.step_seconds.append(time.perf_counter() - start)
        self.timeline.append({seq.seq_id: n for seq, n in scheduled.items()})
        return finished

    def run(self) -> None:
        """Step until every request, arrived or still to come, has finished."""
        while self.pending or self.scheduler.has_work():
            self.step()

    def generate(self, prompts: list[list[int]], max_tokens: int) -> list[list[int]]:
        """Greedy output token ids for each prompt, all batched together."""
        seqs = [self.add_request(p, max_tokens) for p in prompts]
        self.run()
        return [seq.output_ids for seq in seqs]


def greedy(model: Model, prompt_ids: list[int], max_tokens: int, use_cache: bool = True) -> list[int]:
    """One sequence, greedy. With the KV cache, each step computes only the new token;
    without it, each step recomputes the whole sequence from scratch."""
    tokens = list(prompt_ids)
    cache = ContiguousKV(model.config, len(tokens) + max_tokens)
    for _ in range(max_tokens):
        if use_cache:
            logits = model.forward(tokens[cache.length :], cache)
        else:
            logits = model.forward(tokens, ContiguousKV(model.config, len(tokens)))
        tokens.append(int(np.argmax(logits[-1])))
        if tokens[-1] == model.config.eos_token_id:
            break
    return tokens[len(prompt_ids) :]
