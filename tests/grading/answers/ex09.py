"""Right and plausible wrong answers for exercise 09_multi_gpu (see __init__)."""

from __future__ import annotations


import numpy as np


# --- 09 q1: weight memory -----------------------------------------------------------------

_DTYPE_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2, "fp8": 1, "int8": 1, "int4": 0.5}


def weights_right(params_billion, dtype):
    if dtype.lower() not in _DTYPE_BYTES:
        raise ValueError(dtype)
    return params_billion * 1e9 * _DTYPE_BYTES[dtype.lower()] / 2**30


def weights_gigabytes(params_billion, dtype):
    return weights_right(params_billion, dtype) * 2**30 / 1e9


def weights_case_sensitive(params_billion, dtype):
    return params_billion * 1e9 * _DTYPE_BYTES[dtype] / 2**30


def weights_int4_as_byte(params_billion, dtype):
    return weights_right(params_billion, "int8" if dtype.lower() == "int4" else dtype)


# --- 09 q2: valid TP sizes ------------------------------------------------------------------


def tp_sizes_right(heads, kv_heads, max_tp):
    return [tp for tp in range(1, max_tp + 1)
            if heads % tp == 0 and ((kv_heads % tp == 0) if tp <= kv_heads else (tp % kv_heads == 0))]  # fmt: skip


def tp_sizes_heads_only(heads, kv_heads, max_tp):
    return [tp for tp in range(1, max_tp + 1) if heads % tp == 0]


def tp_sizes_no_replication(heads, kv_heads, max_tp):
    """Requires the KV heads to divide by TP always: forbids TP above the KV-head count."""
    return [tp for tp in range(1, max_tp + 1) if heads % tp == 0 and kv_heads % tp == 0]


def tp_sizes_powers_of_two(heads, kv_heads, max_tp):
    return [tp for tp in tp_sizes_right(heads, kv_heads, max_tp) if tp & (tp - 1) == 0]


# --- 09 q3: smallest TP ---------------------------------------------------------------------


def _smallest(params_billion, dtype, gpu_gib, sizes, utilization, none=None):
    total = weights_right(params_billion, dtype)
    return next((tp for tp in sizes if total / tp <= gpu_gib * utilization), none)


def smallest_right(params_billion, dtype, gpu_gib, heads, kv_heads, max_gpus=8, utilization=0.9):
    return _smallest(params_billion, dtype, gpu_gib, tp_sizes_right(heads, kv_heads, max_gpus), utilization)


def smallest_any_size(params_billion, dtype, gpu_gib, heads, kv_heads, max_gpus=8, utilization=0.9):
    return _smallest(params_billion, dtype, gpu_gib, range(1, max_gpus + 1), utilization)


def smallest_whole_gpu(params_billion, dtype, gpu_gib, heads, kv_heads, max_gpus=8, utilization=0.9):
    return _smallest(params_billion, dtype, gpu_gib, tp_sizes_right(heads, kv_heads, max_gpus), 1.0)


def smallest_max_when_none(params_billion, dtype, gpu_gib, heads, kv_heads, max_gpus=8, utilization=0.9):
    sizes = tp_sizes_right(heads, kv_heads, max_gpus)
    return _smallest(params_billion, dtype, gpu_gib, sizes, utilization, none=sizes[-1])


# --- 09 q4: shard an MLP --------------------------------------------------------------------


def shard_right(W_up, W_down, devices):
    import numpy as np

    if W_up.shape[1] % devices:
        raise ValueError("uneven")
    return list(zip(np.split(W_up, devices, axis=1), np.split(W_down, devices, axis=0)))


def shard_both_columns(W_up, W_down, devices):
    import numpy as np

    return list(zip(np.split(W_up, devices, axis=1), np.split(W_down, devices, axis=1)))


def shard_mismatched_rows(W_up, W_down, devices):
    """Interleaved columns of W_up against contiguous rows of W_down."""
    import numpy as np

    return [(W_up[:, d::devices], part) for d, part in enumerate(np.split(W_down, devices, axis=0))]


def shard_uneven_allowed(W_up, W_down, devices):
    import numpy as np

    return list(zip(np.array_split(W_up, devices, axis=1), np.array_split(W_down, devices, axis=0)))


# --- 09 q5: all-reduce bytes ----------------------------------------------------------------


def allreduce_right(hidden, layers, tp, dtype_bytes=2):
    return 2 * layers * 2 * (tp - 1) / tp * hidden * dtype_bytes


def allreduce_once_per_layer(hidden, layers, tp, dtype_bytes=2):
    return allreduce_right(hidden, layers, tp, dtype_bytes) / 2


def allreduce_whole_vector_twice(hidden, layers, tp, dtype_bytes=2):
    """Sends 2× the vector whatever the ring size."""
    return 0 if tp == 1 else 2 * layers * 2 * hidden * dtype_bytes


def allreduce_bits(hidden, layers, tp, dtype_bytes=2):
    return allreduce_right(hidden, layers, tp, dtype_bytes) * 8


def shared(question: str, request) -> dict:
    """q3 builds on the learner's q1 and q2: the right ones, so that only q3 is judged."""
    return dict(np=np, weight_gib=weights_right, valid_tp_sizes=tp_sizes_right,
                silu=lambda z: z / (1 + np.exp(-z)))

CASES = {
    ("09_multi_gpu", "q1"): ("weight_gib", weights_right,
                             [weights_gigabytes, weights_case_sensitive, weights_int4_as_byte]),
    ("09_multi_gpu", "q2"): ("valid_tp_sizes", tp_sizes_right,
                             [tp_sizes_heads_only, tp_sizes_no_replication, tp_sizes_powers_of_two]),
    ("09_multi_gpu", "q3"): ("smallest_tp", smallest_right,
                             [smallest_any_size, smallest_whole_gpu, smallest_max_when_none]),
    ("09_multi_gpu", "q4"): ("shard_mlp", shard_right, [shard_both_columns, shard_mismatched_rows, shard_uneven_allowed]),
    ("09_multi_gpu", "q5"): ("allreduce_bytes_per_token", allreduce_right,
                             [allreduce_once_per_layer, allreduce_whole_vector_twice, allreduce_bits]),
}
