"""Right and plausible wrong answers for exercise 03_modelfiles (see __init__)."""

from __future__ import annotations

import json

import requests

from .marks import caught_publicly


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


@caught_publicly
def parse_case_sensitive(text):
    return parse_right(text, case_sensitive=True)


def parse_last_stop_wins(text):
    return parse_right(text, stop_list=False)


@caught_publicly
def parse_keeps_text_after_closing_quotes(text):
    """Takes what follows the closing triple quotes on its line into the SYSTEM value."""
    result = parse_right(text)
    if result["system"] is not None and text.count('"""') >= 2:
        result["system"] += text.split('"""')[2].split("\n", 1)[0]
    return result


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


# --- 03 q4: the prompt Ollama renders ------------------------------------------------------


def _prompt(messages, system, default_always=False, default_never=False, collate=True, prefill=True):
    first_is_system = bool(messages) and messages[0]["role"] == "system"
    if system and not default_never and (default_always or not first_is_system):
        messages = [{"role": "system", "content": system}, *messages]
    out = ""
    if collate:
        systems = [m["content"] for m in messages if m["role"] == "system"]
        out = "<|im_start|>system\n" + "\n\n".join(systems) + "<|im_end|>\n" if systems else ""
    for i, m in enumerate(messages):
        if m["role"] == "system" and collate:
            continue
        out += f"<|im_start|>{m['role']}\n{m['content']}"
        if not (prefill and i == len(messages) - 1 and m["role"] == "assistant"):
            out += "<|im_end|>\n"
    if not prefill or not messages or messages[-1]["role"] != "assistant":
        out += "<|im_start|>assistant\n"
    return out


def prompt_right(messages, system):
    return _prompt(messages, system)


@caught_publicly
def prompt_without_default_system(messages, system):
    """The old lesson's answer: what the model sees has no default system prompt."""
    return _prompt(messages, system, default_never=True)


@caught_publicly
def prompt_default_system_always(messages, system):
    """Adds SYSTEM even when the chat brings its own first system message."""
    return _prompt(messages, system, default_always=True)


def prompt_system_where_it_stands(messages, system):
    """Renders a later system message as a turn in place instead of collating it."""
    return _prompt(messages, system, collate=False)


def prompt_always_closes_the_last_turn(messages, system):
    """Closes an assistant prefill and opens a new assistant turn."""
    return _prompt(messages, system, prefill=False)


# --- 03 q5: predict the prompt tokens a Modelfile adds ---------------------------------------


def _tokens(base_count, default_system_tokens, system_tokens, example_tokens, turn_tokens, replace=True,
            system_turn=False, wrappers=True, examples=True, none_keeps=True, none_removes_turn=False):
    if system_tokens is None:
        if none_removes_turn:
            count = base_count - default_system_tokens - turn_tokens
        else:
            count = base_count - (0 if none_keeps else default_system_tokens)
    else:
        count = base_count - (default_system_tokens if replace else 0) + system_tokens + (turn_tokens if system_turn else 0)
    if examples:
        count += sum(t + (turn_tokens if wrappers else 0) for t in example_tokens)
    return count


def tokens_right(*args):
    return _tokens(*args)


@caught_publicly
def tokens_keeps_default(*args):
    """Adds the new SYSTEM to the base's, as if both reached the model."""
    return _tokens(*args, replace=False)


@caught_publicly
def tokens_new_system_turn(*args):
    """Counts a wrapper for the new SYSTEM, as if it opened a turn of its own."""
    return _tokens(*args, system_turn=True)


@caught_publicly
def tokens_examples_without_wrappers(*args):
    return _tokens(*args, wrappers=False)


@caught_publicly
def tokens_ignores_examples(*args):
    """MESSAGE lines as documentation only, never sent to the model."""
    return _tokens(*args, examples=False)


def tokens_none_drops_default(*args):
    """No SYSTEM line taken as no system text, the turn's wrapper kept."""
    return _tokens(*args, none_keeps=False)


def tokens_none_removes_system_turn(*args):
    """No SYSTEM line taken as no system turn at all."""
    return _tokens(*args, none_removes_turn=True)


CASES = {
    ("03_modelfiles", "q1"): ("MODELFILE", MODELFILE_RIGHT,
                              [MODELFILE_ONE_LINE_SYSTEM, MODELFILE_STOPS_ON_ONE_LINE, MODELFILE_NO_EXAMPLE,
                               MODELFILE_WRONG_CONTEXT]),
    ("03_modelfiles", "q2"): ("parse_modelfile", parse_right, [parse_case_sensitive, parse_last_stop_wins, parse_without_from,
                                                              parse_keeps_text_after_closing_quotes]),
    ("03_modelfiles", "q3"): ("create_and_read", create_right,
                              [create_keeps_quotes, create_last_stop_wins, create_ignores_errors]),
    ("03_modelfiles", "q4"): ("ollama_prompt", prompt_right,
                              [prompt_without_default_system, prompt_default_system_always,
                               prompt_system_where_it_stands, prompt_always_closes_the_last_turn]),
    ("03_modelfiles", "q5"): ("predict_prompt_tokens", tokens_right,
                              [tokens_keeps_default, tokens_new_system_turn, tokens_examples_without_wrappers,
                               tokens_ignores_examples, tokens_none_drops_default, tokens_none_removes_system_turn]),
}


def shared(question, request):
    """q5's hidden test also reads the learner's explanation."""
    if question == "q5":
        return {"WHY_THE_GAP": "The assistant role is two tokens where user is one, so its wrapper costs one more."}
    return {}
