"""One loaded model: a llama.cpp context whose N sequence slots decode together.

Like Ollama's runner (llama-server with ``-np N``), every step builds one batch
holding the next token of each generating sequence plus prompt chunks of the ones
still reading their prompt, calls ``llama_decode`` once, then samples each slot.
Requests beyond the slots wait in order. A slot keeps its tokens' KV cache after a
request, so a follow-up that shares the prefix (the next turn of a chat) only
evaluates what is new: its ``prompt_eval_duration`` is shorter, while
``prompt_eval_count`` stays the whole prompt, cached tokens included (Ollama ≥ 0.30.1,
``llm/llama_server.go``: ``cache_n + prompt_n``).
"""

from __future__ import annotations

import codecs
import ctypes
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from llama_cpp import _logger as llama_logger
from llama_cpp import llama_cpp
from llama_cpp._internals import LlamaBatch, LlamaContext, LlamaModel, LlamaSampler

from . import buffers
from .sampling import logprob_entry

log = logging.getLogger("lab_ollama.runner")
llama_logger.set_verbose(False)  # llama.cpp's own chatter only with OLLAMA_DEBUG (serve.py)
Event = dict
Emit = Callable[[Event], None]
CACHE_TYPES = {"f16": llama_cpp.GGML_TYPE_F16, "q8_0": llama_cpp.GGML_TYPE_Q8_0, "q4_0": llama_cpp.GGML_TYPE_Q4_0}
FLASH_ATTENTION = {None: llama_cpp.LLAMA_FLASH_ATTN_TYPE_AUTO, True: llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED,
                   False: llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED}  # fmt: skip


@dataclass(frozen=True)
class RunnerConfig:
    """What a runner is built with; Ollama reloads a model when any of it changes."""

    model_path: Path
    adapters: tuple[Path, ...] = ()
    num_ctx: int = 4096
    num_parallel: int = 1
    num_batch: int = 512
    num_thread: int = 2
    use_mmap: bool | None = None
    cache_type: str = "f16"  # OLLAMA_KV_CACHE_TYPE: f16, q8_0 or q4_0
    flash_attention: bool | None = None  # OLLAMA_FLASH_ATTENTION: None = auto


@dataclass(eq=False)
class Sequence:
    """One request on its way through a slot, and what it has produced so far."""

    prompt: list[int]
    sampler: LlamaSampler
    emit: Emit
    num_predict: int = -1
    stop: tuple[str, ...] = ()
    stream: bool = True
    top_logprobs: int = -1  # -1: no logprobs
    num_keep: int = 4
    shift: bool = True
    cancelled: bool = False
    generated: list[int] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)
    logprobs: list[dict] = field(default_factory=list)
    held: str = ""
    evaluated: int = 0
    started: int = 0
    first_token: int = 0
    last_token: int = -1
    decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace")
    )


@dataclass(eq=False)
class Slot:
    seq_id: int
    tokens: list[int] = field(default_factory=list)  # what the KV cache holds
    sequence: Sequence | None = None
    pending: list[int] = field(default_factory=list)  # prompt tokens not yet decoded


@lru_cache(maxsize=16)
def model_metadata(path: str) -> dict[str, str]:
    """A GGUF's key/values as llama.cpp reads them (vocab only: ~0.2 s, where the
    gguf package takes seconds parsing the tokenizer in Python)."""
    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    model = LlamaModel(path_model=path, params=params, verbose=False)
    try:
        return model.metadata()
    finally:
        model.close()


def common_prefix(a: list[int], b: list[int]) -> int:
    """How many leading tokens two lists share.

    >>> common_prefix([1, 2, 3], [1, 2, 4, 5])
    2
    """
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _debug() -> bool:
    """OLLAMA_DEBUG (serve.py): let llama.cpp print its load log, buffer lines included,
    as Ollama's server log shows llama-server's."""
    return llama_logger.logger.isEnabledFor(logging.DEBUG)


class LlamaRunner:
    """A model in memory with ``num_parallel`` slots and a decode thread."""

    def __init__(self, config: RunnerConfig) -> None:
        self.config = config
        model_params = llama_cpp.llama_model_default_params()
        model_params.n_gpu_layers = 0
        if config.use_mmap is not None:
            model_params.use_mmap = config.use_mmap
        with buffers.listening() as heard:
            self.model = LlamaModel(path_model=str(config.model_path), params=model_params, verbose=_debug())
            self.context = self._context(embeddings=False)
        #: Bytes llama.cpp reported allocating (model, KV, compute, output): /api/ps ``size``.
        self.allocated = sum(buffers.buffer_bytes("".join(heard)).values())
        self.n_vocab = self.model.n_vocab()
        self._adapters = [self._load_adapter(path) for path in config.adapters]
        self._apply_adapters(self.context)
        self.memory = llama_cpp.llama_get_memory(self.context.ctx)
        self.batch = LlamaBatch(n_tokens=max(config.num_batch, config.num_parallel), embd=0, n_seq_max=1, verbose=False)
        self.slots = [Slot(seq_id=i) for i in range(config.num_parallel)]
        self.waiting: deque[Sequence] = deque()
        self._pieces: dict[int, bytes] = {}
        self._cond = threading.Condition()
        self._closing = False
        self._embed_lock = threading.Lock()
        self._embed_context: LlamaContext | None = None
        self.steps = 0
        self.sequences_per_step: Counter[int] = Counter()
        self.tokens_decoded = 0
        self._thread = threading.Thread(target=self._loop, name="lab-ollama-decode", daemon=True)
        self._thread.start()

    # -- set-up -----------------------------------------------------------------

    def _context(self, embeddings: bool) -> LlamaContext:
        cfg = self.config
        params = llama_cpp.llama_context_default_params()
        slots = 1 if embeddings else cfg.num_parallel
        params.n_ctx = cfg.num_ctx * slots  # each slot gets the full num_ctx, as in Ollama
        params.n_batch = params.n_ubatch = max(cfg.num_batch, slots)
        params.n_seq_max = slots
        params.kv_unified = False
        params.n_threads = params.n_threads_batch = cfg.num_thread
        params.embeddings = embeddings
        params.type_k = params.type_v = CACHE_TYPES[cfg.cache_type]
        params.flash_attn_type = FLASH_ATTENTION[cfg.flash_attention]
        if embeddings:
            params.pooling_type = llama_cpp.LLAMA_POOLING_TYPE_MEAN
        return LlamaContext(model=self.model, params=params, verbose=_debug())

    def _load_adapter(self, path: Path):
        adapter = llama_cpp.llama_adapter_lora_init(self.model.model, str(path).encode())
        if not adapter:
            raise ValueError(f"failed to load adapter {path.name}")
        return adapter

    def _apply_adapters(self, context: LlamaContext) -> None:
        if not self._adapters:
            return
        n = len(self._adapters)
        adapters = (llama_cpp.llama_adapter_lora_p_ctypes * n)(*self._adapters)
        scales = (ctypes.c_float * n)(*([1.0] * n))
        if llama_cpp.llama_set_adapters_lora(context.ctx, adapters, n, scales) != 0:
            raise ValueError("failed to apply adapters")

    # -- text -------------------------------------------------------------------

    def tokenize(self, text: str, special: bool = True) -> list[int]:
        """Tokens as the model sees them; special tokens in the text are parsed."""
        return self.model.tokenize(text.encode(), add_bos=True, special=special)

    def piece(self, token: int) -> bytes:
        cached = self._pieces.get(token)
        if cached is None:
            buffer = ctypes.create_string_buffer(64)
            n = llama_cpp.llama_token_to_piece(self.model.vocab, token, buffer, 64, 0, True)
            cached = self._pieces[token] = buffer.raw[: max(n, 0)]
        return cached

    def detokenize(self, tokens: list[int]) -> str:
        return b"".join(self.piece(t) for t in tokens).decode("utf-8", "replace")

    def is_eog(self, token: int) -> bool:
        return bool(llama_cpp.llama_vocab_is_eog(self.model.vocab, token))

    @property
    def trained_context(self) -> int:
        return self.model.n_ctx_train()

    # -- requests ---------------------------------------------------------------

    def submit(self, sequence: Sequence) -> None:
        """Queue a sequence; it takes the next free slot, in order of arrival."""
        with self._cond:
            self.waiting.append(sequence)
            self._cond.notify()

    def cancel(self, sequence: Sequence) -> None:
        """The client went away: its slot is freed before the next step."""
        with self._cond:
            sequence.cancelled = True
            self._cond.notify()

    def status(self) -> dict:
        """What the slots are doing and how full the steps were (for tests and lessons)."""
        return {
            "slots": len(self.slots),
            "busy": sum(s.sequence is not None for s in self.slots),
            "waiting": len(self.waiting),
            "steps": self.steps,
            "tokens_decoded": self.tokens_decoded,
            "sequences_per_step": {str(k): v for k, v in sorted(self.sequences_per_step.items())},
        }

    @property
    def idle(self) -> bool:
        return not self.waiting and all(s.sequence is None for s in self.slots)

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout=30)
        for slot in self.slots:
            if slot.sequence is not None:
                slot.sequence.emit({"error": "model unloaded"})
        for adapter in self._adapters:
            llama_cpp.llama_adapter_lora_free(adapter)
        self._adapters = []
        if self._embed_context is not None:
            self._embed_context.close()
        self.batch.close()
        self.context.close()
        self.model.close()

    # -- the decode loop ----------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._admit()
                while not self._closing and all(s.sequence is None for s in self.slots):
                    self._cond.wait()
                    self._admit()
                if self._closing:
                    return
            try:
                self._step()
            except Exception as exc:  # never leave a client waiting on a dead loop
                log.exception("decode step failed")
                for slot in self.slots:
                    if slot.sequence is not None:
                        slot.sequence.emit({"error": f"runner error: {exc}"})
                        self._release(slot)

    def _admit(self) -> None:
        """Give free slots to waiting sequences, oldest first, reusing cached prefixes."""
        while self.waiting:
            sequence = self.waiting[0]
            if sequence.cancelled:
                self.waiting.popleft()
                continue
            free = [s for s in self.slots if s.sequence is None]
            if not free:
                return
            self.waiting.popleft()
            shared, slot = max(((common_prefix(s.tokens, sequence.prompt), s) for s in free), key=lambda p: p[0])
            keep = min(shared, len(sequence.prompt) - 1)
            llama_cpp.llama_memory_seq_rm(self.memory, slot.seq_id, keep, -1)
            del slot.tokens[keep:]
            slot.sequence, slot.pending = sequence, sequence.prompt[keep:]
            sequence.evaluated = len(slot.pending)
            sequence.started = time.perf_counter_ns()

    def _step(self) -> None:
        batch = self.batch.batch
        batch.n_tokens = 0
        outputs: list[tuple[Slot, int]] = []
        stepped: set[int] = set()  # the sequences in this step's batch

        def add(slot: Slot, token: int, logits: bool) -> None:
            stepped.add(slot.seq_id)
            i = batch.n_tokens
            batch.token[i], batch.pos[i] = token, len(slot.tokens)
            batch.n_seq_id[i], batch.seq_id[i][0], batch.logits[i] = 1, slot.seq_id, logits
            batch.n_tokens += 1
            slot.tokens.append(token)
            if logits:
                outputs.append((slot, i))

        for slot in self.slots:  # generating sequences: one token each
            sequence = slot.sequence
            if sequence is None or slot.pending:
                continue
            if sequence.cancelled:
                self._release(slot)
            elif len(slot.tokens) >= self.config.num_ctx and not self._shift(slot):
                self._finish(slot, "length")
            else:
                add(slot, sequence.last_token, True)
        budget = self.config.num_batch - batch.n_tokens
        for slot in self.slots:  # prompts: chunks in what is left of the batch
            sequence = slot.sequence
            if sequence is None or not slot.pending:
                continue
            if sequence.cancelled:
                self._release(slot)
                continue
            chunk, slot.pending = slot.pending[:budget], slot.pending[budget:]
            for j, token in enumerate(chunk):
                add(slot, token, not slot.pending and j == len(chunk) - 1)
            budget -= len(chunk)
            if budget <= 0:
                break
        if batch.n_tokens == 0:
            return
        self.steps += 1
        self.tokens_decoded += batch.n_tokens
        self.sequences_per_step[len(stepped)] += 1
        status = llama_cpp.llama_decode(self.context.ctx, batch)
        if status != 0:
            raise RuntimeError(f"llama_decode returned {status}")
        for slot, index in outputs:
            self._sample(slot, index)

    def _shift(self, slot: Slot) -> bool:
        """Ollama's context shift: drop half of what follows num_keep, keep going."""
        sequence = slot.sequence
        if not sequence.shift:
            return False
        keep = min(sequence.num_keep, len(slot.tokens) - 1)
        discard = (len(slot.tokens) - keep) // 2
        llama_cpp.llama_memory_seq_rm(self.memory, slot.seq_id, keep, keep + discard)
        llama_cpp.llama_memory_seq_add(self.memory, slot.seq_id, keep + discard, -1, -discard)
        del slot.tokens[keep : keep + discard]
        return True

    def _sample(self, slot: Slot, index: int) -> None:
        sequence = slot.sequence
        if sequence.num_predict == 0:  # prompt evaluated, nothing to generate
            self._finish(slot, "length")
            return
        token = sequence.sampler.sample(self.context, index)
        if not sequence.first_token:
            sequence.first_token = time.perf_counter_ns()
        if self.is_eog(token):
            self._finish(slot, "stop")
            return
        sequence.generated.append(token)
        sequence.last_token = token
        entry = None
        if sequence.top_logprobs >= 0:
            pointer = llama_cpp.llama_get_logits_ith(self.context.ctx, index)
            logits = np.ctypeslib.as_array(pointer, shape=(self.n_vocab,))
            entry = logprob_entry(logits, token, sequence.top_logprobs, self.piece)
        if self._emit_text(sequence, sequence.decoder.decode(self.piece(token)), entry):
            self._finish(slot, "stop")
        elif len(sequence.generated) == sequence.num_predict:
            self._finish(slot, "length")

    def _emit_text(self, sequence: Sequence, text: str, entry: dict | None) -> bool:
        """Send what cannot be the start of a stop sequence; True once one matched."""
        if entry is not None:
            sequence.logprobs.append(entry)
        text = sequence.held + text
        for stop in sequence.stop:
            if stop and stop in text:
                self._send(sequence, text[: text.index(stop)], entry)
                sequence.held = ""
                return True
        hold = max((_overlap(text, stop) for stop in sequence.stop), default=0)
        sequence.held = text[len(text) - hold :] if hold else ""
        self._send(sequence, text[: len(text) - hold], entry)
        return False

    def _send(self, sequence: Sequence, text: str, entry: dict | None) -> None:
        if sequence.stream:
            if text or entry is not None:
                sequence.emit({"text": text, "logprobs": [entry] if entry is not None else []})
        else:
            sequence.parts.append(text)

    def _finish(self, slot: Slot, reason: str) -> None:
        sequence = slot.sequence
        self._send(sequence, sequence.held + sequence.decoder.decode(b"", final=True), None)
        end = time.perf_counter_ns()
        first = sequence.first_token or end
        done: Event = {
            "done_reason": reason,
            "prompt_eval_count": len(sequence.prompt),  # the whole prompt, cached part too
            "prompt_cached": len(sequence.prompt) - sequence.evaluated,
            "prompt_eval_duration": first - sequence.started,
            "eval_count": len(sequence.generated),
            "eval_duration": end - first,
            "context": sequence.prompt + sequence.generated,
        }
        if not sequence.stream:
            done["text"], done["logprobs"] = "".join(sequence.parts), sequence.logprobs
        sequence.emit(done)
        self._release(slot)

    def _release(self, slot: Slot) -> None:
        if slot.pending:  # a prompt cut short leaves a partial cache: forget it
            llama_cpp.llama_memory_seq_rm(self.memory, slot.seq_id, 0, -1)
            slot.tokens.clear()
        slot.sequence, slot.pending = None, []

    # -- embeddings -----------------------------------------------------------------

    def embed(self, tokens: list[int]) -> list[float]:
        """Mean-pooled hidden state of one input (a context of its own, made on demand)."""
        with self._embed_lock:
            if self._embed_context is None:
                self._embed_context = self._context(embeddings=True)
                self._apply_adapters(self._embed_context)
            context = self._embed_context
            llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(context.ctx), False)
            batch = LlamaBatch(n_tokens=len(tokens), embd=0, n_seq_max=1, verbose=False)
            try:
                raw = batch.batch
                for i, token in enumerate(tokens):
                    raw.token[i], raw.pos[i], raw.n_seq_id[i], raw.seq_id[i][0] = token, i, 1, 0
                    raw.logits[i] = True
                raw.n_tokens = len(tokens)
                if llama_cpp.llama_decode(context.ctx, raw) != 0:
                    raise RuntimeError("llama_decode failed for embeddings")
                pointer = llama_cpp.llama_get_embeddings_seq(context.ctx, 0)
                return np.ctypeslib.as_array(pointer, shape=(self.model.n_embd(),)).tolist()
            finally:
                batch.close()


def _overlap(text: str, stop: str) -> int:
    """Length of the longest end of ``text`` that begins ``stop``.

    >>> _overlap("hello <|im", "<|im_end|>"), _overlap("hello", "<|im_end|>")
    (4, 0)
    """
    for n in range(min(len(text), len(stop) - 1), 0, -1):
        if stop.startswith(text[-n:]):
            return n
    return 0
