"""Speculative decoding on lesson 05's mini engine gives its plain greedy tokens, in fewer passes."""

import pytest

from course_lib.speculative import speculative_decode

COPY = ("<|im_start|>user\nRepeat this text exactly:\nIt was the best of times, it was the worst of times, "
        "it was the age of wisdom.<|im_end|>\n<|im_start|>assistant\n")


@pytest.fixture(scope="module")
def mini():
    from course_lib import mini_engine as me
    from course_lib.model import prepared_model

    if prepared_model() is None:
        pytest.fail("the converted model is missing: run `course model prepare`")
    return me.Model(), me.Tokenizer()


def test_mini_engine_target_is_lossless_and_saves_passes(mini):
    from course_lib import mini_engine as me
    from course_lib.speculative.mini_target import MiniEngineTarget

    model, tokenizer = mini
    prompt = tokenizer.encode(COPY)
    reference = me.greedy(model, prompt, 16)
    fast = speculative_decode(MiniEngineTarget(model), prompt, 16, k=4, stop_ids=[model.config.eos_token_id])
    assert fast.tokens == reference
    assert fast.forward_passes < len(reference) and fast.accepted > 0
