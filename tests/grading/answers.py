"""Right and plausible wrong answers for every question, run against its real tests.

Each entry: (exercise, question) -> (name the tests call, right answer, wrong answers).
A wrong answer is a mistake a learner could make; each must lose points.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import requests

# --- 00 ------------------------------------------------------------------------------


def lab_header_right(headers):
    return any(k.lower() == "x-course-lab" for k in headers)


def lab_header_case_sensitive(headers):
    return "X-Course-Lab" in headers


def lab_header_always(headers):
    return True


def lab_header_value_must_be_set(headers):
    return any(k.lower() == "x-course-lab" and v for k, v in headers.items())


# --- 01 q1: names ------------------------------------------------------------------------


def name_right(name):
    parts = name.split("/")
    if not name or len(parts) > 3:
        raise ValueError(name)
    model, _, tag = parts[-1].partition(":") if ":" in parts[-1] else (parts[-1], "", "latest")
    host, namespace = (["registry.ollama.ai", "library"][: 3 - len(parts)] + parts[:-1])[-2:]
    result = {"host": host, "namespace": namespace, "model": model, "tag": tag}
    if not all(result.values()):
        raise ValueError(name)
    return result


def name_first_colon(name):
    """Splits the tag at the first ':', so a host's port becomes a tag."""
    rest, _, tag = name.partition(":")
    parts = rest.split("/")
    host, namespace = (["registry.ollama.ai", "library"][: 3 - len(parts)] + parts[:-1])[-2:]
    return {"host": host, "namespace": namespace, "model": parts[-1], "tag": tag or "latest"}


def name_no_default_tag(name):
    result = name_right(name)
    return result if ":" in name.split("/")[-1] else {**result, "tag": ""}


def name_never_raises(name):
    try:
        return name_right(name)
    except ValueError:
        return {"host": "", "namespace": "", "model": "", "tag": ""}


# --- 01 q2: tags -----------------------------------------------------------------------


def _tags(base_url):
    return [(m["name"], m["size"]) for m in requests.get(f"{base_url}/api/tags", timeout=30).json()["models"]]


def by_size_right(base_url):
    return sorted(_tags(base_url), key=lambda e: e[1], reverse=True)


def by_size_ascending(base_url):
    return sorted(_tags(base_url), key=lambda e: e[1])


def by_size_names_sorted(base_url):
    return sorted(_tags(base_url))


# --- 01 q3: memory -----------------------------------------------------------------------

_BITS = {"F32": 32, "F16": 16, "BF16": 16, "Q8_0": 8.5, "Q4_1": 5.0, "Q4_0": 4.5}


def _memory(params, quantization, context, layers, kv_heads, head_dim, bits=_BITS, kv_factor=2, unit=1e9, upper=True):
    key = quantization.upper() if upper else quantization
    if key not in bits:
        raise ValueError(quantization)
    weights = params * bits[key] / 8 / unit
    kv = kv_factor * layers * kv_heads * head_dim * 2 * context / unit
    return {"weights": weights, "kv_cache": kv, "total": weights + kv}


def memory_right(*args):
    return _memory(*args)


def memory_no_k_and_v(*args):
    return _memory(*args, kv_factor=1)


def memory_four_bits(*args):
    return _memory(*args, bits={**_BITS, "Q4_0": 4.0, "Q4_1": 4.0, "Q8_0": 8.0})


def memory_case_sensitive(*args):
    return _memory(*args, upper=False)


def memory_gibibytes(*args):
    return _memory(*args, unit=2**30)


# --- 01 q4: blobs ----------------------------------------------------------------------


def _manifest(models_dir, name):
    p = name_right(name)
    path = Path(models_dir, "manifests", p["host"], p["namespace"], p["model"], p["tag"])
    if not path.is_file():
        raise FileNotFoundError(path)
    return json.loads(path.read_text())["layers"]


def blob_right(models_dir, name):
    layer = next(l for l in _manifest(models_dir, name) if l["mediaType"].endswith(".model"))
    return Path(models_dir, "blobs", layer["digest"].replace(":", "-"))


def blob_first_layer(models_dir, name):
    return Path(models_dir, "blobs", _manifest(models_dir, name)[0]["digest"].replace(":", "-"))


def blob_colon_name(models_dir, name):
    layer = next(l for l in _manifest(models_dir, name) if l["mediaType"].endswith(".model"))
    return Path(models_dir, "blobs", layer["digest"])


def blob_no_defaults(models_dir, name):
    path = Path(models_dir, "manifests", *name.replace(":", "/").split("/"))
    layers = json.loads(path.read_text())["layers"]
    layer = next(l for l in layers if l["mediaType"].endswith(".model"))
    return Path(models_dir, "blobs", layer["digest"].replace(":", "-"))


# --- 02 q1: generate --------------------------------------------------------------------


def generate_right(base_url, model, prompt, options=None):
    body = {"model": model, "prompt": prompt, "stream": False, **({"options": options} if options else {})}
    reply = requests.post(f"{base_url}/api/generate", json=body, timeout=120)
    reply.raise_for_status()
    return reply.json()


def generate_ignores_options(base_url, model, prompt, options=None):
    return generate_right(base_url, model, prompt)


def generate_no_status_check(base_url, model, prompt, options=None):
    body = {"model": model, "prompt": prompt, "stream": False, "options": options or {}}
    return requests.post(f"{base_url}/api/generate", json=body, timeout=120).json()


def generate_streams(base_url, model, prompt, options=None):
    """Forgets that /api/* streams by default: .json() of NDJSON fails."""
    body = {"model": model, "prompt": prompt, "options": options or {}}
    reply = requests.post(f"{base_url}/api/generate", json=body, timeout=120)
    reply.raise_for_status()
    return reply.json()


# --- 02 q2: streaming chat -------------------------------------------------------------


def _chat_lines(base_url, model, messages, options):
    body = {"model": model, "messages": messages, "stream": True, **({"options": options} if options else {})}
    with requests.post(f"{base_url}/api/chat", json=body, stream=True, timeout=120) as reply:
        for line in reply.iter_lines():
            if line:
                yield json.loads(line)


def stream_right(base_url, model, messages, options=None):
    for chunk in _chat_lines(base_url, model, messages, options):
        if "error" in chunk:
            raise RuntimeError(chunk["error"])
        if chunk["message"]["content"]:
            yield chunk["message"]["content"]
        if chunk["done"]:
            return


def stream_whole_reply(base_url, model, messages, options=None):
    body = {"model": model, "messages": messages, "stream": False, "options": options or {}}
    yield requests.post(f"{base_url}/api/chat", json=body, timeout=120).json()["message"]["content"]


def stream_returns_list(base_url, model, messages, options=None):
    return [c["message"]["content"] for c in _chat_lines(base_url, model, messages, options)]


def stream_yields_chunks(base_url, model, messages, options=None):
    yield from _chat_lines(base_url, model, messages, options)


# --- 02 q3: tokens per second ----------------------------------------------------------


def tps_right(reply):
    def rate(c, d):
        return reply.get(c, 0) / reply[d] * 1e9 if reply.get(c) and reply.get(d) else None

    return {"prompt": rate("prompt_eval_count", "prompt_eval_duration"), "generation": rate("eval_count", "eval_duration")}


def tps_milliseconds(reply):
    return {k: v / 1e6 if v else v for k, v in tps_right(reply).items()}


def tps_total_duration(reply):
    return {"prompt": tps_right(reply)["prompt"], "generation": reply["eval_count"] / reply["total_duration"] * 1e9}


def tps_crashes_on_missing(reply):
    return {"prompt": reply["prompt_eval_count"] / reply["prompt_eval_duration"] * 1e9,
            "generation": reply["eval_count"] / reply["eval_duration"] * 1e9}


# --- 02 q4: chat session ---------------------------------------------------------------


class SessionRight:
    send_history = True
    keep_reply = True
    send_options = True

    def __init__(self, base_url, model, system=None, options=None):
        self.base_url, self.model, self.options = base_url, model, options
        self.history = [{"role": "system", "content": system}] if system else []

    def ask(self, text):
        self.history.append({"role": "user", "content": text})
        sent = self.history if self.send_history else self.history[-1:]
        body = {"model": self.model, "messages": sent, "stream": False}
        if self.options and self.send_options:
            body["options"] = self.options
        content = requests.post(f"{self.base_url}/api/chat", json=body, timeout=120).json()["message"]["content"]
        if self.keep_reply:
            self.history.append({"role": "assistant", "content": content})
        return content


class SessionSendsLatestOnly(SessionRight):
    send_history = False


class SessionForgetsReplies(SessionRight):
    keep_reply = False


class SessionDropsOptions(SessionRight):
    send_options = False


# --- 02 q5: robust call ----------------------------------------------------------------


def _robust(base_url, model, prompt, options=None, timeout=30.0, retries=3, backoff=0.5,
            retry_404=False, lookup=True, use_timeout=True):
    body = {"model": model, "prompt": prompt, "stream": False, **({"options": options} if options else {})}
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            reply = requests.post(f"{base_url}/api/generate", json=body, timeout=timeout if use_timeout else None)
        except (requests.ConnectionError, requests.Timeout):
            continue
        if reply.status_code == 503 or (reply.status_code == 404 and retry_404):
            continue
        if reply.status_code == 404 and lookup:
            raise LookupError(f"model {model!r} not found: pull it first")
        reply.raise_for_status()
        return reply.json()["response"]
    if retry_404:
        raise LookupError(f"model {model!r} not found after {retries + 1} attempts")
    raise RuntimeError(f"no answer after {retries + 1} attempts")


def robust_right(*args, **kwargs):
    return _robust(*args, **kwargs)


def robust_retries_404(*args, **kwargs):
    return _robust(*args, **kwargs, retry_404=True)


def robust_http_error_on_404(*args, **kwargs):
    return _robust(*args, **kwargs, lookup=False)


def robust_no_timeout(*args, **kwargs):
    return _robust(*args, **kwargs, use_timeout=False)


def robust_no_retry(*args, **kwargs):
    return _robust(*args, **{**kwargs, "retries": 0})


# --- 02 q6: structured output ----------------------------------------------------------


def _ask_json(base_url, model, prompt, schema, options=None, fmt=None, validate=True):
    import jsonschema

    body = {"model": model, "messages": [{"role": "user", "content": prompt}], "format": fmt or schema,
            "stream": False, **({"options": options} if options else {})}
    content = requests.post(f"{base_url}/api/chat", json=body, timeout=120).json()["message"]["content"]
    if not validate:
        return content
    try:
        data = json.loads(content)
        jsonschema.validate(data, schema)
    except (ValueError, jsonschema.ValidationError) as error:
        raise ValueError(str(error)) from error
    return data


def json_right(*args):
    return _ask_json(*args)


def json_format_json(*args):
    return _ask_json(*args, fmt="json")


def json_returns_text(*args):
    return _ask_json(*args, validate=False)


def json_swallows_errors(*args):
    try:
        return _ask_json(*args)
    except ValueError:
        return {}


# --- 03 q1: a Modelfile ------------------------------------------------------------------

MODELFILE_RIGHT = '''FROM smollm2:135m
PARAMETER temperature 0.3
PARAMETER num_ctx 2048
PARAMETER stop <|im_end|>
PARAMETER stop User:
SYSTEM """You are a SQL tutor.
Answer with one SQL query."""
MESSAGE user List all tables.
MESSAGE assistant SELECT name FROM sqlite_master WHERE type='table';
'''
MODELFILE_ONE_LINE_SYSTEM = MODELFILE_RIGHT.replace('"""You are a SQL tutor.\nAnswer with one SQL query."""',
                                                    "You are a SQL tutor. Answer with one SQL query.")
MODELFILE_STOPS_ON_ONE_LINE = MODELFILE_RIGHT.replace("PARAMETER stop <|im_end|>\nPARAMETER stop User:",
                                                      'PARAMETER stop "<|im_end|> User:"')
MODELFILE_NO_EXAMPLE = MODELFILE_RIGHT.split("MESSAGE")[0]
MODELFILE_WRONG_CONTEXT = MODELFILE_RIGHT.replace("num_ctx 2048", "num_ctx 4096")


# --- 03 q2: parse a Modelfile ------------------------------------------------------------


def parse_right(text, case_sensitive=False, stop_list=True, need_from=True):
    result = {"from": None, "parameters": {}, "system": None, "template": None, "adapter": None,
              "messages": [], "license": []}
    lines, i = text.splitlines(), 0
    while i < len(lines):
        line, i = lines[i].strip(), i + 1
        if not line or line.startswith("#"):
            continue
        command, _, value = line.partition(" ")
        command, value = (command if case_sensitive else command.lower()), value.strip()
        if value.startswith('"""'):
            body = value[3:]
            while '"""' not in body:
                if i >= len(lines):
                    raise ValueError("unclosed")
                body, i = body + "\n" + lines[i], i + 1
            value = body[: body.index('"""')]
        elif len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if command == "from":
            result["from"] = value
        elif command == "parameter":
            name, _, param = value.partition(" ")
            param = param.strip().strip('"')
            if name == "stop" and stop_list:
                result["parameters"].setdefault("stop", []).append(param)
            else:
                result["parameters"][name] = [param] if name == "stop" else param
        elif command in ("system", "template", "adapter"):
            result[command] = value
        elif command == "license":
            result["license"].append(value)
        elif command == "message":
            role, _, content = value.partition(" ")
            if role not in ("system", "user", "assistant"):
                raise ValueError(role)
            result["messages"].append({"role": role, "content": content.strip()})
        else:
            raise ValueError(command)
    if need_from and result["from"] is None:
        raise ValueError("no FROM")
    return result


def parse_case_sensitive(text):
    return parse_right(text, case_sensitive=True)


def parse_last_stop_wins(text):
    return parse_right(text, stop_list=False)


def parse_without_from(text):
    return parse_right(text, need_from=False)


# --- 03 q3: create and read back -----------------------------------------------------------


def _create_and_read(base_url, name, base, system, parameters, decode=True, stops=True, check=True):
    body = {"model": name, "from": base, "system": system, "parameters": parameters, "stream": False}
    reply = requests.post(f"{base_url}/api/create", json=body, timeout=300)
    if reply.status_code >= 400 and check:
        raise RuntimeError(reply.json()["error"])
    info = requests.post(f"{base_url}/api/show", json={"model": name}, timeout=60).json()
    read = {}
    for line in info.get("parameters", "").splitlines():
        key, _, value = line.partition(" ")
        value = value.strip()
        if decode and value.startswith('"'):
            value = json.loads(value)
        if key == "stop" and stops:
            read.setdefault("stop", []).append(value)
        else:
            read[key] = [value] if key == "stop" else value
    return {"system": info.get("system"), "parameters": read}


def create_right(*args):
    return _create_and_read(*args)


def create_keeps_quotes(*args):
    return _create_and_read(*args, decode=False)


def create_last_stop_wins(*args):
    return _create_and_read(*args, stops=False)


def create_ignores_errors(*args):
    return _create_and_read(*args, check=False)


# --- 03 q4: ChatML ------------------------------------------------------------------------


def chatml_right(messages):
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages) + "<|im_start|>assistant\n"


def chatml_no_generation_prompt(messages):
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)


def chatml_no_newline_after_turn(messages):
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>" for m in messages) + "<|im_start|>assistant\n"


def chatml_drops_system(messages):
    return chatml_right([m for m in messages if m["role"] != "system"])


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


# --- 06: sampling --------------------------------------------------------------------------
import numpy as np  # noqa: E402


def softmax_right(logits, temperature=1.0):
    if temperature <= 0:
        raise ValueError("temperature")
    z = np.asarray(logits, dtype=np.float64) / temperature
    e = np.exp(z - z.max())
    return e / e.sum()


def softmax_overflows(logits, temperature=1.0):
    e = np.exp(np.asarray(logits, dtype=np.float64) / temperature)
    return e / e.sum()


def softmax_multiplies(logits, temperature=1.0):
    return softmax_right(np.asarray(logits) * temperature * temperature, temperature) if temperature > 0 else softmax_right(logits, temperature)


def top_k_right(logits, k):
    out = np.array(logits, dtype=np.float64)
    if 0 < k < out.size:
        out[np.argsort(out)[:-k]] = -np.inf
    return out


def top_k_smallest(logits, k):
    out = np.array(logits, dtype=np.float64)
    if 0 < k < out.size:
        out[np.argsort(out)[k:]] = -np.inf
    return out


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
    order = np.argsort(weights)[::-1]
    keep = int(np.searchsorted(np.cumsum(weights[order]), p)) + (1 if crossing else 0)
    out[order[max(keep, 1):]] = -np.inf
    return out


def top_p_right(logits, p):
    return _top_p(logits, p)


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


def penalties_wrong_direction(*args, **kwargs):
    return _penalties(*args, **kwargs, invert=True)


def penalties_frequency_once(*args, **kwargs):
    return _penalties(*args, **kwargs, count=False)


def _sample(logits, seed, temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, order="right", rng="new"):
    if temperature == 0:
        return int(np.argmax(logits))
    z = np.asarray(logits, dtype=np.float64)
    if order == "right":
        z = min_p_right(top_p_right(top_k_right(z / temperature, top_k), top_p), min_p)
    else:  # filters first, temperature last
        z = min_p_right(top_p_right(top_k_right(z, top_k), top_p), min_p) / temperature
    probs = softmax_right(z)
    if rng == "legacy":
        np.random.seed(seed)
        return int(np.random.choice(len(probs), p=probs))
    return int(np.random.default_rng(seed).choice(len(probs), p=probs))


def sample_right(*args, **kwargs):
    return _sample(*args, **kwargs)


def sample_temperature_last(*args, **kwargs):
    return _sample(*args, **kwargs, order="last")


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


def to_vllm_keeps_repeat_penalty(options):
    return _to_vllm(options, rename=False)


def to_vllm_keeps_sentinels(options):
    return _to_vllm(options, sentinels=False)


def to_vllm_passes_everything(options):
    return {**options, **_to_vllm(options)}



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


# --- 10 q1: metrics from token timestamps -------------------------------------------------


def metrics_right(sent, token_times):
    if not token_times:
        raise ValueError("no token")
    ttft, e2el = token_times[0] - sent, token_times[-1] - sent
    itl = [b - a for a, b in zip(token_times, token_times[1:])]
    tpot = (e2el - ttft) / (len(token_times) - 1) if len(token_times) > 1 else None
    return {"ttft": ttft, "itl": itl, "e2el": e2el, "tpot": tpot}


def metrics_tpot_with_first(sent, token_times):
    """Divides the whole latency by every token: the prefill leaks into TPOT."""
    result = metrics_right(sent, token_times)
    return {**result, "tpot": result["e2el"] / len(token_times)}


def metrics_itl_from_send(sent, token_times):
    """Counts the send → first token gap as an ITL too."""
    result = metrics_right(sent, token_times)
    return {**result, "itl": [token_times[0] - sent, *result["itl"]]}


def metrics_empty_is_zero(sent, token_times):
    if not token_times:
        return {"ttft": 0.0, "itl": [], "e2el": 0.0, "tpot": None}
    return metrics_right(sent, token_times)


# --- 10 q2: percentiles -------------------------------------------------------------------


def percentile_right(values, p):
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * p / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def percentile_nearest_rank(values, p):
    ordered = sorted(values)
    return ordered[round((len(ordered) - 1) * p / 100)]


def percentile_n_not_n_minus_1(values, p):
    ordered = sorted(values)
    position = min(len(ordered) * p / 100, len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def percentile_unsorted(values, p):
    position = (len(values) - 1) * p / 100
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


# --- 10 q3: throughput --------------------------------------------------------------------


def throughput_right(requests):
    duration = max(f for _, f, _ in requests) - min(s for s, _, _ in requests)
    return len(requests) / duration, sum(n for _, _, n in requests) / duration


def throughput_summed_latencies(requests):
    duration = sum(f - s for s, f, _ in requests)
    return len(requests) / duration, sum(n for _, _, n in requests) / duration


def throughput_list_order(requests):
    """Takes the first request as the earliest and the last as the latest."""
    duration = requests[-1][1] - requests[0][0]
    return len(requests) / duration, sum(n for _, _, n in requests) / duration


# --- 10 q4: bounded concurrency -----------------------------------------------------------


def bounded_right(fn, items, max_concurrency):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max_concurrency) as pool:
        return list(pool.map(fn, items))


def bounded_unbounded(fn, items, max_concurrency):
    return bounded_right(fn, items, len(items))


def bounded_in_waves(fn, items, max_concurrency):
    """Starts N, waits for all N, starts the next N: not a closed loop."""
    results = []
    for i in range(0, len(items), max_concurrency):
        results += bounded_right(fn, items[i : i + max_concurrency], max_concurrency)
    return results


def bounded_completion_order(fn, items, max_concurrency):
    from concurrent.futures import ThreadPoolExecutor, as_completed

    with ThreadPoolExecutor(max_workers=max_concurrency) as pool:
        return [f.result() for f in as_completed([pool.submit(fn, item) for item in items])]


# --- 10 q5: a measured streamed request -----------------------------------------------------


def _measure(base_url, model, prompt, num_predict, stream=True, sent_after_headers=False, raw=True):
    body = {"model": model, "prompt": prompt, "stream": stream, "options": {"num_predict": num_predict}}
    if raw:
        body["raw"] = True
    sent = time.perf_counter()
    times, tokens = [], 0
    with requests.post(f"{base_url}/api/generate", json=body, stream=True, timeout=120) as reply:
        if sent_after_headers:
            sent = time.perf_counter()
        for line in reply.iter_lines():
            if not line:
                continue
            data = json.loads(line)
            if data.get("done"):
                tokens = data.get("eval_count", 0)
            else:
                times.append(time.perf_counter())
    return {**metrics_right(sent, times), "tokens": tokens}


def measure_right(base_url, model, prompt, num_predict):
    return _measure(base_url, model, prompt, num_predict)


def measure_not_streamed(base_url, model, prompt, num_predict):
    return _measure(base_url, model, prompt, num_predict, stream=False)


def measure_sent_after_headers(base_url, model, prompt, num_predict):
    return _measure(base_url, model, prompt, num_predict, sent_after_headers=True)


def measure_templated(base_url, model, prompt, num_predict):
    return _measure(base_url, model, prompt, num_predict, raw=False)


# --- 10 q6: pick an engine ----------------------------------------------------------------


def _pick(curves, users, ttft_ms, tpot_ms, row_for, check_slo=True):
    best, best_tput = None, -1.0
    for engine, rows in curves.items():
        row = row_for(rows, users)
        if row is None:
            continue
        meets = row["p99_ttft_ms"] <= ttft_ms and row["median_tpot_ms"] <= tpot_ms
        if (meets or not check_slo) and row["output_throughput"] > best_tput:
            best, best_tput = engine, row["output_throughput"]
    return best


def _smallest_at_least(rows, users):
    above = [r for r in rows if r["concurrency"] >= users]
    return min(above, key=lambda r: r["concurrency"]) if above else None


def pick_right(curves, users, ttft_ms, tpot_ms):
    return _pick(curves, users, ttft_ms, tpot_ms, _smallest_at_least)


def pick_ignores_slo(curves, users, ttft_ms, tpot_ms):
    return _pick(curves, users, ttft_ms, tpot_ms, _smallest_at_least, check_slo=False)


def pick_nearest_below(curves, users, ttft_ms, tpot_ms):
    """Uses the closest measured row even below `users` (extrapolating from fewer users)."""
    return _pick(curves, users, ttft_ms, tpot_ms, lambda rows, u: min(rows, key=lambda r: abs(r["concurrency"] - u)))


def pick_first_row_above(curves, users, ttft_ms, tpot_ms):
    """Takes the first row ≥ users in list order, assuming rows are sorted."""
    return _pick(curves, users, ttft_ms, tpot_ms, lambda rows, u: next((r for r in rows if r["concurrency"] >= u), None))


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
    ("00_setup", "q1"): ("is_lab_ollama", lab_header_right,
                         [lab_header_case_sensitive, lab_header_always, lab_header_value_must_be_set]),
    ("01_ollama_basics", "q1"): ("parse_model_name", name_right, [name_first_colon, name_no_default_tag, name_never_raises]),
    ("01_ollama_basics", "q2"): ("models_by_size", by_size_right, [by_size_ascending, by_size_names_sorted]),
    ("01_ollama_basics", "q3"): ("estimate_memory", memory_right,
                                 [memory_no_k_and_v, memory_four_bits, memory_case_sensitive, memory_gibibytes]),
    ("01_ollama_basics", "q4"): ("model_blob", blob_right, [blob_first_layer, blob_colon_name, blob_no_defaults]),
    ("02_ollama_rest_api", "q1"): ("generate", generate_right,
                                   [generate_ignores_options, generate_no_status_check, generate_streams]),
    ("02_ollama_rest_api", "q2"): ("stream_chat", stream_right,
                                   [stream_whole_reply, stream_returns_list, stream_yields_chunks]),
    ("02_ollama_rest_api", "q3"): ("tokens_per_second", tps_right,
                                   [tps_milliseconds, tps_total_duration, tps_crashes_on_missing]),
    ("02_ollama_rest_api", "q4"): ("ChatSession", SessionRight,
                                   [SessionSendsLatestOnly, SessionForgetsReplies, SessionDropsOptions]),
    ("02_ollama_rest_api", "q5"): ("robust_generate", robust_right,
                                   [robust_retries_404, robust_http_error_on_404, robust_no_timeout, robust_no_retry]),
    ("02_ollama_rest_api", "q6"): ("ask_json", json_right, [json_format_json, json_returns_text, json_swallows_errors]),
    ("03_modelfiles", "q1"): ("MODELFILE", MODELFILE_RIGHT,
                              [MODELFILE_ONE_LINE_SYSTEM, MODELFILE_STOPS_ON_ONE_LINE, MODELFILE_NO_EXAMPLE,
                               MODELFILE_WRONG_CONTEXT]),
    ("03_modelfiles", "q2"): ("parse_modelfile", parse_right, [parse_case_sensitive, parse_last_stop_wins, parse_without_from]),
    ("03_modelfiles", "q3"): ("create_and_read", create_right,
                              [create_keeps_quotes, create_last_stop_wins, create_ignores_errors]),
    ("03_modelfiles", "q4"): ("render_chatml", chatml_right,
                              [chatml_no_generation_prompt, chatml_no_newline_after_turn, chatml_drops_system]),
    ("04_vllm", "q1"): ("generate_texts", texts_right, [texts_loop, texts_request_outputs]),
    ("04_vllm", "q2"): ("kv_bytes_per_token", kv_right, [kv_attention_heads, kv_keys_only, kv_derived_head_dim]),
    ("04_vllm", "q3"): ("kv_capacity", capacity_right,
                        [capacity_gigabytes, capacity_partial_blocks, capacity_whole_concurrency]),
    ("04_vllm", "q4"): ("kv_waste", waste_right, [waste_floor_blocks, waste_mean_of_fractions, waste_crashes_when_idle]),
    ("04_vllm", "q5"): ("vllm_chat", vllm_chat_right,
                        [vllm_chat_nested_extra_body, vllm_chat_drops_fields, vllm_chat_ollama_name]),
    ("06_sampling", "q1"): ("softmax", softmax_right, [softmax_overflows, softmax_multiplies]),
    ("06_sampling", "q2"): ("top_k_filter", top_k_right, [top_k_smallest, top_k_in_place]),
    ("06_sampling", "q3"): ("top_p_filter", top_p_right, [top_p_without_crossing_token, top_p_on_logits]),
    ("06_sampling", "q4"): ("min_p_filter", min_p_right, [min_p_absolute]),
    ("06_sampling", "q5"): ("apply_penalties", penalties_right, [penalties_wrong_direction, penalties_frequency_once]),
    ("06_sampling", "q6"): ("sample", sample_right, [sample_temperature_last, sample_legacy_rng]),
    ("06_sampling", "q7"): ("ollama_to_vllm", to_vllm_right,
                            [to_vllm_keeps_repeat_penalty, to_vllm_keeps_sentinels, to_vllm_passes_everything]),
    ("09_multi_gpu", "q1"): ("weight_gib", weights_right,
                             [weights_gigabytes, weights_case_sensitive, weights_int4_as_byte]),
    ("09_multi_gpu", "q2"): ("valid_tp_sizes", tp_sizes_right,
                             [tp_sizes_heads_only, tp_sizes_no_replication, tp_sizes_powers_of_two]),
    ("09_multi_gpu", "q3"): ("smallest_tp", smallest_right,
                             [smallest_any_size, smallest_whole_gpu, smallest_max_when_none]),
    ("09_multi_gpu", "q4"): ("shard_mlp", shard_right, [shard_both_columns, shard_mismatched_rows, shard_uneven_allowed]),
    ("09_multi_gpu", "q5"): ("allreduce_bytes_per_token", allreduce_right,
                             [allreduce_once_per_layer, allreduce_whole_vector_twice, allreduce_bits]),
    ("10_benchmarks", "q1"): ("request_metrics", metrics_right,
                              [metrics_tpot_with_first, metrics_itl_from_send, metrics_empty_is_zero]),
    ("10_benchmarks", "q2"): ("percentile", percentile_right,
                              [percentile_nearest_rank, percentile_n_not_n_minus_1, percentile_unsorted]),
    ("10_benchmarks", "q3"): ("throughput", throughput_right, [throughput_summed_latencies, throughput_list_order]),
    ("10_benchmarks", "q4"): ("run_bounded", bounded_right,
                              [bounded_unbounded, bounded_in_waves, bounded_completion_order]),
    ("10_benchmarks", "q5"): ("measure_request", measure_right,
                              [measure_not_streamed, measure_sent_after_headers, measure_templated]),
    ("10_benchmarks", "q6"): ("pick_engine", pick_right,
                              [pick_ignores_slo, pick_nearest_below, pick_first_row_above]),
    ("11_choosing", "q1"): ("choose_engine", choose_right,
                            [choose_ignores_os, choose_four_users_is_many, choose_whole_gpu, choose_never_raises]),
    ("11_choosing", "q2"): ("FallbackClient", FallbackRight,
                            [FallbackRetries4xx, FallbackNo5xxRetry, FallbackNoTimeout, FallbackReturnsNone]),
    ("11_choosing", "q3"): ("fix_for", fix_right, [fix_case_sensitive, fix_only_not_found, fix_any_memory_is_gpu]),
}
