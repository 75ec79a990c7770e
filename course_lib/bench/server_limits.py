"""How many sequences the running vLLM server batches at most (``max_num_seqs``) and how
many tokens one step may hold (``max_num_batched_tokens``), read from that server.

vLLM prints neither in its log unless they were set. They come from the server's own
command line when given there, else from vLLM's own defaults for this platform
(``EngineArgs.get_batch_defaults``: 128 sequences and 2,048 tokens for a CPU server, 256
or 1,024 sequences on GPUs, by memory), which is what the server computed at start.
Only a server this machine runs can be read this way.
"""

from __future__ import annotations

from dataclasses import dataclass

import psutil

from .quiet import import_vllm_quietly


@dataclass(frozen=True)
class BatchLimits:
    max_num_seqs: int
    max_num_batched_tokens: int
    source: str  # "command line" or "vLLM's default for this platform"


def _flag(argv: list[str], name: str) -> int | None:
    """The value of ``--name`` in ``argv`` (dashes or underscores, ``=`` or a space)."""
    spellings = {f"--{name}", f"--{name.replace('-', '_')}"}
    for i, arg in enumerate(argv):
        key, eq, value = arg.partition("=")
        if key in spellings:
            return int(value if eq else argv[i + 1])
    return None


def server_argv(port: int) -> list[str]:
    """The command line of the vLLM server process listening on ``port`` here."""
    for proc in psutil.process_iter(["cmdline"]):
        argv = proc.info["cmdline"] or []
        if any("vllm" in a for a in argv[:4]) and _flag(argv, "port") == port:
            return argv
    raise LookupError(f"no vLLM server process listens on port {port} on this machine")


def batch_limits(port: int) -> BatchLimits:
    """``max_num_seqs`` and ``max_num_batched_tokens`` of the vLLM server on ``port``."""
    argv = server_argv(port)
    seqs, tokens = _flag(argv, "max-num-seqs"), _flag(argv, "max-num-batched-tokens")
    if seqs is not None and tokens is not None:
        return BatchLimits(seqs, tokens, "command line")
    import_vllm_quietly()
    from vllm.engine.arg_utils import EngineArgs
    from vllm.usage.usage_lib import UsageContext

    world = (_flag(argv, "tensor-parallel-size") or 1) * (_flag(argv, "pipeline-parallel-size") or 1)
    default_tokens, default_seqs = EngineArgs.get_batch_defaults(world)
    context = UsageContext.OPENAI_API_SERVER
    return BatchLimits(seqs or default_seqs[context], tokens or default_tokens[context],
                       "command line" if seqs or tokens else "vLLM's default for this platform")  # fmt: skip
