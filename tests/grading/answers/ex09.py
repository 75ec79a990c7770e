"""Right and plausible wrong answers for exercise 09_multi_gpu (see __init__)."""

from __future__ import annotations

import math

import numpy as np

from .marks import caught_publicly

LLAMA_70B = {"params_billion": 70.6, "weight_bytes": 2, "layers": 80, "heads": 64, "kv_heads": 8,
             "head_dim": 128, "kv_bytes": 2}  # fmt: skip
LLAMA_8B = {"params_billion": 8.03, "weight_bytes": 2, "layers": 32, "heads": 32, "kv_heads": 8,
            "head_dim": 128, "kv_bytes": 2}  # fmt: skip


# --- 09 q1: KV tokens a layout leaves ---------------------------------------------------------


def _kv(model, gpu_gib, tp, pp, utilization, overhead_gib, k_and_v=2, split_kv=True, split_layers=True,
        replicate=True, clamp=True, utilization_on_free=False):  # fmt: skip
    weights = model["params_billion"] * 1e9 * model["weight_bytes"] / 2**30
    share = weights / (tp * pp)
    if utilization_on_free:
        free = (gpu_gib - overhead_gib - share) * utilization
    else:
        free = gpu_gib * utilization - overhead_gib - share
    if clamp and free <= 0:
        return 0
    heads = model["kv_heads"] // tp if split_kv else model["kv_heads"]
    if replicate:
        heads = max(heads, 1)
    layers = math.ceil(model["layers"] / pp) if split_layers else model["layers"]
    return int(free * 2**30 // (k_and_v * layers * heads * model["head_dim"] * model["kv_bytes"]))


def kv_right(model, gpu_mib, tp=1, pp=1, utilization=0.92, overhead_gib=1.0):
    return _kv(model, gpu_mib / 1024, tp, pp, utilization, overhead_gib)


@caught_publicly
def kv_mib_read_as_gb(model, gpu_mib, tp=1, pp=1, utilization=0.92, overhead_gib=1.0):
    """Divides MiB by 1000, as if nvidia-smi's number were in MB and MB were MiB."""
    return _kv(model, gpu_mib / 1000, tp, pp, utilization, overhead_gib)


@caught_publicly
def kv_heads_not_split(model, gpu_mib, tp=1, pp=1, utilization=0.92, overhead_gib=1.0):
    return _kv(model, gpu_mib / 1024, tp, pp, utilization, overhead_gib, split_kv=False)


@caught_publicly
def kv_forgets_v(model, gpu_mib, tp=1, pp=1, utilization=0.92, overhead_gib=1.0):
    return _kv(model, gpu_mib / 1024, tp, pp, utilization, overhead_gib, k_and_v=1)


@caught_publicly
def kv_utilization_of_what_is_left(model, gpu_mib, tp=1, pp=1, utilization=0.92, overhead_gib=1.0):
    return _kv(model, gpu_mib / 1024, tp, pp, utilization, overhead_gib, utilization_on_free=True)


def kv_layers_not_split(model, gpu_mib, tp=1, pp=1, utilization=0.92, overhead_gib=1.0):
    return _kv(model, gpu_mib / 1024, tp, pp, utilization, overhead_gib, split_layers=False)


def kv_no_replication(model, gpu_mib, tp=1, pp=1, utilization=0.92, overhead_gib=1.0):
    """KV heads // TP reaches 0 above the KV-head count: a division by zero."""
    return _kv(model, gpu_mib / 1024, tp, pp, utilization, overhead_gib, replicate=False)


def kv_negative(model, gpu_mib, tp=1, pp=1, utilization=0.92, overhead_gib=1.0):
    return _kv(model, gpu_mib / 1024, tp, pp, utilization, overhead_gib, clamp=False)


# --- 09 q2: valid TP sizes ------------------------------------------------------------------


def tp_sizes_right(heads, kv_heads, max_tp):
    return [tp for tp in range(1, max_tp + 1)
            if heads % tp == 0 and ((kv_heads % tp == 0) if tp <= kv_heads else (tp % kv_heads == 0))]  # fmt: skip


@caught_publicly
def tp_sizes_heads_only(heads, kv_heads, max_tp):
    return [tp for tp in range(1, max_tp + 1) if heads % tp == 0]


@caught_publicly
def tp_sizes_no_replication(heads, kv_heads, max_tp):
    """Requires the KV heads to divide by TP always: forbids TP above the KV-head count."""
    return [tp for tp in range(1, max_tp + 1) if heads % tp == 0 and kv_heads % tp == 0]


@caught_publicly
def tp_sizes_powers_of_two(heads, kv_heads, max_tp):
    return [tp for tp in tp_sizes_right(heads, kv_heads, max_tp) if tp & (tp - 1) == 0]


# --- 09 q3: smallest TP that starts -----------------------------------------------------------


def _smallest(model, gpu_mib, max_model_len, sizes, utilization, overhead_gib, need=None, none=None):
    for tp in sizes:
        if kv_right(model, gpu_mib, tp, 1, utilization, overhead_gib) >= (need if need is not None else max_model_len):
            return tp
    return none


def smallest_right(model, gpu_mib, max_model_len, max_gpus=8, utilization=0.92, overhead_gib=1.0):
    sizes = tp_sizes_right(model["heads"], model["kv_heads"], max_gpus)
    return _smallest(model, gpu_mib, max_model_len, sizes, utilization, overhead_gib)


@caught_publicly
def smallest_weights_only(model, gpu_mib, max_model_len, max_gpus=8, utilization=0.92, overhead_gib=1.0):
    """The old rule: the weights fit, never mind one request's KV cache."""
    sizes = tp_sizes_right(model["heads"], model["kv_heads"], max_gpus)
    return _smallest(model, gpu_mib, max_model_len, sizes, utilization, overhead_gib, need=1)


def smallest_any_size(model, gpu_mib, max_model_len, max_gpus=8, utilization=0.92, overhead_gib=1.0):
    return _smallest(model, gpu_mib, max_model_len, range(1, max_gpus + 1), utilization, overhead_gib)


def smallest_max_when_none(model, gpu_mib, max_model_len, max_gpus=8, utilization=0.92, overhead_gib=1.0):
    sizes = tp_sizes_right(model["heads"], model["kv_heads"], max_gpus)
    return _smallest(model, gpu_mib, max_model_len, sizes, utilization, overhead_gib, none=sizes[-1])


# --- 09 q4: shard a gated MLP -----------------------------------------------------------------


def shard_right(W_gate, W_up, W_down, devices):
    if W_up.shape[1] % devices:
        raise ValueError("uneven")
    return list(zip(np.split(W_gate, devices, axis=1), np.split(W_up, devices, axis=1),
                    np.split(W_down, devices, axis=0)))  # fmt: skip


@caught_publicly
def shard_gate_interleaved(W_gate, W_up, W_down, devices):
    """Cuts the gate by every devices-th column, the up projection in blocks: units no longer meet."""
    ups, downs = np.split(W_up, devices, axis=1), np.split(W_down, devices, axis=0)
    return [(W_gate[:, d::devices], ups[d], downs[d]) for d in range(devices)]


@caught_publicly
def shard_down_by_columns(W_gate, W_up, W_down, devices):
    return list(zip(np.split(W_gate, devices, axis=1), np.split(W_up, devices, axis=1),
                    np.split(W_down, devices, axis=1)))  # fmt: skip


@caught_publicly
def shard_gate_not_split(W_gate, W_up, W_down, devices):
    """Gives every device the whole gate: the shapes no longer multiply."""
    return [(W_gate, u, d) for u, d in zip(np.split(W_up, devices, axis=1), np.split(W_down, devices, axis=0))]


def shard_uneven_allowed(W_gate, W_up, W_down, devices):
    return list(zip(np.array_split(W_gate, devices, axis=1), np.array_split(W_up, devices, axis=1),
                    np.array_split(W_down, devices, axis=0)))  # fmt: skip


# --- 09 q5: TP's added TPOT and TTFT ------------------------------------------------------------


def _overhead(hidden, layers, tp, batch, prompt, link, both_ways=True, alpha=True, per_layer=2, ring=True,
              bits=False, prefill_per_token=False):  # fmt: skip
    if tp == 1:
        return 0.0, 0.0
    beta = link["gb_s"] * 1e9 / (2 if link["bidirectional"] and both_ways else 1) / (8 if bits else 1)
    a = link["alpha_us"] * 1e-6 if alpha else 0.0

    def step(tokens):
        factor = 2 * (tp - 1) / tp if ring else 1
        return per_layer * layers * (2 * (tp - 1) * a + factor * tokens * hidden * 2 / beta)

    return step(batch), prompt * step(1) if prefill_per_token else step(prompt)


def overhead_right(hidden, layers, tp, batch, prompt, link):
    return _overhead(hidden, layers, tp, batch, prompt, link)


@caught_publicly
def overhead_900_one_way(hidden, layers, tp, batch, prompt, link):
    return _overhead(hidden, layers, tp, batch, prompt, link, both_ways=False)


@caught_publicly
def overhead_no_latency(hidden, layers, tp, batch, prompt, link):
    return _overhead(hidden, layers, tp, batch, prompt, link, alpha=False)


@caught_publicly
def overhead_one_allreduce_per_layer(hidden, layers, tp, batch, prompt, link):
    return _overhead(hidden, layers, tp, batch, prompt, link, per_layer=1)


def overhead_no_ring_factor(hidden, layers, tp, batch, prompt, link):
    return _overhead(hidden, layers, tp, batch, prompt, link, ring=False)


def overhead_gigabits(hidden, layers, tp, batch, prompt, link):
    return _overhead(hidden, layers, tp, batch, prompt, link, bits=True)


@caught_publicly
def overhead_prefill_token_by_token(hidden, layers, tp, batch, prompt, link):
    """Charges α for every prompt token, as if the prefill were decoded one token at a time."""
    return _overhead(hidden, layers, tp, batch, prompt, link, prefill_per_token=True)


# --- 09 q6: predict, measure, explain ---------------------------------------------------------


class Study(dict):
    """A PP_STUDY value; a dict that can carry a name and the caught_publicly mark."""


def _study(name, cores_pp1=2, cores_per_stage=1, busy=1, ratio=0.5, measured=0.62, explanation=("a",)):
    study = Study(prediction={"cores_pp1": cores_pp1, "cores_per_stage_pp2": cores_per_stage,
                              "stages_busy": busy, "ratio": ratio},
                  measured=measured, explanation=set(explanation))  # fmt: skip
    study.__name__ = name
    return study


STUDY_RIGHT = _study("study_right")
STUDY_PIPELINE_OVERLAPS = _study("study_pipeline_overlaps", busy=2, ratio=1.0, explanation=("b",))
STUDY_SAME_CORES = _study("study_same_cores", cores_per_stage=2, ratio=1.0, explanation=("b",))
STUDY_RATIO_NOT_FROM_INPUTS = caught_publicly(_study("study_ratio_not_from_inputs", ratio=2.0, explanation=("b",)))
STUDY_HALF_THE_WORK = caught_publicly(_study("study_half_the_work", explanation=("a", "c")))
STUDY_WRONG_DIRECTION = caught_publicly(_study("study_wrong_direction", explanation=("b",)))
STUDY_NO_MEASUREMENT = caught_publicly(_study("study_no_measurement", measured=None))


def shared(question: str, request) -> dict:
    """q3 builds on the learner's q1 and q2: the right ones, so that only q3 is judged."""
    return dict(np=np, math=math, LLAMA_70B=LLAMA_70B, LLAMA_8B=LLAMA_8B, H100_MIB=81_559, L4_MIB=23_034,
                kv_tokens=kv_right, valid_tp_sizes=tp_sizes_right)  # fmt: skip


CASES = {
    ("09_multi_gpu", "q1"): ("kv_tokens", kv_right,
                             [kv_mib_read_as_gb, kv_heads_not_split, kv_forgets_v, kv_utilization_of_what_is_left,
                              kv_layers_not_split, kv_no_replication, kv_negative]),
    ("09_multi_gpu", "q2"): ("valid_tp_sizes", tp_sizes_right,
                             [tp_sizes_heads_only, tp_sizes_no_replication, tp_sizes_powers_of_two]),
    ("09_multi_gpu", "q3"): ("smallest_tp", smallest_right,
                             [smallest_weights_only, smallest_any_size, smallest_max_when_none]),
    ("09_multi_gpu", "q4"): ("shard_gated_mlp", shard_right,
                             [shard_gate_interleaved, shard_down_by_columns, shard_gate_not_split,
                              shard_uneven_allowed]),
    ("09_multi_gpu", "q5"): ("tp_overhead", overhead_right,
                             [overhead_900_one_way, overhead_no_latency, overhead_one_allreduce_per_layer,
                              overhead_no_ring_factor, overhead_gigabits, overhead_prefill_token_by_token]),
    ("09_multi_gpu", "q6"): ("PP_STUDY", STUDY_RIGHT,
                             [STUDY_PIPELINE_OVERLAPS, STUDY_SAME_CORES, STUDY_RATIO_NOT_FROM_INPUTS,
                              STUDY_HALF_THE_WORK, STUDY_WRONG_DIRECTION, STUDY_NO_MEASUREMENT]),
}
