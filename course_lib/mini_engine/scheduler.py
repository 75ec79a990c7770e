"""Which sequences advance by how many tokens in the next step.

Iteration-level scheduling, as vLLM V1 does it (``vllm/v1/core/sched/scheduler.py``):
at every step, first the running sequences (a decode needs 1 token; an unfinished
prompt continues by a chunk), then waiting ones in arrival order (FCFS), all within
a budget of ``max_num_batched_tokens`` tokens and ``max_num_seqs`` sequences. A
prompt longer than what is left of the budget is cut into chunks (chunked prefill).
When the KV-cache manager has no block left for a running sequence, the last one
admitted is preempted: its blocks are freed and it waits to be recomputed from its
first token. ``policy="static"`` is the baseline: a batch is admitted only when the
previous one has wholly finished (request-level batching). Taught in notebook 05.
"""

from __future__ import annotations

from collections import deque

from .block_manager import BlockManager
from .sequence import Sequence, Status


class Scheduler:
    def __init__(self, block_manager: BlockManager, max_num_seqs: int = 8, max_num_batched_tokens: int = 256,
                 enable_chunked_prefill: bool = True, policy: str = "iteration") -> None:  # fmt: skip
        if policy not in ("iteration", "static"):
            raise ValueError(f"policy must be 'iteration' or 'static', not {policy!r}")
        self.block_manager, self.policy = block_manager, policy
        self.max_num_seqs, self.max_num_batched_tokens = max_num_seqs, max_num_batched_tokens
        self.enable_chunked_prefill = enable_chunked_prefill
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []
        self.num_preemptions = 0

    def add(self, seq: Sequence) -> None:
        self.waiting.append(seq)

    def has_work(self) -> bool:
        return bool(self.waiting or self.running)

    def schedule(self) -> dict[Sequence, int]:
        """{sequence: tokens to compute this step}, running ones first."""
        budget, scheduled, preempted = self._budget(), {}, False
        for seq in list(self.running):
            if budget <= 0 or seq not in self.running:
                continue
            n = min(seq.num_uncomputed_tokens, budget)
            while not self.block_manager.allocate_slots(seq, n):
                preempted = True
                victim = self.running[-1]
                self.preempt(victim)
                if victim is seq:
                    break
            else:
                scheduled[seq], budget = n, budget - n
        if preempted or (self.policy == "static" and self.running):
            return scheduled
        while self.waiting and budget > 0 and len(self.running) < self.max_num_seqs:
            seq = self.waiting[0]
            cached = self.block_manager.match_prefix(seq.token_ids)
            n = seq.num_uncomputed_tokens - len(cached) * self.block_manager.block_size
            if n > budget and not self.enable_chunked_prefill:
                break
            n = min(n, budget)
            if not self.block_manager.allocate_slots(seq, n, cached):
                break
            self.waiting.popleft()
            seq.status = Status.RUNNING
            self.running.append(seq)
            scheduled[seq], budget = n, budget - n
        return scheduled

    def _budget(self) -> int:
        """Static batching has no per-step token budget: a batch's prompts run whole."""
        return self.max_num_batched_tokens if self.policy == "iteration" else 1 << 62

    def preempt(self, seq: Sequence) -> None:
        """Recompute, vLLM V1's only mode: drop the K/V, queue first, start over later."""
        self.running.remove(seq)
        self.block_manager.free(seq)
        seq.status = Status.WAITING
        seq.num_preemptions += 1
        self.num_preemptions += 1
        self.waiting.appendleft(seq)

    def postprocess(self, scheduled: dict[Sequence, int], next_tokens: dict[Sequence, int], step: int) -> list[Sequence]:
        """Record computed tokens and sampled ones; retire finished sequences."""
        finished = []
        for seq, n in scheduled.items():
            seq.num_computed_tokens += n
            self.block_manager.cache_full_blocks(seq)
            if seq in next_tokens:
                seq.append_token(next_tokens[seq], step)
            if seq.status is Status.FINISHED:
                self.block_manager.free(seq)
                self.running.remove(seq)
                finished.append(seq)
        return finished
