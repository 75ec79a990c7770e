"""Request bodies of Ollama's API, with Ollama's field names.

Unknown fields are ignored, as Go's encoding/json ignores them. Fields are typed
strictly, so a string where Ollama expects a bool is a 400, as in Ollama.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class PullRequest(_Body):
    model: StrictStr = ""
    name: StrictStr = ""  # older clients send "name"
    insecure: StrictBool = False
    stream: StrictBool | None = None


class ShowRequest(_Body):
    model: StrictStr = ""
    name: StrictStr = ""
    verbose: StrictBool = False


class CopyRequest(_Body):
    source: StrictStr = ""
    destination: StrictStr = ""


class DeleteRequest(_Body):
    model: StrictStr = ""
    name: StrictStr = ""


class CreateRequest(_Body):
    model: StrictStr = ""
    from_: StrictStr = Field("", alias="from")
    files: dict[str, StrictStr] = Field(default_factory=dict)
    adapters: dict[str, StrictStr] = Field(default_factory=dict)
    template: StrictStr | None = None
    system: StrictStr | None = None
    parameters: dict | None = None
    messages: list[dict] | None = None
    license: StrictStr | list[StrictStr] | None = None
    quantize: StrictStr | None = None
    stream: StrictBool | None = None


class Message(_Body):
    role: StrictStr = ""
    content: StrictStr = ""
    thinking: StrictStr | None = None
    images: list[StrictStr] | None = None
    tool_calls: list[dict] | None = None
    tool_name: StrictStr | None = None
    tool_call_id: StrictStr | None = None


class _Inference(_Body):
    """What generate and chat share."""

    model: StrictStr = ""
    stream: StrictBool | None = None
    format: Any = None
    options: dict | None = None
    keep_alive: Any = None
    think: Any = None
    truncate: StrictBool | None = None
    shift: StrictBool | None = None
    logprobs: StrictBool = False
    top_logprobs: StrictInt = 0
    debug_render_only: StrictBool = Field(False, alias="_debug_render_only")


class GenerateRequest(_Inference):
    prompt: StrictStr = ""
    suffix: StrictStr = ""
    system: StrictStr = ""
    template: StrictStr = ""
    context: list[StrictInt] | None = None
    raw: StrictBool = False
    images: list[StrictStr] | None = None


class ChatRequest(_Inference):
    messages: list[Message] = Field(default_factory=list)
    tools: list[dict] | None = None


class EmbedRequest(_Body):
    model: StrictStr = ""
    input: Any = None
    truncate: StrictBool | None = None
    dimensions: StrictInt = 0
    options: dict | None = None
    keep_alive: Any = None


class EmbeddingsRequest(_Body):
    model: StrictStr = ""
    prompt: StrictStr = ""
    options: dict | None = None
    keep_alive: Any = None
