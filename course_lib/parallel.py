"""Planning tensor and pipeline parallelism: which (TP, PP) a model allows on some GPUs,
and how much KV cache each leaves (lesson 09).

The rules are vLLM's (``config/model.py``, ``QKVParallelLinear``): the attention heads
must divide by TP; if TP ≤ the KV heads, the KV heads must divide by TP, and if TP is
larger, TP must be a multiple of them (each KV head is then replicated). Memory is
budgeted as vLLM does it: a share of each GPU (``gpu_memory_utilization``) minus the
weights' slice and some overhead is KV cache. Estimates, not measurements: they leave
out activation memory beyond the overhead and the embedding's uneven split over stages.

Units: a GPU's memory is what ``nvidia-smi`` reports as ``memory.total``, in MiB; a
vendor's "80 GB" of HBM is about 80 GiB (``GPU_MIB``).
"""

from __future__ import annotations

from dataclasses import dataclass

GIB = 2**30
#: vLLM 0.32's default share of each GPU (``--gpu-memory-utilization``).
DEFAULT_UTILIZATION = 0.92

#: ``nvidia-smi --query-gpu=memory.total`` of common parts, MiB (vendor label → MiB).
GPU_MIB = {"L4 24 GB": 23_034, "A100 40 GB": 40_960, "A100 80 GB": 81_920, "H100 80 GB": 81_559, "H200 141 GB": 143_771}


def gpu_gib(name: str) -> float:
    """A GPU's memory in GiB, from its MiB (``gpu_gib("H100 80 GB")`` ≈ 79.6).

    >>> round(gpu_gib("A100 80 GB"), 1), round(gpu_gib("H100 80 GB"), 1)
    (80.0, 79.6)
    """
    return GPU_MIB[name] / 1024


@dataclass(frozen=True)
class ModelShape:
    """What the memory of a decoder-only transformer depends on."""

    name: str
    params_billion: float
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    weight_bytes: float = 2.0  # per parameter: BF16 2, FP8 1, 4-bit 0.5
    kv_bytes: int = 2  # per KV-cache element

    @classmethod
    def from_hf_config(cls, name: str, config: dict, params_billion: float) -> ModelShape:
        heads = config["num_attention_heads"]
        head_dim = config.get("head_dim") or config["hidden_size"] // heads
        return cls(name, params_billion, config["num_hidden_layers"], heads,
                   config.get("num_key_value_heads", heads), head_dim)  # fmt: skip

    @property
    def hidden(self) -> int:
        """The residual stream's width, what a tensor-parallel all-reduce carries per token."""
        return self.heads * self.head_dim

    @property
    def weights_gib(self) -> float:
        return self.params_billion * 1e9 * self.weight_bytes / GIB

    def kv_per_token_per_gpu(self, tp: int, pp: int) -> float:
        """KV bytes one token needs on each GPU: layers split by PP, KV heads by TP (≥ 1 each)."""
        kv_heads_here = max(self.kv_heads // tp, 1)
        layers_here = -(-self.layers // pp)  # the fullest stage
        return 2 * layers_here * kv_heads_here * self.head_dim * self.kv_bytes


# Shapes from each model's config.json on the Hugging Face Hub
LLAMA_3_1_8B = ModelShape("Llama-3.1-8B", 8.03, layers=32, heads=32, kv_heads=8, head_dim=128)
LLAMA_3_1_70B = ModelShape("Llama-3.1-70B", 70.6, layers=80, heads=64, kv_heads=8, head_dim=128)
LLAMA_3_1_405B = ModelShape("Llama-3.1-405B", 405.9, layers=126, heads=128, kv_heads=8, head_dim=128)
SMOLLM2_135M = ModelShape("SmolLM2-135M", 0.135, layers=30, heads=9, kv_heads=3, head_dim=64)


def tp_allowed(heads: int, kv_heads: int, tp: int) -> bool:
    """vLLM's rule for one tensor-parallel size."""
    if tp < 1 or heads % tp:
        return False
    return kv_heads % tp == 0 if tp <= kv_heads else tp % kv_heads == 0


@dataclass(frozen=True)
class Plan:
    """One (TP, PP) layout on ``tp × pp`` GPUs and what it leaves for the KV cache."""

    tp: int
    pp: int
    weights_per_gpu_gib: float
    kv_cache_per_gpu_gib: float
    kv_tokens: int  # tokens of KV cache the whole layout holds
    max_concurrency: float  # kv_tokens / max_model_len
    fits: bool  # weights fit and at least one max_model_len sequence does

    @property
    def gpus(self) -> int:
        return self.tp * self.pp


def plan(
    model: ModelShape,
    gpus: int,
    gpu_gib: float,
    utilization: float = DEFAULT_UTILIZATION,
    overhead_gib: float = 1.0,
    max_model_len: int = 8192,
) -> list[Plan]:
    """Every allowed (TP, PP) with TP × PP ≤ ``gpus``, fewest GPUs first.

    >>> two = [p for p in plan(LLAMA_3_1_70B, 2, gpu_gib("H100 80 GB")) if p.tp == 2][0]
    >>> two.fits, round(two.kv_cache_per_gpu_gib, 1), two.kv_tokens
    (True, 6.5, 42757)
    """
    plans = []
    for tp in range(1, gpus + 1):
        if not tp_allowed(model.heads, model.kv_heads, tp):
            continue
        for pp in range(1, min(gpus // tp, model.layers) + 1):
            weights = model.weights_gib / (tp * pp)
            kv_gib = gpu_gib * utilization - overhead_gib - weights
            tokens = int(max(kv_gib, 0) * GIB // model.kv_per_token_per_gpu(tp, pp))
            plans.append(Plan(tp, pp, weights, kv_gib, tokens, tokens / max_model_len,
                              kv_gib > 0 and tokens >= max_model_len))  # fmt: skip
    return sorted(plans, key=lambda p: (p.gpus, p.pp))
