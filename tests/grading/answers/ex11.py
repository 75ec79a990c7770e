"""Right and plausible wrong answers for exercise 11_choosing (see __init__)."""

from __future__ import annotations


import requests


# --- 11 q1: choose an engine ----------------------------------------------------------------


def _choose(r, users_limit=4, check_os=True, headroom=0.9, raise_too_big=True):
    if (check_os and r["os"] != "linux") or r["nvidia_gpus"] < 1:
        return "ollama"
    if r["weights_gib"] > headroom * r["gpu_gib"]:
        if raise_too_big and r["weights_gib"] > headroom * r["gpu_gib"] * r["nvidia_gpus"]:
            raise ValueError("too big")
        return "vllm"
    return "vllm" if r["concurrent_users"] > users_limit or r["production"] else "ollama"


def choose_right(requirements):
    return _choose(requirements)


def choose_ignores_os(requirements):
    return _choose(requirements, check_os=False)


def choose_four_users_is_many(requirements):
    return _choose(requirements, users_limit=3)


def choose_whole_gpu(requirements):
    return _choose(requirements, headroom=1.0)


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


class FallbackRetries4xx(FallbackRight):
    retry_4xx = True


class FallbackNo5xxRetry(FallbackRight):
    retry_5xx = False


class FallbackNoTimeout(FallbackRight):
    use_timeout = False


class FallbackReturnsNone(FallbackRight):
    raise_when_all_fail = False


# --- 11 q3: error → fix ---------------------------------------------------------------------

_FIX_RULES = [
    ("free-port", ("address already in use",)),
    ("pull-model", ("not found", "does not exist")),
    ("shorten-prompt", ("maximum context length", "longer than the context length")),
    ("more-kv-memory", ("kv cache is needed", "no available memory for the cache blocks")),
    ("free-gpu-memory", ("cuda out of memory",)),
]


def _fix(message, rules=_FIX_RULES, lower=True):
    text = message.lower() if lower else message
    return next((key for key, needles in rules if any(n in text for n in needles)), None)


def fix_right(message):
    return _fix(message)


def fix_case_sensitive(message):
    return _fix(message, lower=False)


def fix_only_not_found(message):
    return _fix(message, [(k, ("not found",) if k == "pull-model" else n) for k, n in _FIX_RULES])


def fix_any_memory_is_gpu(message):
    """Reads every 'memory' message as a GPU out of memory."""
    rules = [r for r in _FIX_RULES if r[0] != "more-kv-memory"]
    return _fix(message, [*rules[:-1], ("free-gpu-memory", ("memory",))])


CASES = {
    ("11_choosing", "q1"): ("choose_engine", choose_right,
                            [choose_ignores_os, choose_four_users_is_many, choose_whole_gpu, choose_never_raises]),
    ("11_choosing", "q2"): ("FallbackClient", FallbackRight,
                            [FallbackRetries4xx, FallbackNo5xxRetry, FallbackNoTimeout, FallbackReturnsNone]),
    ("11_choosing", "q3"): ("fix_for", fix_right, [fix_case_sensitive, fix_only_not_found, fix_any_memory_is_gpu]),
}
