"""Right and plausible wrong answers for exercise 11_choosing (see __init__)."""

from __future__ import annotations


import math
import re

import requests

from .marks import caught_publicly


# --- 11 q1: choose an engine ----------------------------------------------------------------


def _choose(r, users_limit=4, check_os=True, share=0.92, raise_too_big=True, needs_nvidia=False, mib_per_gib=1024):
    if (check_os and r["os"] != "linux") or (needs_nvidia and r["accelerator"] != "nvidia"):
        return "ollama"
    if r["gpus"] > 0:
        one_gpu = share * r["gpu_mib"] / mib_per_gib
        if r["weights_gib"] > one_gpu * r["gpus"]:
            if raise_too_big:
                raise ValueError("too big")
            return "vllm"
        if r["weights_gib"] > one_gpu:
            return "vllm"
    return "vllm" if r["concurrent_users"] > users_limit or r["production"] else "ollama"


def choose_right(requirements):
    return _choose(requirements)


@caught_publicly
def choose_needs_nvidia(requirements):
    """The old rule: no NVIDIA GPU, no vLLM."""
    return _choose(requirements, needs_nvidia=True)


@caught_publicly
def choose_mib_read_as_gb(requirements):
    """Divides nvidia-smi's MiB by 1000 and calls it GiB."""
    return _choose(requirements, mib_per_gib=1000)


def choose_ignores_os(requirements):
    return _choose(requirements, check_os=False)


def choose_four_users_is_many(requirements):
    return _choose(requirements, users_limit=3)


def choose_whole_gpu(requirements):
    return _choose(requirements, share=1.0)


def choose_never_raises(requirements):
    return _choose(requirements, raise_too_big=False)


# --- 11 q2: FallbackClient ------------------------------------------------------------------


class FallbackRight:
    retry_4xx, retry_5xx, use_timeout, raise_when_all_fail = False, True, True, True

    def __init__(self, backends, timeout=10.0):
        self.backends, self.timeout = backends, timeout

    def chat(self, messages, max_tokens=32):
        for index, (base_url, model) in enumerate(self.backends):
            body = {"model": model, "messages": messages, "max_tokens": max_tokens}
            try:
                reply = requests.post(f"{base_url}/chat/completions", json=body,
                                      timeout=self.timeout if self.use_timeout else None)  # fmt: skip
            except (requests.ConnectionError, requests.Timeout):
                continue
            if (reply.status_code >= 500 and self.retry_5xx) or (400 <= reply.status_code < 500 and self.retry_4xx):
                continue
            reply.raise_for_status()
            return index, reply.json()["choices"][0]["message"]["content"]
        if self.raise_when_all_fail:
            raise RuntimeError("no backend answered")
        return None


@caught_publicly
class FallbackRetries4xx(FallbackRight):
    retry_4xx = True


class FallbackNo5xxRetry(FallbackRight):
    retry_5xx = False


class FallbackNoTimeout(FallbackRight):
    use_timeout = False


@caught_publicly
class FallbackReturnsNone(FallbackRight):
    raise_when_all_fail = False


# --- 11 q3: log line -> fix and value ------------------------------------------------------------


def _number(pattern, message):
    return re.search(pattern, message, re.IGNORECASE).group(1)


def _fix(message, lower=True, served_is_pull=False, cut="difference", block=16, inverted=False):
    text = message.lower() if lower else message
    if "address already in use" in text:
        return "free-port", int(re.findall(r"[:,]\s*(\d+)\b", message)[-1])
    if "does not exist. valid aliases:" in text and not served_is_pull:
        return "use-served-name", _number(r"valid aliases:\s*([^,\s]+?)[,.]?(?:\s|,|$)", message)
    if "not found" in text or ("does not exist" in text and served_is_pull):
        name = re.search(r"""['"`]([^'"`]*)['"`]""", message)
        return "pull-model", name.group(1) if name else None
    if "maximum context length is" in text:
        limit = int(_number(r"maximum context length is (\d+)", message))
        prompt = int(_number(r"contains (?:at least )?(\d+) input tokens", message))
        return "shorten-prompt", prompt - limit if cut == "difference" else prompt
    if "kv cache is needed" in text:
        length = int(_number(r"max seq len \((\d+)\)", message))
        needed = float(_number(r"\(([\d.]+) GiB KV cache is needed", message))
        available = float(_number(r"KV cache memory \(([\d.]+) GiB\)", message))
        fits = length * (needed / available if inverted else available / needed)
        return "lower-max-model-len", int(fits) // block * block
    if "no available memory for the cache blocks" in text:
        return "raise-gpu-memory-utilization", None
    if "cuda out of memory" in text:
        return "free-gpu-memory", None
    return None, None


def fix_right(message):
    return _fix(message)


def fix_case_sensitive(message):
    return _fix(message, lower=False)


@caught_publicly
def fix_served_name_is_pulled(message):
    """Reads vLLM's 'does not exist' as Ollama's missing model: pull it."""
    return _fix(message, served_is_pull=True)


@caught_publicly
def fix_cut_whole_prompt(message):
    """Gives the prompt's length instead of how much to cut."""
    return _fix(message, cut="prompt")


@caught_publicly
def fix_ratio_inverted(message):
    """Scales max_model_len by needed / available."""
    return _fix(message, inverted=True)


def fix_not_block_aligned(message):
    return _fix(message, block=1)


def fix_any_memory_is_gpu(message):
    """Reads every 'memory' message as a GPU out of memory."""
    if "memory" in message.lower() and "address already in use" not in message.lower():
        return "free-gpu-memory", None
    return _fix(message)


CASES = {
    ("11_choosing", "q1"): ("choose_engine", choose_right,
                            [choose_needs_nvidia, choose_mib_read_as_gb, choose_ignores_os, choose_four_users_is_many,
                             choose_whole_gpu, choose_never_raises]),
    ("11_choosing", "q2"): ("FallbackClient", FallbackRight,
                            [FallbackRetries4xx, FallbackNo5xxRetry, FallbackNoTimeout, FallbackReturnsNone]),
    ("11_choosing", "q3"): ("fix_for", fix_right,
                            [fix_case_sensitive, fix_served_name_is_pulled, fix_cut_whole_prompt, fix_ratio_inverted,
                             fix_not_block_aligned, fix_any_memory_is_gpu]),
}


def shared(question: str, request) -> dict:
    """The names the exercise's first cell defines."""
    return dict(math=math, re=re)
