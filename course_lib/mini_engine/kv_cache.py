"""Where K and V live: one contiguous buffer per sequence, or blocks in a shared pool.

``ContiguousKV`` reserves ``max_len`` slots up front (what servers did before vLLM).
``KVPool`` is vLLM's layout: one big tensor of fixed-size blocks for all sequences;
a ``PagedKV`` is one sequence's view of it through its block table (logical block i
-> physical block ``block_table[i]``). Both offer the same three things to the model:
``length`` (tokens already stored), ``write`` and ``attend``. Taught in notebook 05.
"""

from __future__ import annotations

import numpy as np

from .attention import attention, paged_attention
from .loader import ModelConfig


class ContiguousKV:
    """K/V of one sequence in [layers, max_len, KVH, D] buffers. Set ``length`` back to
    roll tokens off (the slots beyond it are simply overwritten later)."""

    def __init__(self, config: ModelConfig, max_len: int) -> None:
        shape = (config.num_layers, max_len, config.num_kv_heads, config.head_dim)
        self.k = np.zeros(shape, np.float32)
        self.v = np.zeros(shape, np.float32)
        self.length = 0

    def write(self, layer: int, positions: np.ndarray, k: np.ndarray, v: np.ndarray) -> None:
        self.k[layer, positions], self.v[layer, positions] = k, v

    def attend(self, layer: int, q: np.ndarray, positions: np.ndarray) -> np.ndarray:
        n = int(positions[-1]) + 1
        return attention(q, self.k[layer, :n], self.v[layer, :n], positions)


class KVPool:
    """All the KV memory an engine has: ``num_blocks`` blocks of ``block_size`` tokens."""

    def __init__(self, config: ModelConfig, num_blocks: int, block_size: int) -> None:
        shape = (config.num_layers, num_blocks, block_size, config.num_kv_heads, config.head_dim)
        self.k = np.zeros(shape, np.float32)
        self.v = np.zeros(shape, np.float32)
        self.block_size = block_size

    def copy_block(self, src: int, dst: int) -> None:
        """Copy-on-write: give a sequence its own copy of a block it shared."""
        self.k[:, dst], self.v[:, dst] = self.k[:, src], self.v[:, src]

    def view(self, block_table: list[int], length: int) -> PagedKV:
        return PagedKV(self, block_table, length)


class PagedKV:
    """One sequence's K/V, scattered over pool blocks and found through its block table."""

    def __init__(self, pool: KVPool, block_table: list[int], length: int) -> None:
        self.pool, self.block_table, self.length = pool, block_table, length

    def slots(self, positions: np.ndarray) -> np.ndarray:
        """Flat pool slot of each token position: block_table[pos // B] * B + pos % B."""
        size = self.pool.block_size
        return np.asarray(self.block_table)[positions // size] * size + positions % size

    def write(self, layer: int, positions: np.ndarray, k: np.ndarray, v: np.ndarray) -> None:
        slots = self.slots(positions)
        flat_shape = (-1,) + self.pool.k.shape[3:]
        self.pool.k[layer].reshape(flat_shape)[slots] = k
        self.pool.v[layer].reshape(flat_shape)[slots] = v

    def attend(self, layer: int, q: np.ndarray, positions: np.ndarray) -> np.ndarray:
        return paged_attention(q, self.pool.k[layer], self.pool.v[layer], self.block_table,
                               positions, int(positions[-1]) + 1)  # fmt: skip
