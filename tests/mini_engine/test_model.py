"""The forward pass on the real weights: cache or not, paged or not, batched or not,
chunked or not, the tokens are the same."""

import json

import numpy as np

from course_lib import mini_engine as me
from course_lib.mini_engine.loader import model_dir

PROMPT = "1, 2, 3, 4,"


def test_config_comes_from_the_converted_folder(model):
    raw = json.loads((model_dir() / "config.json").read_text())
    c = model.config
    assert (c.num_layers, c.hidden_size, c.num_heads, c.vocab_size) == (
        raw["num_hidden_layers"], raw["hidden_size"], raw["num_attention_heads"], raw["vocab_size"])  # fmt: skip
    assert c.num_heads % c.num_kv_heads == 0 and c.head_dim * c.num_heads == c.hidden_size
    assert model.embed.dtype == np.float32 and model.embed.shape == (c.vocab_size, c.hidden_size)


def test_kv_cache_gives_the_tokens_of_recomputing(model, tokenizer):
    prompt = tokenizer.encode(PROMPT)
    with_cache = me.greedy(model, prompt, 6)
    assert with_cache == me.greedy(model, prompt, 6, use_cache=False)
    assert tokenizer.decode(with_cache).startswith(" 5")


def test_paged_and_chunked_forward_match_contiguous(model, tokenizer):
    prompt = tokenizer.encode("The quick brown fox jumps over the lazy dog because")
    contiguous = model.forward(prompt, me.ContiguousKV(model.config, len(prompt)))
    pool = me.KVPool(model.config, num_blocks=16, block_size=4)
    table = [11, 2, 7, 0, 15, 5, 9, 3][: -(-len(prompt) // 4)]  # scattered on purpose
    paged = me.PagedKV(pool, table, 0)
    first = model.forward(prompt[:5], paged)  # a chunk, then the rest
    rest = model.forward(prompt[5:], paged)
    assert paged.length == len(prompt)
    np.testing.assert_allclose(np.concatenate([first, rest]), contiguous, atol=2e-3, rtol=1e-4)
    assert (np.concatenate([first, rest]).argmax(-1) == contiguous.argmax(-1)).all()


def test_engine_batching_chunking_and_preemption_keep_the_greedy_tokens(model, tokenizer):
    prompts = [tokenizer.encode(p) for p in ("1, 2, 3, 4,", "10, 20, 30, 40,", "a, b, c, d,", "1, 2, 3, 4, 5,")]
    alone = [me.greedy(model, p, 6) for p in prompts]
    engine = me.Engine(model, num_blocks=7, block_size=4, max_num_seqs=4, max_num_batched_tokens=8)
    seqs = [engine.add_request(p, 6, arrival_step=i) for i, p in enumerate(prompts)]
    engine.run()
    assert [s.output_ids for s in seqs] == alone
    assert engine.scheduler.num_preemptions > 0  # 7 blocks of 4 cannot hold 4 sequences of 13-16 tokens
    assert max(sum(step.values()) for step in engine.timeline) <= 8
    assert engine.block_manager.hit_tokens > 0  # "1, 2, 3, 4," prefix blocks reused by the last prompt
    assert engine.block_manager.num_free == 7
