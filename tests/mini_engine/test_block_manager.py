"""The KV-cache manager: scripted block accounting, copy-on-write, prefix hits, no leaks."""

from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.mini_engine import BlockManager, Sequence


def used(bm):
    return {b.block_id for b in bm.blocks if b.ref_count > 0}


def test_blocks_are_allocated_on_demand_and_freed():
    bm = BlockManager(num_blocks=8, block_size=4, enable_prefix_caching=False)
    seq = Sequence(list(range(9)), max_tokens=8)
    assert bm.allocate_slots(seq, 9) and len(seq.block_table) == 3  # 9 tokens -> 3 blocks of 4
    seq.num_computed_tokens = 9
    for length, blocks in [(10, 3), (12, 3), (13, 4)]:
        seq.token_ids.append(0)
        assert bm.allocate_slots(seq, 1)
        seq.num_computed_tokens = length
        assert len(seq.block_table) == blocks, length
    assert bm.num_free == 4
    bm.free(seq)
    assert bm.num_free == 8 and seq.block_table == [] and used(bm) == set()


def test_allocation_that_does_not_fit_changes_nothing():
    bm = BlockManager(num_blocks=2, block_size=4, enable_prefix_caching=False)
    seq = Sequence(list(range(9)), max_tokens=1)
    assert not bm.allocate_slots(seq, 9)
    assert bm.num_free == 2 and seq.block_table == [] and seq.num_computed_tokens == 0


def test_fork_shares_then_copy_on_write():
    bm = BlockManager(num_blocks=8, block_size=4, enable_prefix_caching=False)
    parent = Sequence(list(range(6)), max_tokens=4)
    bm.allocate_slots(parent, 6)
    parent.num_computed_tokens = 6
    child = Sequence(list(range(6)), max_tokens=4)
    bm.fork(parent, child)
    assert child.block_table == parent.block_table
    assert [bm.blocks[b].ref_count for b in parent.block_table] == [2, 2]
    assert bm.num_free == 6  # sharing costs nothing
    child.token_ids.append(99)
    assert bm.allocate_slots(child, 1)  # writes into the shared, half-full last block
    assert child.block_table[0] == parent.block_table[0]  # the full block stays shared
    assert child.block_table[1] != parent.block_table[1]
    assert bm.copies == [(parent.block_table[1], child.block_table[1])]
    assert [bm.blocks[b].ref_count for b in parent.block_table] == [2, 1]
    parent.token_ids.append(7)
    assert bm.allocate_slots(parent, 1) and len(bm.copies) == 1  # no longer shared: no copy
    bm.free(parent)
    bm.free(child)
    assert bm.num_free == 8


def test_prefix_cache_shares_full_blocks_of_a_common_prompt():
    bm = BlockManager(num_blocks=16, block_size=4)
    system = list(range(100, 110))  # 10 tokens: 2 full blocks + 2 tokens
    first = Sequence(system + [1, 2, 3], max_tokens=2)
    assert bm.match_prefix(first.token_ids) == []
    bm.allocate_slots(first, first.num_tokens)
    first.num_computed_tokens = first.num_tokens
    bm.cache_full_blocks(first)
    second = Sequence(system + [7, 8, 9, 10], max_tokens=2)
    hits = bm.match_prefix(second.token_ids)
    assert hits == first.block_table[:2]
    assert bm.allocate_slots(second, second.num_tokens - 8, hits)
    assert second.num_computed_tokens == 8 and second.block_table[:2] == first.block_table[:2]
    assert bm.hit_tokens == 8 and bm.queried_tokens == 13 + 14
    other = Sequence([5] + system, max_tokens=2)  # same tokens, another prefix: a miss
    assert bm.match_prefix(other.token_ids) == []
    bm.free(first)
    bm.free(second)
    assert bm.match_prefix(second.token_ids) == hits  # freed blocks stay cached until reused


def test_a_prompt_that_is_all_cached_still_computes_its_last_token():
    bm = BlockManager(num_blocks=8, block_size=4)
    seq = Sequence(list(range(8)), max_tokens=1)
    bm.allocate_slots(seq, 8)
    seq.num_computed_tokens = 8
    bm.cache_full_blocks(seq)
    assert len(bm.match_prefix(list(range(8)))) == 1  # not 2: the 8th token's logits are needed


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["new", "append", "fork", "free"]), st.integers(0, 30)), max_size=60),
       st.booleans())
def test_block_accounting_never_leaks(ops, caching):
    bm = BlockManager(num_blocks=12, block_size=4, enable_prefix_caching=caching)
    live = []
    for op, arg in ops:
        if op == "new":
            seq = Sequence([arg % 5] * (1 + arg), max_tokens=100)
            hits = bm.match_prefix(seq.token_ids)
            if bm.allocate_slots(seq, seq.num_tokens - len(hits) * 4, hits):
                seq.num_computed_tokens = seq.num_tokens
                bm.cache_full_blocks(seq)
                live.append(seq)
        elif live and op == "append":
            seq = live[arg % len(live)]
            seq.token_ids.append(arg % 5)
            if bm.allocate_slots(seq, 1):
                seq.num_computed_tokens += 1
                bm.cache_full_blocks(seq)
            else:
                seq.token_ids.pop()
        elif live and op == "fork":
            child = Sequence(live[arg % len(live)].token_ids, max_tokens=100)
            bm.fork(live[arg % len(live)], child)
            live.append(child)
        elif live and op == "free":
            bm.free(live.pop(arg % len(live)))
        references = {}
        for seq in live:
            assert len(seq.block_table) == -(-seq.num_computed_tokens // 4)
            for block in seq.block_table:
                references[block] = references.get(block, 0) + 1
        assert {b.block_id: b.ref_count for b in bm.blocks if b.ref_count} == references
        assert bm.num_free + len(references) == 12 and set(bm.free_ids).isdisjoint(references)
    for seq in live:
        bm.free(seq)
    assert bm.num_free == 12 and used(bm) == set()
