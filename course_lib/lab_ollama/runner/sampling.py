"""A request's options as a llama.cpp sampler chain, plus ``format`` grammars.

The chain follows llama-server's order, which Ollama's runner uses: grammar (so a
``format`` always parses), penalties, top_k, typical_p, top_p, min_p, temperature,
then a seeded draw, or greedy when the temperature is 0.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from llama_cpp import llama_cpp
from llama_cpp._internals import LlamaModel, LlamaSampler
from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

from .options import Options


class FormatError(ValueError):
    """A ``format`` that is neither "json" nor a usable JSON schema."""


def grammar_for(format_: Any) -> str | None:
    """GBNF text for Ollama's ``format``: "json", a schema object, or nothing."""
    if format_ in (None, ""):
        return None
    if format_ == "json":
        return JSON_GBNF
    if isinstance(format_, dict):
        try:
            return LlamaGrammar.from_json_schema(json.dumps(format_), verbose=False)._grammar
        except Exception as exc:  # the converter raises assorted errors on bad schemas
            raise FormatError(str(exc)) from exc
    raise FormatError(json.dumps(format_))


def build_sampler(model: LlamaModel, options: Options, grammar: str | None) -> LlamaSampler:
    """One sampler chain per sequence (it keeps the sequence's penalty history)."""
    chain = LlamaSampler()
    if grammar:
        sampler = llama_cpp.llama_sampler_init_grammar(model.vocab, grammar.encode(), b"root")
        if not sampler:
            raise FormatError("grammar failed to parse")
        llama_cpp.llama_sampler_chain_add(chain.sampler, sampler)
    if options["repeat_penalty"] != 1.0 or options["presence_penalty"] or options["frequency_penalty"]:
        chain.add_penalties(
            model.n_vocab(), options["repeat_last_n"], options["repeat_penalty"],
            options["frequency_penalty"], options["presence_penalty"],
        )  # fmt: skip
    if options["temperature"] <= 0:
        chain.add_greedy()
        return chain
    if options["top_k"] > 0:
        chain.add_top_k(options["top_k"])
    if options["typical_p"] < 1.0:
        chain.add_typical(options["typical_p"], 1)
    if options["top_p"] < 1.0:
        chain.add_top_p(options["top_p"], 1)
    if options["min_p"] > 0:
        chain.add_min_p(options["min_p"], 1)
    chain.add_temp(options["temperature"])
    seed = options["seed"]
    chain.add_dist(llama_cpp.LLAMA_DEFAULT_SEED if seed < 0 else seed & 0xFFFFFFFF)
    return chain


def logprob_entry(logits: np.ndarray, token: int, top: int, piece_of) -> dict:
    """Ollama's logprobs entry for the chosen token, from the model's raw logits."""
    shifted = logits - logits.max()
    log_probs = shifted - np.log(np.exp(shifted).sum())
    entry = _token_entry(token, float(log_probs[token]), piece_of)
    if top > 0:
        best = np.argpartition(-log_probs, top)[:top]
        best = best[np.argsort(-log_probs[best])]
        entry["top_logprobs"] = [_token_entry(int(t), float(log_probs[t]), piece_of) for t in best]
    return entry


def _token_entry(token: int, logprob: float, piece_of) -> dict:
    raw: bytes = piece_of(token)
    return {"token": raw.decode("utf-8", "replace"), "logprob": logprob, "bytes": list(raw)}
