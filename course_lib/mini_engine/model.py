"""SmolLM2's forward pass (a Llama): RMSNorm, RoPE, grouped-query attention, SwiGLU.

Everything is computed in float32. ``forward_batch`` runs several sequences in one
step, as vLLM does: their new tokens are stacked into one matrix, so every weight is
read once per step for the whole batch; only attention is done per sequence, each
against its own K/V (contiguous or paged). Taught in notebook 05.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from .loader import ModelConfig, load_weights


class KV(Protocol):
    """What the model needs from a KV cache (see kv_cache.py)."""

    length: int

    def write(self, layer: int, positions: np.ndarray, k: np.ndarray, v: np.ndarray) -> None: ...

    def attend(self, layer: int, q: np.ndarray, positions: np.ndarray) -> np.ndarray: ...


def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def silu(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-x))


class Model:
    """SmolLM2 in NumPy. Weights are fused as vLLM fuses them (q|k|v, gate|up) and
    stored [in, out], so each linear layer is one ``x @ W``."""

    def __init__(self, folder: Path | None = None) -> None:
        self.config, w = load_weights(folder)
        c = self.config
        self.embed = w["model.embed_tokens.weight"]
        self.lm_head = self.embed if c.tie_word_embeddings else w["lm_head.weight"]
        self.final_norm = w["model.norm.weight"]
        self.layers = []
        for i in range(c.num_layers):
            p = f"model.layers.{i}."
            attn = [w.pop(f"{p}self_attn.{n}_proj.weight") for n in ("q", "k", "v")]
            mlp = [w.pop(f"{p}mlp.{n}_proj.weight") for n in ("gate", "up")]
            self.layers.append({
                "attn_norm": w[f"{p}input_layernorm.weight"],
                "qkv": np.ascontiguousarray(np.concatenate(attn).T),
                "o": np.ascontiguousarray(w.pop(f"{p}self_attn.o_proj.weight").T),
                "mlp_norm": w[f"{p}post_attention_layernorm.weight"],
                "gate_up": np.ascontiguousarray(np.concatenate(mlp).T),
                "down": np.ascontiguousarray(w.pop(f"{p}mlp.down_proj.weight").T),
            })  # fmt: skip
        half = c.head_dim // 2
        self.inv_freq = (c.rope_theta ** (-np.arange(half, dtype=np.float64) / half)).astype(np.float32)

    def rope(self, x: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Rotate each head's two halves by position-dependent angles (x: [T, heads, D])."""
        angles = positions[:, None].astype(np.float32) * self.inv_freq[None, :]
        cos, sin = np.cos(angles)[:, None, :], np.sin(angles)[:, None, :]
        x1, x2 = np.split(x, 2, axis=-1)
        return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)

    def forward_batch(self, segments: list[tuple[list[int], KV]], last_only: bool = False) -> list[np.ndarray]:
        """One step over several sequences: each segment is (new token ids, its KV
        cache). Returns each segment's logits [new tokens, vocab], or [1, vocab] for
        its last token only; every cache's ``length`` grows by its new tokens."""
        c = self.config
        lengths = [len(tokens) for tokens, _ in segments]
        bounds = np.cumsum([0] + lengths)
        positions = np.concatenate([kv.length + np.arange(n) for (_, kv), n in zip(segments, lengths)])
        x = self.embed[np.concatenate([np.asarray(t, dtype=np.int64) for t, _ in segments])]
        q_end, k_end = c.num_heads * c.head_dim, (c.num_heads + c.num_kv_heads) * c.head_dim
        for i, layer in enumerate(self.layers):
            qkv = rms_norm(x, layer["attn_norm"], c.rms_norm_eps) @ layer["qkv"]
            q = self.rope(qkv[:, :q_end].reshape(len(x), c.num_heads, c.head_dim), positions)
            k = self.rope(qkv[:, q_end:k_end].reshape(len(x), c.num_kv_heads, c.head_dim), positions)
            v = qkv[:, k_end:].reshape(len(x), c.num_kv_heads, c.head_dim)
            heads = []
            for (_, kv), start, end in zip(segments, bounds[:-1], bounds[1:]):
                kv.write(i, positions[start:end], k[start:end], v[start:end])
                heads.append(kv.attend(i, q[start:end], positions[start:end]))
            x = x + np.concatenate(heads) @ layer["o"]
            gate, up = np.split(rms_norm(x, layer["mlp_norm"], c.rms_norm_eps) @ layer["gate_up"], 2, axis=-1)
            x = x + (silu(gate) * up) @ layer["down"]
        for (_, kv), n in zip(segments, lengths):
            kv.length += n
        rows = bounds[1:] - 1 if last_only else np.arange(len(x))
        logits = rms_norm(x[rows], self.final_norm, c.rms_norm_eps) @ self.lm_head.T
        cuts = np.arange(1, len(segments)) if last_only else bounds[1:-1]
        return np.split(logits, cuts)

    def forward(self, token_ids: list[int], kv: KV) -> np.ndarray:
        """Logits [len(token_ids), vocab] for new tokens appended after ``kv.length``
        tokens already cached; the tokens' K/V are added to ``kv``."""
        return self.forward_batch([(token_ids, kv)])[0]
