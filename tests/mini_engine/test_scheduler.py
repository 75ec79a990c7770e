"""Iteration-level scheduling: budget, FCFS, decode before prefill, preemption, no leaks.

The scheduler runs alone here (each sampled token is 0): these are its invariants
under random traces, whatever the model says.
"""

from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.mini_engine import BlockManager, Scheduler, Sequence, Status


def drive(scheduler, seqs, max_steps=2000):
    """Run the trace; check the per-step invariants; return the step log."""
    log, admitted = [], []
    pending = sorted(seqs, key=lambda s: s.arrival_step)
    for step in range(max_steps):
        while pending and pending[0].arrival_step <= step:
            scheduler.add(pending.pop(0))
        if not (pending or scheduler.has_work()):
            return log, admitted
        was_running = list(scheduler.running)
        scheduled = scheduler.schedule()
        assert sum(scheduled.values()) <= scheduler.max_num_batched_tokens or scheduler.policy == "static"
        assert len(scheduler.running) <= scheduler.max_num_seqs
        assert all(n >= 1 for n in scheduled.values())
        newcomers = [s for s in scheduled if s not in was_running]
        if newcomers:  # a prompt is admitted only once every running sequence got its tokens
            assert all(s in scheduled for s in was_running if s in scheduler.running)
        admitted += [s for s in newcomers if s.num_preemptions == 0 and s not in admitted]
        done = {s: 0 for s, n in scheduled.items() if s.num_computed_tokens + n == s.num_tokens}
        scheduler.postprocess(scheduled, done, step)
        bm = scheduler.block_manager
        for seq in scheduler.running:
            assert len(seq.block_table) == bm.blocks_for(seq.num_computed_tokens)
        assert bm.num_free + sum(b.ref_count > 0 for b in bm.blocks) == len(bm.blocks)
        log.append(scheduled)
    raise AssertionError("the trace did not finish")


requests = st.lists(st.tuples(st.integers(1, 40), st.integers(1, 12), st.integers(0, 20)), min_size=1, max_size=12)


@settings(max_examples=50, deadline=None)
@given(requests, st.integers(8, 64), st.integers(1, 6), st.integers(12, 40), st.booleans())
def test_random_traces_finish_within_the_rules(trace, budget, max_seqs, num_blocks, caching):
    bm = BlockManager(num_blocks, block_size=4, enable_prefix_caching=caching)
    scheduler = Scheduler(bm, max_num_seqs=max_seqs, max_num_batched_tokens=budget)
    seqs = [Sequence([i % 3] * prompt, max_tokens=out, arrival_step=at) for i, (prompt, out, at) in enumerate(trace)
            if bm.blocks_for(prompt + out) <= num_blocks]  # fmt: skip
    log, admitted = drive(scheduler, seqs)
    assert all(s.status is Status.FINISHED and len(s.output_ids) == s.max_tokens for s in seqs)
    by_arrival = sorted(seqs, key=lambda s: (s.arrival_step, seqs.index(s)))
    assert admitted == by_arrival  # first come, first served
    assert bm.num_free == num_blocks


def test_a_long_prompt_is_chunked_and_decodes_keep_running():
    bm = BlockManager(64, block_size=4, enable_prefix_caching=False)
    scheduler = Scheduler(bm, max_num_seqs=4, max_num_batched_tokens=16)
    short = Sequence([1] * 4, max_tokens=10)
    long = Sequence([2] * 50, max_tokens=2, arrival_step=2)
    log, _ = drive(scheduler, [short, long])
    chunks = [step[long] for step in log if long in step][:4]
    assert chunks == [15, 15, 15, 5]  # 16-token budget, 1 token kept for the running decode
    assert all(step.get(short) == 1 for step in log[1:10])  # the decode never waits for the prompt


def test_without_chunking_a_prompt_over_budget_waits():
    bm = BlockManager(64, block_size=4, enable_prefix_caching=False)
    scheduler = Scheduler(bm, max_num_batched_tokens=16, enable_chunked_prefill=False)
    scheduler.add(Sequence([1] * 20, max_tokens=2))
    assert scheduler.schedule() == {}


def test_out_of_blocks_preempts_the_last_admitted_and_recomputes_it():
    bm = BlockManager(5, block_size=4, enable_prefix_caching=False)
    scheduler = Scheduler(bm, max_num_seqs=4, max_num_batched_tokens=64)
    first, second = Sequence([1] * 8, max_tokens=8), Sequence([2] * 8, max_tokens=8)
    log, _ = drive(scheduler, [first, second])
    assert second.num_preemptions >= 1 and first.num_preemptions == 0
    recompute = next(step[second] for step in log[1:] if step.get(second, 0) > 1)
    assert recompute >= 8  # its prompt and outputs so far, computed again


def test_static_batching_admits_only_when_the_batch_is_done():
    bm = BlockManager(64, block_size=4, enable_prefix_caching=False)
    scheduler = Scheduler(bm, max_num_seqs=2, policy="static")
    seqs = [Sequence([1] * 4, max_tokens=m) for m in (2, 6, 2)]
    log, _ = drive(scheduler, seqs)
    third_starts = next(i for i, step in enumerate(log) if seqs[2] in step)
    assert third_starts == max(i for i, step in enumerate(log) if seqs[1] in step) + 1
