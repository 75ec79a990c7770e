"""Request bodies of Ollama's model-management API, with Ollama's field names.

Unknown fields are ignored, as Go's encoding/json ignores them. Fields are typed
strictly, so a string where Ollama expects a bool is a 400, as in Ollama.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr


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
