"""Right and plausible wrong answers for exercise 04_vllm (see __init__)."""

from __future__ import annotations

from .marks import caught_publicly

# --- 04 q1: batch generation ------------------------------------------------------------


def texts_right(llm, prompts, params):
    return [o.outputs[0].text for o in llm.generate(prompts, params, use_tqdm=False)] if prompts else []


@caught_publicly
def texts_loop(llm, prompts, params):
    return [llm.generate([p], params, use_tqdm=False)[0].outputs[0].text for p in prompts]


@caught_publicly
def texts_request_outputs(llm, prompts, params):
    return list(llm.generate(prompts, params, use_tqdm=False))


# --- 04 q2: requests admitted, contiguous vs paged ------------------------------------------


def _fcfs(sizes, capacity, skip_ahead=False):
    used = count = 0
    for size in sizes:
        if used + size > capacity:
            if skip_ahead:
                continue
            break
        used += size
        count += 1
    return count


def _admitted(kv_tokens, lengths, max_len, block, contiguous_by_length=False, paged_by_tokens=False, skip_ahead=False):
    contiguous = _fcfs(list(lengths) if contiguous_by_length else [max_len] * len(lengths), kv_tokens, skip_ahead)
    if paged_by_tokens:
        paged = _fcfs(list(lengths), kv_tokens, skip_ahead)
    else:
        paged = _fcfs([-(-n // block) for n in lengths], kv_tokens // block, skip_ahead)
    return {"contiguous": contiguous, "paged": paged}


def admitted_right(*args):
    return _admitted(*args)


@caught_publicly
def admitted_contiguous_by_length(*args):
    """Reserves each request's own length in the contiguous case: that is paging without blocks."""
    return _admitted(*args, contiguous_by_length=True)


def admitted_paged_by_tokens(*args):
    """Counts tokens, not whole blocks, in the paged case."""
    return _admitted(*args, paged_by_tokens=True)


def admitted_skips_ahead(*args):
    """Lets small requests overtake one that does not fit (not FCFS)."""
    return _admitted(*args, skip_ahead=True)


# --- 04 q3: does it start, how many at once --------------------------------------------------


def _concurrency(gpu_gib, utilization, weights_gib, config, max_len, block=16, dtype_bytes=2, unit=2**30,
                 gqa_fallback=True, own_head_dim=True, whole=True, refuse=True):
    heads = config["num_attention_heads"]
    kv_heads = (config.get("num_key_value_heads") or heads) if gqa_fallback else config["num_key_value_heads"]
    head_dim = (config.get("head_dim") if own_head_dim else None) or config["hidden_size"] // heads
    per_token = 2 * config["num_hidden_layers"] * kv_heads * head_dim * dtype_bytes
    blocks = (gpu_gib * utilization - weights_gib) * unit / (block * per_token)
    blocks = max(0, int(blocks)) if whole else max(0.0, blocks)
    if refuse and blocks * block < max_len:
        raise ValueError("does not fit")
    return blocks * block / max_len


def concurrency_right(*args, **kwargs):
    return _concurrency(*args, **kwargs)


@caught_publicly
def concurrency_gigabytes(*args, **kwargs):
    """Takes GiB as 10^9 bytes."""
    return _concurrency(*args, **kwargs, unit=1e9)


@caught_publicly
def concurrency_partial_blocks(*args, **kwargs):
    return _concurrency(*args, **kwargs, whole=False)


def concurrency_no_gqa_fallback(*args, **kwargs):
    return _concurrency(*args, **kwargs, gqa_fallback=False)


def concurrency_derived_head_dim(*args, **kwargs):
    return _concurrency(*args, **kwargs, own_head_dim=False)


def concurrency_never_refuses(*args, **kwargs):
    return _concurrency(*args, **kwargs, refuse=False)


# --- 04 q4: predict the prefix cache ---------------------------------------------------------


def cached_right(shared, prompt_len, block):
    return min(shared, prompt_len - 1) // block * block


@caught_publicly
def cached_every_shared_token(shared, prompt_len, block):
    """Forgets that only whole blocks are cached."""
    return shared


@caught_publicly
def cached_rounds_up(shared, prompt_len, block):
    return -(-shared // block) * block


def cached_whole_prompt(shared, prompt_len, block):
    """Whole blocks, but forgets that the last prompt token is always computed."""
    return shared // block * block


# --- 04 q5: vLLM's extra fields -------------------------------------------------------------


def _vllm_chat(base_url, messages, max_tokens, top_k, min_p, repetition_penalty, how="extra_body", model=None):
    from openai import OpenAI

    client = OpenAI(base_url=base_url, api_key="EMPTY")
    fields = {"top_k": top_k, "min_p": min_p, "repetition_penalty": repetition_penalty}
    kwargs = {"extra_body": fields} if how == "extra_body" else {"extra_body": {"extra_body": fields}} if how == "nested" else {}
    reply = client.chat.completions.create(model=model or client.models.list().data[0].id, messages=messages,
                                           max_tokens=max_tokens, **kwargs)
    return reply.choices[0].message.content


def vllm_chat_right(*args):
    return _vllm_chat(*args)


def vllm_chat_nested_extra_body(*args):
    return _vllm_chat(*args, how="nested")


def vllm_chat_drops_fields(*args):
    return _vllm_chat(*args, how="none")


def vllm_chat_ollama_name(*args):
    return _vllm_chat(*args, model="smollm2:135m")


def shared(question: str, request) -> dict:
    """The session's vLLM server; for q1 an offline engine in this process; for q4 the
    right letter, so that only the function is judged."""
    import course_lib

    names = dict(VLLM=request.getfixturevalue("vllm_base_url"), cl=course_lib, WHY_IDENTICAL="b")
    if question == "q1":
        from vllm import SamplingParams

        names.update(llm=request.getfixturevalue("offline_llm"), SamplingParams=SamplingParams)
    return names


CASES = {
    ("04_vllm", "q1"): ("generate_texts", texts_right, [texts_loop, texts_request_outputs]),
    ("04_vllm", "q2"): ("admitted", admitted_right,
                        [admitted_contiguous_by_length, admitted_paged_by_tokens, admitted_skips_ahead]),
    ("04_vllm", "q3"): ("max_concurrency", concurrency_right,
                        [concurrency_gigabytes, concurrency_partial_blocks, concurrency_no_gqa_fallback,
                         concurrency_derived_head_dim, concurrency_never_refuses]),
    ("04_vllm", "q4"): ("predict_cached_tokens", cached_right,
                        [cached_every_shared_token, cached_rounds_up, cached_whole_prompt]),
    ("04_vllm", "q5"): ("vllm_chat", vllm_chat_right,
                        [vllm_chat_nested_extra_body, vllm_chat_drops_fields, vllm_chat_ollama_name]),
}
