"""The KV-cache manager: a pool of fixed-size blocks, handed out to block tables.

This is the allocator side of vLLM (its ``KVCacheManager`` and ``BlockPool``);
PagedAttention is the attention that reads through the tables it builds. Blocks carry
reference counts, so sequences can share them: a forked sequence (``n > 1``) shares
its parent's blocks and copies a shared block only before writing into it
(copy-on-write); a new prompt shares the full blocks whose tokens, and everything
before them, an earlier request already computed (prefix caching). A full block is
found by a hash chained over its tokens and its parent block's hash, vLLM's scheme
(``vllm/v1/core/kv_cache_utils.py: hash_block_tokens``). Freed blocks keep their hash
until they are handed out again, so later requests can still hit them. Taught in
notebook 05.
"""

from __future__ import annotations

import hashlib
import pickle
from collections import deque
from dataclasses import dataclass

from .sequence import Sequence


def block_hash(parent: bytes | None, token_ids: list[int]) -> bytes:
    """SHA-256 over (parent block's hash, this block's tokens), as vLLM hashes by default."""
    return hashlib.sha256(pickle.dumps((parent, tuple(token_ids)))).digest()


@dataclass
class Block:
    block_id: int
    ref_count: int = 0
    hash: bytes | None = None


class BlockManager:
    def __init__(self, num_blocks: int, block_size: int, enable_prefix_caching: bool = True) -> None:
        self.block_size, self.enable_prefix_caching = block_size, enable_prefix_caching
        self.blocks = [Block(i) for i in range(num_blocks)]
        self.free_ids: deque[int] = deque(range(num_blocks))
        self.cached: dict[bytes, int] = {}  # block hash -> block id
        self.copies: list[tuple[int, int]] = []  # (src, dst) the engine must copy before the step
        self.queried_tokens = self.hit_tokens = 0

    @property
    def num_free(self) -> int:
        return len(self.free_ids)

    def blocks_for(self, num_tokens: int) -> int:
        return -(-num_tokens // self.block_size)

    def match_prefix(self, token_ids: list[int]) -> list[int]:
        """Cached blocks equal to the prompt's leading full blocks (the last token is
        always left to compute: its logits give the first output token)."""
        found, parent = [], None
        size = self.block_size
        for i in range((len(token_ids) - 1) // size if self.enable_prefix_caching else 0):
            parent = block_hash(parent, token_ids[i * size : (i + 1) * size])
            if parent not in self.cached:
                break
            found.append(self.cached[parent])
        return found

    def allocate_slots(self, seq: Sequence, num_new_tokens: int, cached: list[int] = ()) -> bool:
        """Give ``seq`` room for ``num_new_tokens`` more tokens (after sharing the
        ``cached`` blocks, for a new prompt), or change nothing and return False."""
        start = seq.num_computed_tokens + len(cached) * self.block_size
        need = self.blocks_for(start + num_new_tokens) - len(seq.block_table) - len(cached)
        cow = start % self.block_size != 0 and self.blocks[seq.block_table[start // self.block_size]].ref_count > 1
        revived = sum(self.blocks[b].ref_count == 0 for b in cached)
        if need + cow + revived > self.num_free:
            return False
        if seq.num_computed_tokens == 0 and not seq.block_table:
            self.queried_tokens += seq.num_tokens
            self.hit_tokens += len(cached) * self.block_size
        for block_id in cached:
            self._share(block_id)
        seq.block_table.extend(cached)
        seq.block_hashes.extend(self.blocks[b].hash for b in cached)
        seq.num_computed_tokens = start
        if cow:
            self._copy_on_write(seq, start // self.block_size)
        seq.block_table.extend(self._take() for _ in range(need))
        return True

    def cache_full_blocks(self, seq: Sequence) -> None:
        """Register the hashes of ``seq``'s blocks that are full and computed."""
        size = self.block_size
        for i in range(len(seq.block_hashes), seq.num_computed_tokens // size if self.enable_prefix_caching else 0):
            parent = seq.block_hashes[-1] if seq.block_hashes else None
            h = block_hash(parent, seq.token_ids[i * size : (i + 1) * size])
            seq.block_hashes.append(h)
            self.blocks[seq.block_table[i]].hash = h
            self.cached.setdefault(h, seq.block_table[i])

    def fork(self, parent: Sequence, child: Sequence) -> None:
        """``child`` shares all of ``parent``'s blocks (parallel sampling, n > 1)."""
        for block_id in parent.block_table:
            self._share(block_id)
        child.block_table = list(parent.block_table)
        child.block_hashes = list(parent.block_hashes)
        child.num_computed_tokens = parent.num_computed_tokens

    def free(self, seq: Sequence) -> None:
        for block_id in reversed(seq.block_table):
            self._release(block_id)
        seq.block_table, seq.block_hashes, seq.num_computed_tokens = [], [], 0

    def _share(self, block_id: int) -> None:
        block = self.blocks[block_id]
        if block.ref_count == 0:
            self.free_ids.remove(block_id)  # a cached block, freed earlier: revive it
        block.ref_count += 1

    def _release(self, block_id: int) -> None:
        block = self.blocks[block_id]
        block.ref_count -= 1
        if block.ref_count == 0:
            self.free_ids.append(block_id)  # last in line to be reused: LRU eviction

    def _take(self) -> int:
        block = self.blocks[self.free_ids.popleft()]
        if block.hash is not None and self.cached.get(block.hash) == block.block_id:
            del self.cached[block.hash]  # evict: its old contents are about to be overwritten
        block.hash, block.ref_count = None, 1
        return block.block_id

    def _copy_on_write(self, seq: Sequence, index: int) -> None:
        shared = seq.block_table[index]
        seq.block_table[index] = self._take()
        self._release(shared)
        self.copies.append((shared, seq.block_table[index]))
