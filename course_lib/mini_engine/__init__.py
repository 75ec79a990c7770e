"""A small inference engine for SmolLM2-135M in NumPy, split as nano-vllm splits vLLM.

``loader`` reads the converted safetensors; ``model`` is the forward pass;
``attention`` and ``kv_cache`` hold K/V contiguously or in blocks (PagedAttention);
``block_manager`` is the KV-cache manager; ``scheduler`` does iteration-level
batching; ``engine`` is the loop. Its greedy tokens equal vLLM's on prompts without
near-ties. Not a server: it exists to be read and measured. Taught in notebook 05.

    from course_lib import mini_engine as me
    model = me.Model()                          # float32 weights, ~0.5 GiB
    kv = me.ContiguousKV(model.config, max_len=64)
    logits = model.forward(prompt_ids, kv)      # [len(prompt_ids), vocab]; kv.length grows
    logits = model.forward([next_id], kv)       # one more token, reusing the cache
"""

from .attention import attention, paged_attention
from .block_manager import BlockManager, block_hash
from .engine import Engine, greedy
from .kv_cache import ContiguousKV, KVPool, PagedKV
from .loader import ModelConfig, Tokenizer, load_weights
from .model import Model
from .scheduler import Scheduler
from .sequence import Sequence, Status

__all__ = [
    "BlockManager", "ContiguousKV", "Engine", "KVPool", "Model", "ModelConfig", "PagedKV",
    "Scheduler", "Sequence", "Status", "Tokenizer", "attention", "block_hash", "greedy",
    "load_weights", "paged_attention",
]  # fmt: skip
