"""Quality as llama.cpp's ``llama-perplexity`` measures it, from token log-probabilities
(lesson 07): perplexity on a text, KL divergence from a reference model and top-1
agreement, all on the same tokens.

Every position's full next-token distribution comes from llama-cpp-python
(``logits_all=True``); the first ``skip`` positions (little context) are not scored.
Natural logarithms throughout: perplexity = exp(mean negative log-likelihood).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from course_lib.cores import llama_threads

TEXT = Path(__file__).with_name("texts") / "pride_and_prejudice_ch1.txt"


def shipped_text(chars: int | None = None) -> str:
    """The public-domain text shipped with the course (see texts/README.md)."""
    text = TEXT.read_text()
    return text if chars is None else text[:chars]


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-probabilities, stable for large logits."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


@dataclass
class Scored:
    """Log-probabilities of every next token of a text under one model."""

    tokens: np.ndarray  # the text's tokens
    logprobs: np.ndarray  # (positions, vocab): log p(next token | prefix), natural log

    def target_logprobs(self) -> np.ndarray:
        """log p of the token that actually comes next, per scored position."""
        return self.logprobs[np.arange(len(self.logprobs)), self.tokens[-len(self.logprobs):]]


def score(model_path: Path, text: str, skip: int = 16, threads: int | None = None, **llama_kwargs) -> Scored:
    """Run a GGUF model over ``text`` once and keep every position's distribution; on
    ``threads`` threads, by default as many as lab Ollama gives a runner
    (``cores.llama_threads``)."""
    from llama_cpp import Llama

    probe = Llama(str(model_path), vocab_only=True, verbose=False)
    tokens = np.array(probe.tokenize(text.encode(), add_bos=True), dtype=np.int64)
    del probe
    llm = Llama(str(model_path), n_ctx=len(tokens) + 8, n_batch=512, logits_all=True,
                n_threads=threads or llama_threads(), verbose=False, **llama_kwargs)  # fmt: skip
    llm.eval(tokens.tolist())
    logits = np.asarray(llm.scores[: len(tokens) - 1], dtype=np.float32)
    del llm
    return Scored(tokens, log_softmax(logits[skip:]))


def perplexity(target_logprobs: np.ndarray) -> float:
    """exp of the mean negative log-likelihood (natural log)."""
    return float(np.exp(-np.mean(target_logprobs)))


def kl_divergence(reference: np.ndarray, candidate: np.ndarray) -> float:
    """Mean over positions of KL(reference ‖ candidate), in nats."""
    p = np.exp(reference)
    return float(np.mean(np.sum(p * (reference - candidate), axis=-1)))


def top1_agreement(reference: np.ndarray, candidate: np.ndarray) -> float:
    """Fraction of positions where both models rank the same token first."""
    return float(np.mean(reference.argmax(axis=-1) == candidate.argmax(axis=-1)))


def compare(reference: Scored, candidate: Scored) -> dict:
    """Perplexity of the candidate, and its KL and top-1 agreement with the reference."""
    return {"perplexity": perplexity(candidate.target_logprobs()),
            "kl_divergence": kl_divergence(reference.logprobs, candidate.logprobs),
            "top1_agreement": top1_agreement(reference.logprobs, candidate.logprobs)}  # fmt: skip
