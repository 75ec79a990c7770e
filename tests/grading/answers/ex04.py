"""Right and plausible wrong answers for exercise 04_vllm (see __init__)."""

from __future__ import annotations




# --- 04 q1: batch generation ------------------------------------------------------------


def texts_right(llm, prompts, params):
    return [o.outputs[0].text for o in llm.generate(prompts, params, use_tqdm=False)]


def texts_loop(llm, prompts, params):
    return [llm.generate([p], params, use_tqdm=False)[0].outputs[0].text for p in prompts]


def texts_request_outputs(llm, prompts, params):
    return list(llm.generate(prompts, params, use_tqdm=False))


# --- 04 q2: KV bytes per token -----------------------------------------------------------


def _kv(config, dtype_bytes=2, gqa=True, factor=2, own_head_dim=True):
    heads = config["num_attention_heads"]
    kv_heads = (config.get("num_key_value_heads") or heads) if gqa else heads
    head_dim = (config.get("head_dim") if own_head_dim else None) or config["hidden_size"] // heads
    return factor * config["num_hidden_layers"] * kv_heads * head_dim * dtype_bytes


def kv_right(config, dtype_bytes=2):
    return _kv(config, dtype_bytes)


def kv_attention_heads(config, dtype_bytes=2):
    return _kv(config, dtype_bytes, gqa=False)


def kv_keys_only(config, dtype_bytes=2):
    return _kv(config, dtype_bytes, factor=1)


def kv_derived_head_dim(config, dtype_bytes=2):
    return _kv(config, dtype_bytes, own_head_dim=False)


# --- 04 q3: blocks and concurrency --------------------------------------------------------


def _capacity(memory, utilization, weights, per_token, block, max_len, unit=2**30, whole=True, int_concurrency=False):
    blocks = (memory * utilization - weights) * unit / (block * per_token)
    blocks = int(blocks) if whole else blocks
    tokens = blocks * block
    return {"blocks": blocks, "tokens": tokens, "max_concurrency": tokens // max_len if int_concurrency else tokens / max_len}


def capacity_right(*args):
    return _capacity(*args)


def capacity_gigabytes(*args):
    return _capacity(*args, unit=1e9)


def capacity_partial_blocks(*args):
    return _capacity(*args, whole=False)


def capacity_whole_concurrency(*args):
    return _capacity(*args, int_concurrency=True)


# --- 04 q4: contiguous vs paged -----------------------------------------------------------


def waste_right(lengths, max_len, block):
    if not lengths:
        return {"contiguous": 0.0, "paged": 0.0}
    used = sum(lengths)
    return {"contiguous": 1 - used / (max_len * len(lengths)),
            "paged": 1 - used / sum(-(-n // block) * block for n in lengths)}


def waste_floor_blocks(lengths, max_len, block):
    if not lengths:
        return {"contiguous": 0.0, "paged": 0.0}
    used = sum(lengths)
    return {"contiguous": 1 - used / (max_len * len(lengths)),
            "paged": 1 - used / max(1, sum(n // block * block for n in lengths))}


def waste_mean_of_fractions(lengths, max_len, block):
    if not lengths:
        return {"contiguous": 0.0, "paged": 0.0}
    return {"contiguous": sum(1 - n / max_len for n in lengths) / len(lengths),
            "paged": sum(1 - n / (-(-n // block) * block) for n in lengths) / len(lengths)}


def waste_crashes_when_idle(lengths, max_len, block):
    used = sum(lengths)
    return {"contiguous": 1 - used / (max_len * len(lengths)),
            "paged": 1 - used / sum(-(-n // block) * block for n in lengths)}


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
    """The session's vLLM server, and for q1 an offline engine in this process."""
    import course_lib

    names = dict(VLLM=request.getfixturevalue("vllm_base_url"), cl=course_lib)
    if question == "q1":
        from vllm import SamplingParams

        names.update(llm=request.getfixturevalue("offline_llm"), SamplingParams=SamplingParams)
    return names

CASES = {
    ("04_vllm", "q1"): ("generate_texts", texts_right, [texts_loop, texts_request_outputs]),
    ("04_vllm", "q2"): ("kv_bytes_per_token", kv_right, [kv_attention_heads, kv_keys_only, kv_derived_head_dim]),
    ("04_vllm", "q3"): ("kv_capacity", capacity_right,
                        [capacity_gigabytes, capacity_partial_blocks, capacity_whole_concurrency]),
    ("04_vllm", "q4"): ("kv_waste", waste_right, [waste_floor_blocks, waste_mean_of_fractions, waste_crashes_when_idle]),
    ("04_vllm", "q5"): ("vllm_chat", vllm_chat_right,
                        [vllm_chat_nested_extra_body, vllm_chat_drops_fields, vllm_chat_ollama_name]),
}
