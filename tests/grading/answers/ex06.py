"""Right and plausible wrong answers for exercise 06_sampling (see __init__)."""

from __future__ import annotations

import numpy as np

from .marks import caught_publicly


# --- 06: sampling --------------------------------------------------------------------------


def softmax_right(logits, temperature=1.0):
    if temperature <= 0:
        raise ValueError("temperature")
    z = np.asarray(logits, dtype=np.float64) / temperature
    e = np.exp(z - z.max())
    return e / e.sum()


@caught_publicly
def softmax_overflows(logits, temperature=1.0):
    e = np.exp(np.asarray(logits, dtype=np.float64) / temperature)
    return e / e.sum()


def softmax_multiplies(logits, temperature=1.0):
    return softmax_right(np.asarray(logits) * temperature * temperature, temperature) if temperature > 0 else softmax_right(logits, temperature)


def top_k_right(logits, k):
    out = np.array(logits, dtype=np.float64)
    if 0 < k < out.size:
        out[out < np.sort(out)[-k]] = -np.inf
    return out


@caught_publicly
def top_k_exactly_k(logits, k):
    """llama.cpp's rule, where the question asks for vLLM's: a tie at the k-th logit is cut."""
    out = np.array(logits, dtype=np.float64)
    if 0 < k < out.size:
        out[np.argsort(out, kind="stable")[:-k]] = -np.inf
    return out


@caught_publicly
def top_k_smallest(logits, k):
    out = np.array(logits, dtype=np.float64)
    if 0 < k < out.size:
        out[np.argsort(out)[k:]] = -np.inf
    return out


@caught_publicly
def top_k_in_place(logits, k):
    if 0 < k < logits.size:
        logits[np.argsort(logits)[:-k]] = -np.inf
    return logits


def _top_p(logits, p, crossing=True, on_probs=True):
    out = np.array(logits, dtype=np.float64)
    if p >= 1:
        return out
    weights = np.exp(out - out.max()) if on_probs else out - out.min()
    weights = weights / weights.sum()
    order = np.argsort(-weights, kind="stable")
    keep = int(np.searchsorted(np.cumsum(weights[order]), p)) + (1 if crossing else 0)
    out[order[max(keep, 1):]] = -np.inf
    return out


def top_p_right(logits, p):
    return _top_p(logits, p)


@caught_publicly
def top_p_without_crossing_token(logits, p):
    return _top_p(logits, p, crossing=False)


def top_p_on_logits(logits, p):
    return _top_p(logits, p, on_probs=False)


def min_p_right(logits, min_p):
    out = np.array(logits, dtype=np.float64)
    out[np.exp(out - out.max()) < min_p] = -np.inf
    return out


def min_p_absolute(logits, min_p):
    out = np.array(logits, dtype=np.float64)
    out[softmax_right(out) < min_p] = -np.inf
    return out


def _penalties(logits, previous, repetition=1.0, presence=0.0, frequency=0.0, invert=False, count=True):
    out = np.array(logits, dtype=np.float64)
    ids, counts = np.unique(np.asarray(previous, dtype=int), return_counts=True)
    if ids.size:
        seen = out[ids]
        if invert:
            seen = np.where(seen > 0, seen * repetition, seen / repetition)
        else:
            seen = np.where(seen > 0, seen / repetition, seen * repetition)
        out[ids] = seen - presence - frequency * (counts if count else 1)
    return out


def penalties_right(*args, **kwargs):
    return _penalties(*args, **kwargs)


@caught_publicly
def penalties_wrong_direction(*args, **kwargs):
    return _penalties(*args, **kwargs, invert=True)


def penalties_frequency_once(*args, **kwargs):
    return _penalties(*args, **kwargs, count=False)


def _sample(logits, seed, engine="vllm", temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, order=None, rng="new"):
    if temperature == 0:
        return int(np.argmax(logits))
    z = np.asarray(logits, dtype=np.float64)
    order = order or engine
    if order == "vllm":  # temperature, min-p, top-k, top-p
        z = top_p_right(top_k_right(min_p_right(z / temperature, min_p), top_k), top_p)
    elif order == "llama.cpp":  # top-k, top-p, min-p, temperature last
        z = min_p_right(top_p_right(top_k_right(z, top_k), top_p), min_p) / temperature
    else:  # Ollama's Go sampler: top-k, temperature, top-p, min-p
        z = min_p_right(top_p_right(top_k_right(z, top_k) / temperature, top_p), min_p)
    probs = softmax_right(z)
    if rng == "legacy":
        np.random.seed(seed)
        return int(np.random.choice(len(probs), p=probs))
    return int(np.random.default_rng(seed).choice(len(probs), p=probs))


def sample_right(*args, **kwargs):
    return _sample(*args, **kwargs)


@caught_publicly
def sample_vllm_order_for_both(*args, **kwargs):
    """Ignores ``engine``: vLLM's order even when llama.cpp's is asked for."""
    return _sample(*args, **kwargs, order="vllm")


@caught_publicly
def sample_llama_cpp_order_for_both(*args, **kwargs):
    """Ignores ``engine``: temperature last even when vLLM's order is asked for."""
    return _sample(*args, **kwargs, order="llama.cpp")


def sample_ollama_go_order_for_vllm(logits, seed, engine="vllm", *args, **kwargs):
    """Takes Ollama's Go order (min-p after top-p) for vLLM's."""
    return _sample(logits, seed, engine, *args, **kwargs, order="ollama-go" if engine == "vllm" else engine)


def sample_legacy_rng(*args, **kwargs):
    return _sample(*args, **kwargs, rng="legacy")


def _to_vllm(options, rename=True, sentinels=True):
    same = ("temperature", "top_p", "top_k", "min_p", "presence_penalty", "frequency_penalty", "stop")
    params = {k: options[k] for k in same if k in options}
    if "repeat_penalty" in options:
        params["repetition_penalty" if rename else "repeat_penalty"] = options["repeat_penalty"]
    if "num_predict" in options:
        params["max_tokens"] = None if sentinels and options["num_predict"] < 0 else options["num_predict"]
    if "seed" in options:
        params["seed"] = None if sentinels and options["seed"] < 0 else options["seed"]
    return params


def to_vllm_right(options):
    return _to_vllm(options)


@caught_publicly
def to_vllm_keeps_repeat_penalty(options):
    return _to_vllm(options, rename=False)


def to_vllm_keeps_sentinels(options):
    return _to_vllm(options, sentinels=False)


@caught_publicly
def to_vllm_passes_everything(options):
    return {**options, **_to_vllm(options)}


# --- 06 q8: predict how often vLLM draws its top token ---------------------------------------


def _share(logprobs, temperature, top_k=0, top_p=1.0, scale="divide", order="vllm", renormalise=True,
           normalise=True, ties=True, crossing=True, p_before_k=False, greedy=True, first=False):
    values = np.array(list(logprobs.values()), dtype=np.float64)
    top = 0 if first else int(np.argmax(values))
    if temperature == 0:
        if not greedy:
            raise ZeroDivisionError("float division by zero")
        return 1.0
    scaled = values * temperature if scale == "multiply" else values if scale == "ignore" else values / temperature
    base = values if order == "llama.cpp" else scaled  # llama.cpp: the filters see the T = 1 distribution
    k_filter = top_k_right if ties else top_k_exactly_k
    p_filter = top_p_right if crossing else top_p_without_crossing_token
    kept = p_filter(k_filter(base, top_k), top_p) if not p_before_k else k_filter(p_filter(base, top_p), top_k)
    final = np.where(np.isfinite(kept), scaled, -np.inf)
    if not renormalise:  # the top token's probability before the filters removed anything
        return float(softmax_right(scaled)[top])
    if not normalise:
        return float(np.exp(final[top]))
    return float(softmax_right(final)[top])


def share_right(*args, **kwargs):
    return _share(*args, **kwargs)


@caught_publicly
def share_ignores_temperature(*args, **kwargs):
    """Applies the filters to vLLM's logprobs as they are: forgets that they are the T = 1 distribution."""
    return _share(*args, **kwargs, scale="ignore")


@caught_publicly
def share_multiplies_temperature(*args, **kwargs):
    return _share(*args, **kwargs, scale="multiply")


@caught_publicly
def share_not_renormalised(*args, **kwargs):
    """Divides by the temperature, then forgets the filters: never renormalises over the kept tokens."""
    return _share(*args, **kwargs, renormalise=False)


@caught_publicly
def share_unnormalised(*args, **kwargs):
    """exp(logprob / T) of the top token: a probability only at T = 1 over a whole vocabulary."""
    return _share(*args, **kwargs, normalise=False)


def share_llama_cpp_order(*args, **kwargs):
    """The filters on the T = 1 distribution, the temperature last: llama.cpp's order, not vLLM's."""
    return _share(*args, **kwargs, order="llama.cpp")


def share_top_k_exactly_k(*args, **kwargs):
    return _share(*args, **kwargs, ties=False)


def share_top_p_without_crossing(*args, **kwargs):
    return _share(*args, **kwargs, crossing=False)


def share_top_p_before_top_k(*args, **kwargs):
    return _share(*args, **kwargs, p_before_k=True)


def share_greedy_divides_by_zero(*args, **kwargs):
    return _share(*args, **kwargs, greedy=False)


def share_first_key_is_top(*args, **kwargs):
    """Takes the dict's first entry for the most likely token (the vLLM reply's is; a dict need not be)."""
    return _share(*args, **kwargs, first=True)


def shared(question: str, request) -> dict:
    """Names the tests use besides the answer: q6 (and q8, if it likes) uses the learner's own
    filters, here the right ones, so that only ``sample`` is judged; q8's hidden test also reads
    the learner's explanation."""
    names = dict(np=np, model=request.getfixturevalue("next_token"), softmax=softmax_right,
                 top_k_filter=top_k_right, top_p_filter=top_p_right, min_p_filter=min_p_right)
    if question == "q8":
        names["WHY_THE_GAP"] = ("With top-k 5 the gap is sampling noise; with top-k off the tokens outside the "
                                "top 20 can be drawn too.")
    return names

CASES = {
    ("06_sampling", "q1"): ("softmax", softmax_right, [softmax_overflows, softmax_multiplies]),
    ("06_sampling", "q2"): ("top_k_filter", top_k_right, [top_k_smallest, top_k_in_place, top_k_exactly_k]),
    ("06_sampling", "q3"): ("top_p_filter", top_p_right, [top_p_without_crossing_token, top_p_on_logits]),
    ("06_sampling", "q4"): ("min_p_filter", min_p_right, [min_p_absolute]),
    ("06_sampling", "q5"): ("apply_penalties", penalties_right, [penalties_wrong_direction, penalties_frequency_once]),
    ("06_sampling", "q6"): ("sample", sample_right, [sample_vllm_order_for_both, sample_llama_cpp_order_for_both,
                                                     sample_ollama_go_order_for_vllm, sample_legacy_rng]),
    ("06_sampling", "q7"): ("ollama_to_vllm", to_vllm_right,
                            [to_vllm_keeps_repeat_penalty, to_vllm_keeps_sentinels, to_vllm_passes_everything]),
    ("06_sampling", "q8"): ("predict_top_share", share_right,
                            [share_ignores_temperature, share_multiplies_temperature, share_not_renormalised,
                             share_unnormalised, share_llama_cpp_order, share_top_k_exactly_k,
                             share_top_p_without_crossing, share_top_p_before_top_k, share_greedy_divides_by_zero,
                             share_first_key_is_top]),
}
