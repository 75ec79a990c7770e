"""Right and plausible wrong answers for exercise 02_ollama_rest_api (see __init__)."""

from __future__ import annotations

import json
import time

import requests

from .marks import caught_publicly


# --- 02 q1: generate --------------------------------------------------------------------


def generate_right(base_url, model, prompt, options=None):
    body = {"model": model, "prompt": prompt, "stream": False, **({"options": options} if options else {})}
    reply = requests.post(f"{base_url}/api/generate", json=body, timeout=120)
    reply.raise_for_status()
    return reply.json()


def generate_forwards_num_predict_only(base_url, model, prompt, options=None):
    """Keeps the length, drops the rest (temperature, ...). Dropping every option is the
    same mistake, but then nothing bounds the public check's generation: minutes of tokens."""
    kept = {"num_predict": options["num_predict"]} if options and "num_predict" in options else None
    return generate_right(base_url, model, prompt, kept)


def generate_no_status_check(base_url, model, prompt, options=None):
    body = {"model": model, "prompt": prompt, "stream": False, "options": options or {}}
    return requests.post(f"{base_url}/api/generate", json=body, timeout=120).json()


@caught_publicly
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


@caught_publicly
def stream_ignores_error_line(base_url, model, messages, options=None):
    """The guide's loop: no check for an {"error"} line after the stream started."""
    for chunk in _chat_lines(base_url, model, messages, options):
        content = chunk.get("message", {}).get("content")
        if content:
            yield content
        if chunk.get("done"):
            return


# --- 02 q3: tokens per second ----------------------------------------------------------


def tps_right(reply):
    def rate(c, d):
        return reply.get(c, 0) / reply[d] * 1e9 if reply.get(c) and reply.get(d) else None

    return {"prompt": rate("prompt_eval_count", "prompt_eval_duration"), "generation": rate("eval_count", "eval_duration")}


@caught_publicly
def tps_milliseconds(reply):
    return {k: v / 1e6 if v else v for k, v in tps_right(reply).items()}


@caught_publicly
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
    rollback = True

    def __init__(self, base_url, model, system=None, options=None):
        self.base_url, self.model, self.options = base_url, model, options
        self.history = [{"role": "system", "content": system}] if system else []

    def ask(self, text):
        self.history.append({"role": "user", "content": text})
        sent = self.history if self.send_history else self.history[-1:]
        body = {"model": self.model, "messages": sent, "stream": False}
        if self.options and self.send_options:
            body["options"] = self.options
        reply = requests.post(f"{self.base_url}/api/chat", json=body, timeout=120)
        if not reply.ok and self.rollback:
            self.history.pop()
        reply.raise_for_status()
        content = reply.json()["message"]["content"]
        if self.keep_reply:
            self.history.append({"role": "assistant", "content": content})
        return content


@caught_publicly
class SessionSendsLatestOnly(SessionRight):
    send_history = False


class SessionKeepsFailedTurn(SessionRight):
    """Leaves the unanswered user message in history after a failed request."""

    rollback = False


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


def robust_retries_every_5xx(base_url, model, prompt, options=None, timeout=30.0, retries=3, backoff=0.5):
    """Retries a 500 (a bad option type) as if it were a busy server."""
    body = {"model": model, "prompt": prompt, "stream": False, **({"options": options} if options else {})}
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            reply = requests.post(f"{base_url}/api/generate", json=body, timeout=timeout)
        except (requests.ConnectionError, requests.Timeout):
            continue
        if reply.status_code >= 500:
            continue
        if reply.status_code == 404:
            raise LookupError(f"model {model!r} not found: pull it first")
        reply.raise_for_status()
        return reply.json()["response"]
    raise RuntimeError(f"no answer after {retries + 1} attempts")


# --- 02 q7: predict the prompt cache -----------------------------------------------------


def predict_right(prompt_tokens, first_prompt_ms):
    return {"prompt_eval_count": prompt_tokens, "evaluated_tokens": 1, "prompt_eval_ms": first_prompt_ms / prompt_tokens}


@caught_publicly
def predict_count_drops(prompt_tokens, first_prompt_ms):
    """The old lesson's claim: the count drops to what is evaluated."""
    return {"prompt_eval_count": 1, "evaluated_tokens": 1, "prompt_eval_ms": first_prompt_ms / prompt_tokens}


def predict_nothing_evaluated(prompt_tokens, first_prompt_ms):
    return {"prompt_eval_count": prompt_tokens, "evaluated_tokens": 0, "prompt_eval_ms": 0.0}


def predict_no_cache(prompt_tokens, first_prompt_ms):
    return {"prompt_eval_count": prompt_tokens, "evaluated_tokens": prompt_tokens, "prompt_eval_ms": first_prompt_ms}


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


CASES = {
    ("02_ollama_rest_api", "q1"): ("generate", generate_right,
                                   [generate_forwards_num_predict_only, generate_no_status_check, generate_streams]),
    ("02_ollama_rest_api", "q2"): ("stream_chat", stream_right,
                                   [stream_whole_reply, stream_returns_list, stream_yields_chunks, stream_ignores_error_line]),
    ("02_ollama_rest_api", "q3"): ("tokens_per_second", tps_right,
                                   [tps_milliseconds, tps_total_duration, tps_crashes_on_missing]),
    ("02_ollama_rest_api", "q4"): ("ChatSession", SessionRight,
                                   [SessionSendsLatestOnly, SessionForgetsReplies, SessionDropsOptions, SessionKeepsFailedTurn]),
    ("02_ollama_rest_api", "q5"): ("robust_generate", robust_right,
                                   [robust_retries_404, robust_http_error_on_404, robust_no_timeout, robust_no_retry,
                                    robust_retries_every_5xx]),
    ("02_ollama_rest_api", "q6"): ("ask_json", json_right, [json_format_json, json_returns_text, json_swallows_errors]),
    ("02_ollama_rest_api", "q7"): ("predict_repeat", predict_right,
                                   [predict_count_drops, predict_nothing_evaluated, predict_no_cache]),
}


def shared(question, request):
    """q7's hidden test also reads the learner's explanation."""
    if question == "q7":
        return {"WHY_THE_GAP": "One token alone is a whole forward pass, while the first request shared each pass among many tokens."}
    return {}
