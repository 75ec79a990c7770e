"""/api/generate and /api/chat through the official ``ollama`` client and raw HTTP."""

import json
import re
import time

import ollama
import openai
import pytest
import requests

from course_lib.lab_ollama.catalog import TOOLS_CHATML_TEMPLATE

M = "smollm2:135m"
GREEDY = {"temperature": 0}
METRICS = ("total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_count", "eval_duration")


def test_generate_non_streaming(client, pulled):
    reply = client.generate(model=M, prompt="The capital of France is", options={**GREEDY, "num_predict": 16})
    assert reply.done and reply.done_reason in ("stop", "length")
    assert reply.response.strip()
    for name in METRICS:
        assert isinstance(getattr(reply, name), int) and getattr(reply, name) > 0, name
    assert reply.total_duration >= reply.prompt_eval_duration + reply.eval_duration
    assert reply.eval_count <= 16
    assert reply.context and all(isinstance(t, int) for t in reply.context)


def test_generate_streams_ndjson_by_default(lab, pulled):
    """No ``stream`` field means streaming: one JSON object per line, the last done."""
    with requests.post(lab.url + "/api/generate", json={"model": M, "prompt": "Hello", "options": {"num_predict": 8}}, stream=True, timeout=120) as reply:
        assert reply.headers["content-type"] == "application/x-ndjson"
        raw = reply.raw.read().decode()
    assert raw.endswith("\n") and "\n\n" not in raw
    chunks = [json.loads(line) for line in raw.splitlines()]
    assert all(not c["done"] and set(c) == {"model", "created_at", "response", "done"} for c in chunks[:-1])
    last = chunks[-1]
    assert last["done"] and last["response"] == "" and "context" in last
    # one chunk per token, except that a token ending inside a UTF-8 character waits for the
    # next one (Ollama's runner holds incomplete pieces back too): never more chunks than tokens
    assert 1 <= len(chunks) - 1 <= last["eval_count"] <= 8
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z", last["created_at"])


def test_num_predict_ends_with_length(client, pulled):
    reply = client.generate(model=M, prompt="Write a long story about a dragon.", options={**GREEDY, "num_predict": 5})
    assert (reply.eval_count, reply.done_reason) == (5, "length")


def test_stop_sequences_cut_the_output(client, pulled):
    free = client.generate(model=M, prompt="Count: 1, 2, 3,", raw=True, options={**GREEDY, "num_predict": 12})
    assert "5" in free.response
    cut = client.generate(model=M, prompt="Count: 1, 2, 3,", raw=True, options={**GREEDY, "num_predict": 12, "stop": ["5"]})
    assert cut.done_reason == "stop" and "5" not in cut.response
    assert free.response.startswith(cut.response)


def test_raw_mode_sends_the_prompt_as_is_and_returns_no_context(lab, pulled):
    reply = requests.post(lab.url + "/api/generate", json={"model": M, "prompt": "The capital of France is", "raw": True, "stream": False, "options": {**GREEDY, "num_predict": 4}}, timeout=120).json()
    assert "context" not in reply
    assert reply["prompt_eval_count"] <= 6  # the bare sentence, no chat template around it


def test_context_continues_a_conversation_from_the_cache(client, pulled):
    first = client.generate(model=M, prompt="My name is Ada.", options={**GREEDY, "num_predict": 8})
    follow = client.generate(model=M, prompt="What is my name?", context=first.context, options={**GREEDY, "num_predict": 8})
    assert follow.done
    # the count is the whole prompt, the cached earlier turn included (Ollama >= 0.30.1)
    assert follow.prompt_eval_count > len(first.context)


def test_a_cached_prompt_counts_whole_and_evaluates_faster(client, pulled):
    """The same long prompt twice: the count stays, the slot's KV cache makes the
    second evaluation shorter (a ratio within one run, not a timing threshold)."""
    prompt = "Summarise: " + "The quick brown fox jumps over the lazy dog. " * 40
    first = client.generate(model=M, prompt=prompt, options={**GREEDY, "num_predict": 1})
    again = client.generate(model=M, prompt=prompt, options={**GREEDY, "num_predict": 1})
    assert again.prompt_eval_count == first.prompt_eval_count > 400
    assert again.prompt_eval_duration < first.prompt_eval_duration


def test_seed_makes_sampling_repeatable(client, pulled):
    options = {"seed": 42, "temperature": 1.0, "num_predict": 12}
    a = client.generate(model=M, prompt="Tell me a story", options=options)
    b = client.generate(model=M, prompt="Tell me a story", options=options)
    assert a.response == b.response


def test_modelfile_parameters_then_request_options(client, pulled):
    client.create(model="short-answers", from_=M, parameters={"num_predict": 3, "temperature": 0})
    assert client.generate(model="short-answers", prompt="Write a long story about a dragon.").eval_count == 3
    longer = client.generate(model="short-answers", prompt="Write a long story about a dragon.", options={"num_predict": 9})
    assert longer.eval_count == 9


def _rendered(lab, path, **body):
    reply = requests.post(lab.url + path, json={"model": M, "_debug_render_only": True, **body}, timeout=120)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_template_and_system_overrides_reach_the_model(lab, client, pulled):
    default = _rendered(lab, "/api/generate", prompt="Hi")["_debug_info"]["rendered_template"]
    assert default == (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )
    pirate = _rendered(lab, "/api/generate", prompt="Hi", system="You are a pirate.")["_debug_info"]["rendered_template"]
    assert pirate.startswith("<|im_start|>system\nYou are a pirate.<|im_end|>") and "SmolLM" not in pirate
    bare = client.generate(model=M, prompt="Hi", template="{{ .Prompt }}", options={"num_predict": 1})
    assert bare.prompt_eval_count == 1


def test_debug_render_only_returns_the_prompt_without_running(lab, pulled):
    """Ollama >= 0.11.5: ``_debug_info.rendered_template``, no generation, no metrics."""
    reply = _rendered(lab, "/api/chat", messages=[{"role": "user", "content": "Hi"}])
    assert reply["done"] is False and "eval_count" not in reply
    assert reply["_debug_info"]["rendered_template"].endswith("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    later_system = _rendered(lab, "/api/chat", messages=[{"role": "user", "content": "Hi"}, {"role": "system", "content": "Be brief."}])
    assert "SmolLM" in later_system["_debug_info"]["rendered_template"], "only a FIRST system message replaces SYSTEM"
    first_system = _rendered(lab, "/api/chat", messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    assert "SmolLM" not in first_system["_debug_info"]["rendered_template"]


@pytest.mark.parametrize("prompt", ["Give me a JSON object with a name and an age.", "List three colours in JSON."])
def test_format_json_always_parses(client, pulled, prompt):
    """The grammar lets the model end only where the JSON is complete. (Cut short by
    num_predict, any output can be unfinished: "Describe a cat" rambles past 200.)"""
    reply = client.generate(model=M, prompt=prompt, format="json", options={**GREEDY, "num_predict": 200})
    assert reply.done_reason == "stop"
    json.loads(reply.response)


def test_format_schema_gives_the_schema(client, pulled):
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}, "required": ["name", "age"]}
    reply = client.chat(model=M, messages=[{"role": "user", "content": "Invent a person."}], format=schema, options={**GREEDY, "num_predict": 200})
    person = json.loads(reply.message.content)
    assert set(person) == {"name", "age"} and isinstance(person["age"], int)


def test_logprobs(lab, pulled):
    reply = requests.post(lab.url + "/api/generate", json={"model": M, "prompt": "Hi", "stream": False, "logprobs": True, "top_logprobs": 3, "options": {"num_predict": 4}}, timeout=120).json()
    assert len(reply["logprobs"]) == reply["eval_count"]
    for entry in reply["logprobs"]:
        assert entry["logprob"] <= 0 and bytes(entry["bytes"]).decode(errors="replace") == entry["token"]
        tops = [t["logprob"] for t in entry["top_logprobs"]]
        assert len(tops) == 3 and tops == sorted(tops, reverse=True) and tops[0] >= entry["logprob"]


def test_chat_non_streaming_and_streaming(client, pulled):
    messages = [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "What is Python?"}]
    reply = client.chat(model=M, messages=messages, options={**GREEDY, "num_predict": 12})
    assert reply.message.role == "assistant" and reply.message.content
    chunks = list(client.chat(model=M, messages=messages, stream=True, options={**GREEDY, "num_predict": 12}))
    assert "".join(c.message.content for c in chunks) == reply.message.content
    assert chunks[-1].done and chunks[-1].message.content == "" and chunks[-1].eval_count == reply.eval_count


def test_chat_is_multi_turn_and_the_cache_keeps_earlier_turns(client, pulled):
    history = [{"role": "user", "content": "Name a colour."}]
    first = client.chat(model=M, messages=history, options={**GREEDY, "num_predict": 6})
    history += [{"role": "assistant", "content": first.message.content}, {"role": "user", "content": "And another?"}]
    second = client.chat(model=M, messages=history, options={**GREEDY, "num_predict": 6})
    assert second.prompt_eval_count > first.prompt_eval_count + first.eval_count  # the whole history


def test_modelfile_messages_and_system_come_first(lab, client, pulled):
    client.create(model="with-history", from_=M, system="You are terse.",
                  messages=[{"role": "user", "content": "Hello there, friend."}, {"role": "assistant", "content": "Hi."}])
    ask = [{"role": "user", "content": "Hi"}]
    base = client.chat(model=M, messages=ask, options={"num_predict": 1})
    with_history = client.chat(model="with-history", messages=ask, options={"num_predict": 1})
    assert with_history.prompt_eval_count >= base.prompt_eval_count + 5
    own_system = client.chat(model="with-history", messages=[{"role": "system", "content": "x"}] + ask, options={"num_predict": 1})
    assert own_system.prompt_eval_count < with_history.prompt_eval_count
    shown = requests.post(lab.url + "/api/chat", json={"model": "with-history", "messages": ask, "_debug_render_only": True}, timeout=60).json()
    assert shown["_debug_info"]["rendered_template"] == (
        "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHello there, friend.<|im_end|>\n"
        "<|im_start|>assistant\nHi.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )


TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def test_the_library_smollm2_does_not_support_tools(lab, client, pulled):
    """The library template has no tools branch: capabilities ["completion"], and
    tools get Ollama's 400 with the full name, on /api/chat and on /v1."""
    assert client.show(M).capabilities == ["completion"]
    with pytest.raises(ollama.ResponseError) as error:
        client.chat(model=M, messages=[{"role": "user", "content": "Weather in Paris?"}], tools=[TOOL])
    assert (error.value.status_code, error.value.error) == (400, "registry.ollama.ai/library/smollm2:135m does not support tools")
    oai = openai.OpenAI(base_url=lab.url + "/v1", api_key="ollama")
    with pytest.raises(openai.BadRequestError) as error:
        oai.chat.completions.create(model=M, messages=[{"role": "user", "content": "hi"}], tools=[TOOL])
    assert error.value.body["message"] == "registry.ollama.ai/library/smollm2:135m does not support tools"
    assert error.value.body["type"] == "invalid_request_error"


def test_tools_come_back_as_tool_calls(client, pulled):
    """A Modelfile TEMPLATE with a tools branch makes a tools-capable variant. The 135M
    model rarely calls tools by itself, so a format schema makes it write a call; the
    server must turn that JSON into ``tool_calls``."""
    client.create(model="smollm2-tools", from_=M, template=TOOLS_CHATML_TEMPLATE)
    assert client.show("smollm2-tools").capabilities == ["completion", "tools"]
    call_schema = {"type": "object", "properties": {"name": {"const": "get_weather"},
                   "arguments": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
                   "required": ["name", "arguments"]}
    ask = [{"role": "user", "content": "Weather in Paris?"}]
    reply = client.chat(model="smollm2-tools", messages=ask, tools=[TOOL], format=call_schema, options={**GREEDY, "num_predict": 60})
    (call,) = reply.message.tool_calls
    assert call.function.name == "get_weather" and isinstance(call.function.arguments, dict)
    assert "city" in call.function.arguments
    streamed = [c for c in client.chat(model="smollm2-tools", messages=ask, tools=[TOOL], format=call_schema, stream=True, options={**GREEDY, "num_predict": 60}) if c.message.tool_calls]
    assert [c.message.tool_calls[0].function.name for c in streamed] == ["get_weather"]


def test_tools_need_a_template_that_takes_them(lab, client, pulled):
    client.create(model="no-tools", from_=M, template="{{ .Prompt }}")
    reply = requests.post(lab.url + "/api/chat", json={"model": "no-tools", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function", "function": {"name": "f"}}]}, timeout=60)
    assert (reply.status_code, reply.json()["error"]) == (400, "registry.ollama.ai/library/no-tools:latest does not support tools")


def test_keep_alive_load_unload_and_expiry(lab, client, pulled):
    def ps():
        return requests.get(lab.url + "/api/ps", timeout=10).json()["models"]

    unload = client.generate(model=M, keep_alive=0)
    assert unload.done_reason == "unload" and ps() == []
    load = requests.post(lab.url + "/api/generate", json={"model": M}, timeout=60).json()
    assert (load["done"], load["done_reason"], load["response"]) == (True, "load", "")
    (entry,) = ps()
    assert entry["name"] == M and entry["size_vram"] == 0 and entry["context_length"] == 4096
    forever = client.chat(model=M, messages=[], keep_alive="-1m")
    assert forever.done_reason == "load"
    assert client.ps().models[0].expires_at.year > time.gmtime().tm_year + 100
    client.generate(model=M, prompt="Hi", keep_alive=1, options={"num_predict": 1})
    deadline = time.time() + 15
    while ps() and time.time() < deadline:
        time.sleep(0.2)
    assert ps() == []


def test_changing_a_runner_option_reloads(lab, client, pulled):
    client.generate(model=M, prompt="Hi", options={"num_ctx": 1024, "num_predict": 1})
    assert [m.context_length for m in client.ps().models] == [1024]
    client.generate(model=M, prompt="Hi", options={"num_ctx": 2048, "num_predict": 1})
    assert [m.context_length for m in client.ps().models] == [2048]


def test_client_errors(client, pulled):
    import ollama

    with pytest.raises(ollama.ResponseError) as missing:
        client.generate(model="nope", prompt="x")
    assert (missing.value.status_code, missing.value.error) == (404, "model 'nope' not found")
    with pytest.raises(ollama.ResponseError) as streamed:
        list(client.chat(model="nope", messages=[{"role": "user", "content": "x"}], stream=True))
    assert streamed.value.status_code == 404
    with pytest.raises(ollama.ResponseError) as typed:
        client.generate(model=M, prompt="x", options={"top_k": "many"})
    assert (typed.value.status_code, typed.value.error) == (500, 'option "top_k" must be of type integer')
