"""The mini engine's greedy tokens equal the real vLLM server's on the course's
margin-checked prompts (those of tests/vllm_engine/test_guide_offline.py).

vLLM (float32 on the CPU, bf16 on a GPU) and the mini engine (float32) sum in different
orders, so where the two best tokens
are within a fraction of a logit they may part; the test first checks, on the mini
engine's own logits, that every step's winner leads by at least MIN_MARGIN.
"""

import numpy as np
import requests

from course_lib import config
from course_lib import mini_engine as me

from ..vllm_engine.test_guide_offline import COMPLETION_PROMPTS, MIN_MARGIN

STEPS = 8


def greedy_with_margins(model, prompt_ids, steps):
    kv = me.ContiguousKV(model.config, len(prompt_ids) + steps)
    tokens, margins, new = [], [], list(prompt_ids)
    for _ in range(steps):
        logits = model.forward(new, kv)[-1]
        second, best = np.argsort(logits)[-2:]
        tokens.append(int(best))
        margins.append(float(logits[best] - logits[second]))
        new = [int(best)]
    return tokens, margins


def test_greedy_tokens_equal_vllms(model, tokenizer, vllm_base_url):
    root = vllm_base_url.removesuffix("/v1")
    for prompt in COMPLETION_PROMPTS:
        served = requests.post(f"{root}/tokenize", json={"model": config.VLLM_SERVED_NAME, "prompt": prompt},
                               timeout=30).json()["tokens"]  # fmt: skip
        prompt_ids = tokenizer.encode(prompt)
        assert served == prompt_ids, f"tokenizers differ on {prompt!r}"
        mine, margins = greedy_with_margins(model, prompt_ids, STEPS)
        assert min(margins) >= MIN_MARGIN, f"{prompt!r} has a near-tie in the mini engine: {margins}"
        reply = requests.post(f"{vllm_base_url}/completions", timeout=120, json={
            "model": config.VLLM_SERVED_NAME, "prompt": prompt_ids, "max_tokens": STEPS, "temperature": 0,
            "ignore_eos": True, "return_token_ids": True}).json()  # fmt: skip
        assert reply["choices"][0]["token_ids"] == mine, prompt
