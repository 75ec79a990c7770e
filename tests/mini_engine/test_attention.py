"""PagedAttention over scattered blocks equals contiguous attention (to 1e-5)."""

import numpy as np
import pytest

from course_lib.mini_engine import attention, paged_attention


def scatter(k, v, block_size, rng, num_blocks=64):
    """Copy contiguous K/V [N, KVH, D] into random pool blocks; return pools and table."""
    n_blocks = -(-len(k) // block_size)
    table = [int(b) for b in rng.choice(num_blocks, n_blocks, replace=False)]
    k_pool = rng.standard_normal((num_blocks, block_size) + k.shape[1:]).astype(np.float32)
    v_pool = rng.standard_normal(k_pool.shape).astype(np.float32)  # garbage everywhere else
    for i, block in enumerate(table):
        chunk = slice(i * block_size, min((i + 1) * block_size, len(k)))
        k_pool[block, : chunk.stop - chunk.start] = k[chunk]
        v_pool[block, : chunk.stop - chunk.start] = v[chunk]
    return k_pool, v_pool, table


@pytest.mark.parametrize("context_len, new_tokens, block_size", [(1, 1, 16), (37, 1, 16), (40, 8, 16), (128, 128, 16), (129, 5, 32)])
def test_paged_equals_contiguous(context_len, new_tokens, block_size):
    rng = np.random.default_rng(context_len)
    heads, kv_heads, dim = 9, 3, 64  # SmolLM2's shape: 3 query heads per K/V head
    q = rng.standard_normal((new_tokens, heads, dim)).astype(np.float32)
    k = rng.standard_normal((context_len, kv_heads, dim)).astype(np.float32)
    v = rng.standard_normal((context_len, kv_heads, dim)).astype(np.float32)
    positions = np.arange(context_len - new_tokens, context_len)
    k_pool, v_pool, table = scatter(k, v, block_size, rng)
    paged = paged_attention(q, k_pool, v_pool, table, positions, context_len)
    contiguous = attention(q, k, v, positions)
    assert paged.shape == (new_tokens, heads * dim)
    np.testing.assert_allclose(paged, contiguous, atol=1e-5, rtol=1e-5)


def test_causal_mask_hides_the_future():
    rng = np.random.default_rng(0)
    q = rng.standard_normal((4, 2, 8)).astype(np.float32)
    k = rng.standard_normal((4, 1, 8)).astype(np.float32)
    v = rng.standard_normal((4, 1, 8)).astype(np.float32)
    full = attention(q, k, v, np.arange(4))
    changed = v.copy()
    changed[3] += 100.0  # only the last query may see the last value
    after = attention(q, k, changed, np.arange(4))
    np.testing.assert_allclose(full[:3], after[:3])
    assert not np.allclose(full[3], after[3])
    np.testing.assert_allclose(full[0], np.tile(v[0, 0], 2), rtol=1e-6)  # position 0 sees only itself
