"""Right and plausible wrong answers for exercise 07_quantization (see __init__)."""

from __future__ import annotations

import numpy as np

from .marks import caught_publicly

# --- 07 q1: bits per weight ------------------------------------------------------------------


def bpw_right(layout, block_size):
    return sum(count * bits for count, bits in layout.values()) / block_size


@caught_publicly
def bpw_bytes(layout, block_size):
    return sum(count * bits for count, bits in layout.values()) / 8 / block_size


@caught_publicly
def bpw_values_only(layout, block_size):
    return sum(count * bits for count, bits in layout.values() if count == block_size) / block_size


# --- 07 q2: Q8_0 round trip ---------------------------------------------------------------------


def _q8(x, per_tensor=False, f16=True, levels=127):
    blocks = x.reshape(-1, 32).astype(np.float32)
    peak = np.abs(blocks).max() if per_tensor else np.abs(blocks).max(axis=1, keepdims=True)
    d = np.broadcast_to(peak / levels, (len(blocks), 1)).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(d == 0, 0, np.sign(blocks) * np.floor(np.abs(blocks / d) + 0.5))
    stored = d.astype(np.float16).astype(np.float32) if f16 else d
    return (stored * np.clip(q, -128, 127)).reshape(x.shape).astype(np.float32)


def q8_right(x):
    return _q8(x)


@caught_publicly
def q8_per_tensor_scale(x):
    return _q8(x, per_tensor=True)


@caught_publicly
def q8_float32_scale(x):
    return _q8(x, f16=False)


@caught_publicly
def q8_divides_by_128(x):
    return _q8(x, levels=128)


def q8_nan_on_zero_block(x):
    blocks = x.reshape(-1, 32).astype(np.float32)
    d = np.abs(blocks).max(axis=1, keepdims=True) / 127
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.sign(blocks) * np.floor(np.abs(blocks / d) + 0.5)
    return (d.astype(np.float16).astype(np.float32) * q).reshape(x.shape).astype(np.float32)


# --- 07 q3: Q4_0 round trip and its bound ---------------------------------------------------------


def _q4(x, per_tensor=False, signed=True):
    blocks = x.reshape(-1, 32).astype(np.float32)
    if per_tensor:
        flat = blocks.reshape(-1)
        m = np.full((len(blocks), 1), flat[np.abs(flat).argmax()])
    else:
        m = np.take_along_axis(blocks, np.abs(blocks).argmax(axis=1, keepdims=True), axis=1)
    m = m if signed else np.abs(m)
    d = (m / -8).astype(np.float16).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        inverse = np.where(d == 0, 0, 1 / d)
    q = np.clip(np.trunc(blocks * inverse + 8.5), 0, 15)
    return ((q - 8) * d).reshape(x.shape).astype(np.float32)


def _bound(x, per_tensor=False, factor=0.5):
    blocks = x.reshape(-1, 32).astype(np.float32)
    peak = np.abs(blocks).max() if per_tensor else np.abs(blocks).max(axis=1, keepdims=True)
    return np.broadcast_to(peak / 8 * factor, blocks.shape).reshape(x.shape).astype(np.float32)


def q4_right(x):
    return _q4(x), _bound(x)


@caught_publicly
def q4_per_tensor_scale(x):
    return _q4(x, per_tensor=True), _bound(x)


def q4_unsigned_max(x):
    return _q4(x, signed=False), _bound(x)


@caught_publicly
def q4_bound_per_tensor(x):
    return _q4(x), _bound(x, per_tensor=True)


@caught_publicly
def q4_bound_full_step(x):
    return _q4(x), _bound(x, factor=1.0)


# --- 07 q4: perplexity, KL, top-1 -------------------------------------------------------------


def _quality(reference, candidate, targets, log=np.log, total=False, reverse=False, ppl_of=None):
    ppl_model = reference if ppl_of == "reference" else candidate
    nll = -ppl_model[np.arange(len(targets)), targets]
    p, q = (candidate, reference) if reverse else (reference, candidate)
    kl = np.sum(np.exp(p) * (p - q), axis=1) / (np.log(2) if log is np.log2 else 1)
    return {"perplexity": float(np.exp(nll.sum() if total else nll.mean())), "kl": float(kl.mean()),
            "top1": float(np.mean(reference.argmax(axis=1) == candidate.argmax(axis=1)))}


def quality_right(reference, candidate, targets):
    return _quality(reference, candidate, targets)


@caught_publicly
def quality_kl_in_bits(reference, candidate, targets):
    return _quality(reference, candidate, targets, log=np.log2)


@caught_publicly
def quality_sum_not_mean(reference, candidate, targets):
    return _quality(reference, candidate, targets, total=True)


def quality_kl_reversed(reference, candidate, targets):
    return _quality(reference, candidate, targets, reverse=True)


def quality_ppl_of_reference(reference, candidate, targets):
    return _quality(reference, candidate, targets, ppl_of="reference")


# --- 07 q5: choose a quant ------------------------------------------------------------------------


def _choose(table, budget, max_kl, unit=2**30, floor=True, key="kl"):
    fits = [r for r in table if r["MB"] * 1e6 <= budget * unit and (r["kl"] <= max_kl or not floor)]
    return min(fits, key=lambda r: r[key])["rung"] if fits else None


def choose_right(table, budget, max_kl):
    return _choose(table, budget, max_kl)


def choose_gigabytes(table, budget, max_kl):
    return _choose(table, budget, max_kl, unit=1e9)


@caught_publicly
def choose_ignores_floor(table, budget, max_kl):
    return _choose(table, budget, max_kl, floor=False)


@caught_publicly
def choose_smallest(table, budget, max_kl):
    return _choose(table, budget, max_kl, key="MB")


# --- 07 q6 and q7: predict, then explain --------------------------------------------------------


def predict_right(f16_tps, f16_bytes, rung_bytes):
    return f16_tps * f16_bytes / rung_bytes


@caught_publicly
def predict_inverse(f16_tps, f16_bytes, rung_bytes):
    return f16_tps * rung_bytes / f16_bytes


@caught_publicly
def predict_linear_saving(f16_tps, f16_bytes, rung_bytes):
    return f16_tps * (1 + (f16_bytes - rung_bytes) / f16_bytes)


class _Text(str):
    """A string answer that can carry the ``caught_publicly`` mark."""


EXPLANATION_RIGHT = ("The CPU has to dequantize each block it reads and fixed per-token overheads such as "
                     "sampling and the vocabulary projection do not shrink, so the speed-up is smaller.")
EXPLANATION_TOO_SHORT = caught_publicly(_Text("It is slower."))
EXPLANATION_VACUOUS = _Text("The measured number is different from the predicted number because measurements always vary a bit.")


# --- 07 q8: the size of a W8A8 checkpoint ------------------------------------------------------


def _w8a8(hidden, intermediate, layers, heads, kv_heads, head_dim, vocab, tied,
          scale_bytes=2, embedding_bytes=2, kv=True, untied_head=True, unit=1):
    kv_out = (kv_heads if kv else heads) * head_dim
    projections = [(heads * head_dim, hidden), (kv_out, hidden), (kv_out, hidden), (hidden, heads * head_dim),
                   (intermediate, hidden), (intermediate, hidden), (hidden, intermediate)]
    per_block = sum(out * inp + scale_bytes * out for out, inp in projections) + 4 * hidden
    matrices = 1 if tied or not untied_head else 2
    return unit * (layers * per_block + matrices * vocab * hidden * embedding_bytes + 2 * hidden)


def w8a8_right(*config):
    return _w8a8(*config)


@caught_publicly
def w8a8_bits(*config):
    return _w8a8(*config, unit=8)


@caught_publicly
def w8a8_no_scales(*config):
    return _w8a8(*config, scale_bytes=0)


@caught_publicly
def w8a8_int8_embedding(*config):
    return _w8a8(*config, embedding_bytes=1)


@caught_publicly
def w8a8_no_gqa(*config):
    return _w8a8(*config, kv=False)


def w8a8_forgets_untied_head(*config):
    return _w8a8(*config, untied_head=False)


def shared(question: str, request) -> dict:
    """NumPy for every question; q6's tests also read the committed prediction."""
    return {"np": np, "MY_PREDICTION": 200.0}


CASES = {
    ("07_quantization", "q1"): ("bits_per_weight", bpw_right, [bpw_bytes, bpw_values_only]),
    ("07_quantization", "q2"): ("q8_0_roundtrip", q8_right,
                                [q8_per_tensor_scale, q8_float32_scale, q8_divides_by_128, q8_nan_on_zero_block]),
    ("07_quantization", "q3"): ("q4_0_roundtrip", q4_right,
                                [q4_per_tensor_scale, q4_unsigned_max, q4_bound_per_tensor, q4_bound_full_step]),
    ("07_quantization", "q4"): ("quality", quality_right,
                                [quality_kl_in_bits, quality_sum_not_mean, quality_kl_reversed, quality_ppl_of_reference]),
    ("07_quantization", "q5"): ("choose_quant", choose_right, [choose_gigabytes, choose_ignores_floor, choose_smallest]),
    ("07_quantization", "q6"): ("predict_tokens_per_second", predict_right, [predict_inverse, predict_linear_saving]),
    ("07_quantization", "q7"): ("EXPLANATION", EXPLANATION_RIGHT, [EXPLANATION_TOO_SHORT, EXPLANATION_VACUOUS]),
    ("07_quantization", "q8"): ("w8a8_bytes", w8a8_right,
                                [w8a8_bits, w8a8_no_scales, w8a8_int8_embedding, w8a8_no_gqa, w8a8_forgets_untied_head]),
}
