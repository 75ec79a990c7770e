"""Right and plausible wrong answers for exercise 05_inside_the_engine (see __init__)."""

from __future__ import annotations

from .marks import caught_publicly

# --- 05 q1: a KV-cache manager with copy-on-write ------------------------------------------


class BlocksRight:
    def __init__(self, num_blocks, block_size):
        self.block_size, self.free_ids, self.refs = block_size, list(range(num_blocks)), [0] * num_blocks
        self.tables, self.tokens = {}, {}

    def num_free(self):
        return len(self.free_ids)

    def table(self, seq_id):
        return list(self.tables[seq_id])

    def ref_count(self, block_id):
        return self.refs[block_id]

    def blocks_for(self, num_tokens):
        return -(-num_tokens // self.block_size)

    def _take(self):
        block = self.free_ids.pop(0)
        self.refs[block] = 1
        return block

    def _release(self, block):
        self.refs[block] -= 1
        if self.refs[block] == 0:
            self.free_ids.append(block)

    def allocate(self, seq_id, num_tokens):
        need = self.blocks_for(num_tokens)
        if need > len(self.free_ids):
            return False
        self.tables[seq_id], self.tokens[seq_id] = [self._take() for _ in range(need)], num_tokens
        return True

    def last_is_full(self, used):
        return used % self.block_size == 0

    def append_token(self, seq_id):
        table, used = self.tables[seq_id], self.tokens[seq_id]
        full, shared = self.last_is_full(used), self.refs[table[-1]] > 1
        if (full or shared) and not self.free_ids:
            return False
        if full:
            table.append(self._take())
        elif shared:
            old, table[-1] = table[-1], self._take()
            self._release(old)
        self.tokens[seq_id] = used + 1
        return True

    def fork(self, parent_id, child_id):
        self.tables[child_id], self.tokens[child_id] = list(self.tables[parent_id]), self.tokens[parent_id]
        for block in self.tables[child_id]:
            self.refs[block] += 1

    def free(self, seq_id):
        for block in self.tables.pop(seq_id):
            self._release(block)
        del self.tokens[seq_id]


@caught_publicly
class BlocksOneTooMany(BlocksRight):
    """n // block_size + 1 blocks: one too many when n fills its blocks exactly."""

    def blocks_for(self, num_tokens):
        return num_tokens // self.block_size + 1


@caught_publicly
class BlocksNewBlockOneTokenEarly(BlocksRight):
    def last_is_full(self, used):
        return (used + 1) % self.block_size == 0


@caught_publicly
class BlocksWithoutRefcounts(BlocksRight):
    """A fork copies the table but counts nothing; free returns every block."""

    def fork(self, parent_id, child_id):
        self.tables[child_id], self.tokens[child_id] = list(self.tables[parent_id]), self.tokens[parent_id]

    def free(self, seq_id):
        for block in self.tables.pop(seq_id):
            self.refs[block] = 0
            if block not in self.free_ids:
                self.free_ids.append(block)
        del self.tokens[seq_id]


@caught_publicly
class BlocksWithoutCopyOnWrite(BlocksRight):
    """Writes into a shared, partly filled block: the other sequence's K/V get overwritten."""

    def append_token(self, seq_id):
        used = self.tokens[seq_id]
        if self.last_is_full(used):
            if not self.free_ids:
                return False
            self.tables[seq_id].append(self._take())
        self.tokens[seq_id] = used + 1
        return True


class BlocksCopyEvenWhenFull(BlocksRight):
    """Copies a shared block even when it is full (and then needs a new one as well)."""

    def append_token(self, seq_id):
        table, used = self.tables[seq_id], self.tokens[seq_id]
        if self.refs[table[-1]] > 1:
            if not self.free_ids:
                return False
            old, table[-1] = table[-1], self._take()
            self._release(old)
        if self.last_is_full(used):
            if not self.free_ids:
                return False
            table.append(self._take())
        self.tokens[seq_id] = used + 1
        return True


class BlocksPartialAllocation(BlocksRight):
    """Takes blocks until none is left, then reports failure, keeping what it took."""

    def allocate(self, seq_id, num_tokens):
        self.tables[seq_id], self.tokens[seq_id] = [], num_tokens
        for _ in range(self.blocks_for(num_tokens)):
            if not self.free_ids:
                return False
            self.tables[seq_id].append(self._take())
        return True


# --- 05 q2: one step of iteration-level scheduling ------------------------------------------


def _schedule(running, waiting, budget, max_num_seqs, waiting_first=False, chunk=True, skip=False,
              cap_budget=True, count_running=True):
    plan, admitted = {}, 0

    def run(queue, admitting):
        nonlocal budget, admitted
        for request_id, left in queue:
            if budget <= 0:
                break
            if admitting and (len(running) if count_running else 0) + admitted >= max_num_seqs:
                break
            if left > budget and not chunk:
                if skip:
                    continue
                break
            plan[request_id] = min(left, budget) if cap_budget else left
            budget -= plan[request_id]
            admitted += admitting

    for queue, admitting in ([(waiting, True), (running, False)] if waiting_first else [(running, False), (waiting, True)]):
        run(queue, admitting)
    return plan


def schedule_right(*args, **kwargs):
    return _schedule(*args, **kwargs)


@caught_publicly
def schedule_prefill_first(*args, **kwargs):
    return _schedule(*args, waiting_first=True, **kwargs)


@caught_publicly
def schedule_over_budget(*args, **kwargs):
    return _schedule(*args, cap_budget=False, **kwargs)


@caught_publicly
def schedule_unchunked_skipping(*args, **kwargs):
    return _schedule(*args, chunk=False, skip=True, **kwargs)


def schedule_ignores_running_in_max_num_seqs(*args, **kwargs):
    return _schedule(*args, count_running=False, **kwargs)


# --- 05 q3: bytes per decode step -------------------------------------------------------------


def _bytes(config, batch, context, dtype_bytes, embed_twice=False, weights_per_seq=False, kv_heads=None,
           kv_factor=2, kv=True):
    hidden, heads, head_dim = config["hidden_size"], config["num_attention_heads"], config["head_dim"]
    kv_heads = config[kv_heads or "num_key_value_heads"]
    per_layer = 2 * hidden * heads * head_dim + 2 * hidden * config["num_key_value_heads"] * head_dim
    per_layer += 3 * hidden * config["intermediate_size"]
    weights = config["num_hidden_layers"] * per_layer + config["vocab_size"] * hidden * (2 if embed_twice else 1)
    weights *= batch if weights_per_seq else 1
    cache = batch * context * kv_factor * config["num_hidden_layers"] * kv_heads * head_dim if kv else 0
    return (weights + cache) * dtype_bytes


def bytes_right(*args):
    return _bytes(*args)


@caught_publicly
def bytes_weights_per_sequence(*args):
    return _bytes(*args, weights_per_seq=True)


@caught_publicly
def bytes_embedding_twice(*args):
    return _bytes(*args, embed_twice=True)


@caught_publicly
def bytes_without_kv(*args):
    return _bytes(*args, kv=False)


def bytes_kv_for_every_query_head(*args):
    return _bytes(*args, kv_heads="num_attention_heads")


def bytes_keys_only(*args):
    return _bytes(*args, kv_factor=1)


# --- 05 q5: admission in a fixed memory --------------------------------------------------------


def _admitted(lengths, memory_bytes, kv_bytes, block_size, max_model_len, round_up=True, skip=False, paged_tokens=False):
    tokens, blocks = memory_bytes // kv_bytes, memory_bytes // (kv_bytes * block_size)

    def fifo(costs, capacity):
        used = count = 0
        for cost in costs:
            if used + cost > capacity:
                if skip:
                    continue
                break
            used, count = used + cost, count + 1
        return count

    if paged_tokens:
        paged = fifo(lengths, tokens)
    else:
        paged = fifo([(-(-n // block_size) if round_up else n // block_size) for n in lengths], blocks)
    return {"contiguous_max": fifo([max_model_len] * len(lengths), tokens),
            "contiguous_oracle": fifo(lengths, tokens), "paged": paged}


def admitted_right(*args):
    return _admitted(*args)


@caught_publicly
def admitted_floor_blocks(*args):
    return _admitted(*args, round_up=False)


def admitted_skipping_the_queue(*args):
    return _admitted(*args, skip=True)


def admitted_paged_without_blocks(*args):
    return _admitted(*args, paged_tokens=True)


def shared(question: str, request) -> dict:
    """The names the tests use besides the answer: the model's config, and for q4 the
    bandwidth and the learner's other answers (right ones)."""
    import json
    import time

    import numpy as np

    from course_lib import mini_engine as me
    from course_lib.mini_engine.loader import model_dir

    names = {"SMOLLM2": json.loads((model_dir() / "config.json").read_text()), "np": np, "me": me, "time": time}
    if question == "q4":
        bandwidth = 10e9
        names.update(BANDWIDTH=bandwidth, decode_bytes_per_step=bytes_right,
                     PREDICTED_TOK_S=bandwidth / bytes_right(names["SMOLLM2"], 1, 64, 4))
    return names


CASES = {
    ("05_inside_the_engine", "q1"): ("KVBlocks", BlocksRight, [BlocksOneTooMany, BlocksNewBlockOneTokenEarly,
                                     BlocksWithoutRefcounts, BlocksWithoutCopyOnWrite, BlocksCopyEvenWhenFull,
                                     BlocksPartialAllocation]),
    ("05_inside_the_engine", "q2"): ("schedule_step", schedule_right, [schedule_prefill_first, schedule_over_budget,
                                     schedule_unchunked_skipping, schedule_ignores_running_in_max_num_seqs]),
    ("05_inside_the_engine", "q3"): ("decode_bytes_per_step", bytes_right, [bytes_weights_per_sequence,
                                     bytes_embedding_twice, bytes_without_kv, bytes_kv_for_every_query_head,
                                     bytes_keys_only]),
    ("05_inside_the_engine", "q4"): ("GAP", "A", ["B", "C", "D"]),
    ("05_inside_the_engine", "q5"): ("admitted", admitted_right, [admitted_floor_blocks, admitted_skipping_the_queue,
                                     admitted_paged_without_blocks]),
}
