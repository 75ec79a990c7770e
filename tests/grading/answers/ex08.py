"""Right and plausible wrong answers for exercise 08_speculative_structured_lora (see __init__)."""

from __future__ import annotations

import numpy as np

from .marks import caught_publicly

# --- 08 q1: greedy verification -------------------------------------------------------------


def verify_right(draft, logits):
    choices = np.argmax(logits, axis=-1)
    out = []
    for i, token in enumerate(draft):
        if int(token) != int(choices[i]):
            return out + [int(choices[i])]
        out.append(int(token))
    return out + [int(choices[len(draft)])]


@caught_publicly
def verify_no_bonus(draft, logits):
    choices = np.argmax(logits, axis=-1)
    out = []
    for i, token in enumerate(draft):
        if int(token) != int(choices[i]):
            return out + [int(choices[i])]
        out.append(int(token))
    return out


@caught_publicly
def verify_no_correction(draft, logits):
    choices = np.argmax(logits, axis=-1)
    out = []
    for i, token in enumerate(draft):
        if int(token) != int(choices[i]):
            return out
        out.append(int(token))
    return out + [int(choices[len(draft)])]


@caught_publicly
def verify_next_row(draft, logits):
    """Compares draft[i] with row i+1 (as if row 0 were the draft's own position)."""
    choices = np.argmax(logits, axis=-1)
    out = []
    for i, token in enumerate(draft):
        if int(token) != int(choices[i + 1]):
            return out + [int(choices[i + 1])]
        out.append(int(token))
    return out


def verify_keeps_later_matches(draft, logits):
    """Keeps every draft token that matches its row, even after a mismatch."""
    choices = np.argmax(logits, axis=-1)
    out = [int(t) if int(t) == int(choices[i]) else int(choices[i]) for i, t in enumerate(draft)]
    return out + [int(choices[len(draft)])]


# --- 08 q2: expected tokens per step ---------------------------------------------------------


def per_step_right(alpha, k):
    return float(k + 1) if alpha == 1 else (1 - alpha ** (k + 1)) / (1 - alpha)


@caught_publicly
def per_step_without_bonus(alpha, k):
    return float(k) if alpha == 1 else (1 - alpha ** k) / (1 - alpha)


@caught_publicly
def per_step_divides_by_zero(alpha, k):
    return (1 - alpha ** (k + 1)) / (1 - alpha)


@caught_publicly
def per_step_accepted_only(alpha, k):
    return float(k) if alpha == 1 else alpha * (1 - alpha ** k) / (1 - alpha)


# --- 08 q3: the main cause of the gap --------------------------------------------------------


def _speedup(alpha, k, cost):
    return per_step_right(alpha, k) / cost


def cause_right(alpha, cost, measured):
    guess = _speedup(alpha, 4, cost)
    by_alpha = abs(_speedup(measured["alpha"], 4, cost) - guess)
    by_cost = abs(_speedup(alpha, 4, measured["verify_cost"]) - guess)
    return "alpha" if by_alpha >= by_cost else "verify_cost"


def cause_raw_difference(alpha, cost, measured):
    """Compares how far the inputs moved, not how far they move the prediction."""
    return "alpha" if abs(measured["alpha"] - alpha) >= abs(measured["verify_cost"] - cost) else "verify_cost"


@caught_publicly
def cause_always_alpha(alpha, cost, measured):
    return "alpha"


def cause_relative_difference(alpha, cost, measured):
    """Compares relative changes of the inputs."""
    return ("alpha" if abs(measured["alpha"] / alpha - 1) >= abs(measured["verify_cost"] / cost - 1)
            else "verify_cost")


# --- 08 q4: a schema both engines accept -----------------------------------------------------

GENRES = ["fiction", "history", "science", "poetry"]


class Schema(dict):
    """A schema answer that can carry the ``caught_publicly`` mark (a plain dict cannot)."""


def _book(**changes):
    schema = Schema({
        "type": "object",
        "properties": {
            "title": {"type": "string", "minLength": 1, "maxLength": 60},
            "year": {"type": "integer", "minimum": 1450, "maximum": 2030},
            "genres": {"type": "array", "minItems": 1, "maxItems": 3, "items": {"type": "string", "enum": GENRES}},
        },
        "required": ["title", "year", "genres"],
        "additionalProperties": False,
    })
    for key, value in changes.items():
        if key in schema["properties"]:
            schema["properties"][key] = value
        elif value is None:
            schema.pop(key)
        else:
            schema[key] = value
    return schema


SCHEMA_RIGHT = _book()
SCHEMA_NOT_REQUIRED = caught_publicly(_book(required=None))
SCHEMA_OPEN = caught_publicly(_book(additionalProperties=None))
SCHEMA_NUMBER_YEAR = _book(year={"type": "number", "minimum": 1450, "maximum": 2030})
SCHEMA_NO_LIMITS = _book(genres={"type": "array", "items": {"type": "string", "enum": GENRES}},
                         title={"type": "string"})
#: genres without repeats is natural, but vLLM compiles no uniqueItems (400 "Unimplemented keys")
SCHEMA_UNIQUE_GENRES = caught_publicly(_book(genres={"type": "array", "minItems": 1, "maxItems": 3, "uniqueItems": True,
                                                     "items": {"type": "string", "enum": GENRES}}))


# --- 08 q5: batch composition ----------------------------------------------------------------


def _composition(requests, max_loras, max_num_seqs, skip=True, base_takes_slot=False, leave_early=False):
    waiting = list(enumerate(requests))
    running, steps, step = {}, [], 0
    while waiting or running:
        adapters = {requests[i][1] or "base" if base_takes_slot else requests[i][1] for i in running}
        adapters.discard(None)
        for item in list(waiting):
            index, (arrival, adapter, tokens) = item
            name = adapter or "base" if base_takes_slot else adapter
            blocked = arrival > step or len(running) >= max_num_seqs or (
                name is not None and name not in adapters and len(adapters) >= max_loras)
            if blocked:
                if skip or arrival > step:
                    continue
                break
            waiting.remove(item)
            running[index] = tokens - 1 if leave_early else tokens
            if name is not None:
                adapters.add(name)
        batch = {}
        for index in running:
            label = requests[index][1] or "base"
            batch[label] = batch.get(label, 0) + 1
        steps.append(batch)
        running = {i: left - 1 for i, left in running.items() if left > 1}
        step += 1
    return steps


def composition_right(requests, max_loras, max_num_seqs):
    return _composition(requests, max_loras, max_num_seqs)


def composition_head_of_line(requests, max_loras, max_num_seqs):
    return _composition(requests, max_loras, max_num_seqs, skip=False)


@caught_publicly
def composition_base_takes_a_slot(requests, max_loras, max_num_seqs):
    return _composition(requests, max_loras, max_num_seqs, base_takes_slot=True)


@caught_publicly
def composition_one_step_short(requests, max_loras, max_num_seqs):
    return _composition(requests, max_loras, max_num_seqs, leave_early=True)


def composition_ignores_seats(requests, max_loras, max_num_seqs):
    return _composition(requests, max_loras, 10**9)


def shared(question: str, request) -> dict:
    """The names the tests of each question use besides the answer."""
    import math

    names = {"np": np, "math": math}
    if question == "q3":
        names.update(tokens_per_step=per_step_right, predict_speedup=_speedup,
                     PREDICTION=_speedup(0.6, 4, 1.3))
    if question == "q4":
        import jsonschema
        from openai import OpenAI

        vllm = request.getfixturevalue("vllm_base_url")
        ollama = request.getfixturevalue("ollama_url")
        ask = [{"role": "user", "content": "Give me a famous book as JSON with title, year and genres."}]

        def ask_both(schema):
            import requests as http

            from course_lib.config import OLLAMA_MODEL

            client = OpenAI(base_url=vllm, api_key="EMPTY")
            reply = client.chat.completions.create(
                model=client.models.list().data[0].id, messages=ask, max_tokens=150, temperature=0,
                response_format={"type": "json_schema", "json_schema": {"name": "book", "schema": schema}})
            answer = http.post(f"{ollama}/api/chat", timeout=300, json={
                "model": OLLAMA_MODEL, "messages": ask, "format": schema, "stream": False,
                "options": {"temperature": 0, "num_predict": 150}})
            answer.raise_for_status()
            return {"vllm": reply.choices[0].message.content, "ollama": answer.json()["message"]["content"]}

        names.update(jsonschema=jsonschema, ask_both=ask_both, VLLM=vllm, OLLAMA=ollama)
    return names


CASES = {
    ("08_speculative_structured_lora", "q1"): ("verify_greedy", verify_right,
                                               [verify_no_bonus, verify_no_correction, verify_next_row,
                                                verify_keeps_later_matches]),
    ("08_speculative_structured_lora", "q2"): ("tokens_per_step", per_step_right,
                                               [per_step_without_bonus, per_step_divides_by_zero,
                                                per_step_accepted_only]),
    ("08_speculative_structured_lora", "q3"): ("main_cause", cause_right,
                                               [cause_raw_difference, cause_always_alpha, cause_relative_difference]),
    ("08_speculative_structured_lora", "q4"): ("BOOK_SCHEMA", SCHEMA_RIGHT,
                                               [SCHEMA_NOT_REQUIRED, SCHEMA_OPEN, SCHEMA_NUMBER_YEAR,
                                                SCHEMA_NO_LIMITS, SCHEMA_UNIQUE_GENRES]),
    ("08_speculative_structured_lora", "q5"): ("batch_composition", composition_right,
                                               [composition_head_of_line, composition_base_takes_a_slot,
                                                composition_one_step_short, composition_ignores_seats]),
}
