"""Lab Ollama against raw llama.cpp on the same GGUF, the same prompt, the same length.

tokens/s = generated tokens ÷ client wall time from sending the request to its last
token (prompt evaluation included). Raw side: llama-cpp-python's low-level API in
this process, N tokens with EOS banned, one sequence, or four decoded in one batch
per step. (Its high-level ``Llama.create_completion`` bans EOS through a Python
logits processor, which made it slower than the lab here: 103 vs 123 tok/s.) Lab side: real HTTP to a lab Ollama
with ``num_predict`` N (a run that stops early at EOS is discarded and repeated).
Runs alternate between the two sides; medians are reported, and the ratios.

    course bench lab-overhead --tokens 128 --runs 5
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import requests
import typer

from llama_cpp import _logger as llama_logger

from .. import engines
from ..cores import llama_threads
from ..model import bundled_gguf

MODEL = "smollm2:135m"
PROMPT = "Once upon a time, in a land far away, there lived a dragon who"  # rarely ends early
SAMPLING = {"temperature": 0.8, "top_k": 40, "top_p": 0.9}  # Ollama's defaults, on both sides


class RawLlama:
    """llama-cpp-python's low-level API in this process: n sequences, one batch per step."""

    def __init__(self, threads: int, n_seq: int) -> None:
        from llama_cpp import llama_cpp
        from llama_cpp._internals import LlamaContext, LlamaModel

        params = llama_cpp.llama_model_default_params()
        self.model = LlamaModel(path_model=str(bundled_gguf()), params=params, verbose=False)
        ctx_params = llama_cpp.llama_context_default_params()
        ctx_params.n_ctx, ctx_params.n_seq_max, ctx_params.kv_unified = 4096 * n_seq, n_seq, False
        ctx_params.n_batch = ctx_params.n_ubatch = 512
        ctx_params.n_threads = ctx_params.n_threads_batch = threads
        self.ctx = LlamaContext(model=self.model, params=ctx_params, verbose=False)
        self.n_seq = n_seq
        self.eos = llama_cpp.llama_vocab_eos(self.model.vocab)

    def rate(self, tokens: int, seed: int) -> float:
        """Tokens/s for n copies of the prompt, EOS banned, Ollama's default sampling."""
        from llama_cpp import llama_cpp
        from llama_cpp._internals import LlamaBatch, LlamaSampler

        model, ctx = self.model, self.ctx
        start = time.perf_counter()
        prompt = model.tokenize(PROMPT.encode(), add_bos=True, special=True)
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(ctx.ctx), False)  # metadata only: no memset
        samplers = []
        for i in range(self.n_seq):
            chain = LlamaSampler()
            chain.add_logit_bias(model.n_vocab(), {self.eos: -1e9})
            chain.add_top_k(SAMPLING["top_k"])
            chain.add_top_p(SAMPLING["top_p"], 1)
            chain.add_temp(SAMPLING["temperature"])
            chain.add_dist(seed + i)
            samplers.append(chain)
        batch = LlamaBatch(n_tokens=max(512, len(prompt) * self.n_seq), embd=0, n_seq_max=1, verbose=False)
        raw = batch.batch
        rows: list[int] = []
        for seq in range(self.n_seq):
            for pos, token in enumerate(prompt):
                i = raw.n_tokens
                raw.token[i], raw.pos[i], raw.n_seq_id[i], raw.seq_id[i][0] = token, pos, 1, seq
                raw.logits[i] = pos == len(prompt) - 1
                raw.n_tokens += 1
            rows.append(raw.n_tokens - 1)
        for step in range(tokens):
            if llama_cpp.llama_decode(ctx.ctx, raw) != 0:
                raise RuntimeError("llama_decode failed")
            next_tokens = [samplers[s].sample(ctx, rows[s]) for s in range(self.n_seq)]
            raw.n_tokens = 0
            for seq, token in enumerate(next_tokens):
                i = raw.n_tokens
                raw.token[i], raw.pos[i], raw.n_seq_id[i], raw.seq_id[i][0] = token, len(prompt) + step, 1, seq
                raw.logits[i] = True
                raw.n_tokens += 1
                rows[seq] = i
        elapsed = time.perf_counter() - start
        batch.close()
        return tokens * self.n_seq / elapsed

    def close(self) -> None:
        self.ctx.close()
        self.model.close()


def _lab_run(url: str, tokens: int, seed: int) -> tuple[float, int]:
    body = {"model": MODEL, "prompt": PROMPT, "stream": False, "raw": True,
            "options": {"num_predict": tokens, "seed": seed, **SAMPLING}}  # fmt: skip
    start = time.perf_counter()
    reply = requests.post(url + "/api/generate", json=body, timeout=600)
    reply.raise_for_status()
    reply = reply.json()
    return time.perf_counter() - start, reply.get("eval_count", 0)  # omitted when 0


def lab_rate(url: str, tokens: int, clients: int, seed: int) -> float:
    """Tokens/s of ``clients`` concurrent requests; repeats any that stopped early."""
    while True:
        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(lambda i: _lab_run(url, tokens, seed + i), range(clients)))
        elapsed = time.perf_counter() - start
        if all(count == tokens for _, count in results):
            return tokens * clients / elapsed
        seed += 1000  # an early EOS: discard the run, try other seeds


def _alternate(raw: RawLlama, url: str, tokens: int, parallel: int, runs: int) -> tuple[list[float], list[float]]:
    """Tokens/s of each side over ``runs`` runs, alternating which goes first."""
    raw_rates, lab_rates = [], []
    for run in range(runs + 1):  # run 0 warms both sides and is not counted
        if run % 2:
            r, l = raw.rate(tokens, run), lab_rate(url, tokens, parallel, 100 * run)
        else:
            l, r = lab_rate(url, tokens, parallel, 100 * run), raw.rate(tokens, run)
        if run:
            raw_rates.append(r)
            lab_rates.append(l)
    return raw_rates, lab_rates


def main(
    tokens: int = typer.Option(128, help="Tokens generated per request (N)."),
    runs: int = typer.Option(5, help="Runs per side and case; medians are reported."),
) -> None:
    """Measure both cases and print medians and ratios."""
    llama_logger.set_verbose(False)
    threads = llama_threads()  # the count lab Ollama gives its runner
    for parallel in (1, 4):
        raw = RawLlama(threads, parallel)
        try:
            with engines.own_lab_ollama(parallel) as url:
                raw_rates, lab_rates = _alternate(raw, url, tokens, parallel, runs)
        finally:
            raw.close()
        raw_median, lab_median = statistics.median(raw_rates), statistics.median(lab_rates)
        label = "single stream" if parallel == 1 else f"{parallel} streams, one batch"
        print(f"{label}: raw llama.cpp {raw_median:.1f} tok/s, lab Ollama {lab_median:.1f} tok/s, "
              f"ratio {lab_median / raw_median:.3f}  (runs raw {[round(x) for x in raw_rates]}, "
              f"lab {[round(x) for x in lab_rates]})")  # fmt: skip


if __name__ == "__main__":
    typer.run(main)
