"""A vLLM checkpoint measured as lesson 07 measures a GGUF rung: size, load time,
perplexity and top-1 tokens on the shipped text, and decode tokens/s with 1 and 4 streams.

Each model runs in an offline ``vllm.LLM`` of the notebook's own process (its log goes
to a file), one at a time, and is shut down before the next. vLLM returns at most
``max_logprobs`` (20) log-probabilities per position, not whole distributions, so
there is no KL divergence here: perplexity needs only the log-probability of the
token that comes next, and top-1 agreement only the first-ranked token.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..vllm_tools.offline import engine_log_path, shutdown_llm, use_course_engine_env, vllm_log_to

PROMPT = "Write a short story about a robot who learns to paint."


@dataclass
class VllmRung:
    """One checkpoint's measurements; ``top1`` is the first-ranked token per scored position."""

    name: str
    path: Path
    megabytes: float
    load_s: float
    perplexity: float
    tok_s_1: float
    tok_s_4: float
    top1: list[int] = field(repr=False, default_factory=list)

    def row(self) -> dict:
        return {"checkpoint": self.name, "MB": round(self.megabytes, 1), "load s": round(self.load_s, 1),
                "perplexity": round(self.perplexity, 3), "tok/s 1 stream": round(self.tok_s_1, 1),
                "tok/s 4 streams": round(self.tok_s_4, 1)}  # fmt: skip


def folder_megabytes(path: Path) -> float:
    """Size of a checkpoint's weight files in MB (10^6 bytes)."""
    return sum(f.stat().st_size for f in path.glob("*.safetensors")) / 1e6


def measure(name: str, path: Path, text: str, *, dtype: str, max_tokens: int = 64, skip: int = 16) -> VllmRung:
    """Load ``path`` in vLLM, score ``text`` and time greedy decoding; then free the engine."""
    use_course_engine_env()
    log = engine_log_path("07_vllm_" + re.sub(r"\W+", "_", name).strip("_").lower())
    start = time.perf_counter()
    with vllm_log_to(log):
        from vllm import LLM, SamplingParams

        llm = LLM(model=str(path), dtype=dtype, enforce_eager=True, max_model_len=2048,
                  max_num_seqs=4, seed=0)  # fmt: skip
    load_s = time.perf_counter() - start
    try:
        with vllm_log_to(log):
            scored = llm.generate([text], SamplingParams(max_tokens=1, prompt_logprobs=1), use_tqdm=False)[0]
            chat = llm.get_tokenizer().apply_chat_template(
                [{"role": "user", "content": PROMPT}], tokenize=False, add_generation_prompt=True)
            greedy = SamplingParams(max_tokens=max_tokens, temperature=0, ignore_eos=True)
            speeds = []
            for streams in (1, 4):
                begin = time.perf_counter()
                outputs = llm.generate([chat] * streams, greedy, use_tqdm=False)
                tokens = sum(len(out.outputs[0].token_ids) for out in outputs)
                speeds.append(tokens / (time.perf_counter() - begin))
    finally:
        shutdown_llm(llm)
    ids, positions = scored.prompt_token_ids[1:], scored.prompt_logprobs[1:]
    nll = [-position[token].logprob for token, position in zip(ids[skip:], positions[skip:])]
    top1 = [next(t for t, lp in position.items() if lp.rank == 1) for position in positions[skip:]]
    return VllmRung(name, path, folder_megabytes(path), load_s, math.exp(sum(nll) / len(nll)),
                    speeds[0], speeds[1], top1)  # fmt: skip


def top1_agreement(reference: VllmRung, candidate: VllmRung) -> float:
    """Fraction of scored positions where both checkpoints rank the same token first."""
    pairs = list(zip(reference.top1, candidate.top1, strict=True))
    return sum(a == b for a, b in pairs) / len(pairs)


def has_kernel(op: str) -> bool:
    """Whether the vLLM C++ extension loaded on this CPU registers ``op`` (e.g. ``cpu_gemm_wna16``).

    vLLM's x86 CPU wheel carries three builds of its kernels and loads one by the CPU's
    features (``CpuPlatform.import_kernels``); not every build has every kernel.
    """
    import torch
    from vllm.platforms import current_platform

    current_platform.import_kernels()
    return hasattr(torch.ops._C, op)
