"""A GGUF file's key/values and tensor list, read in a tenth of a second.

``gguf.GGUFReader`` (the ``gguf`` package, llama.cpp's own Python reader) is what the
lessons show, and what reads tensor data here too. But it parses every string of the
tokenizer through its own numpy memmap slice: SmolLM2's 49,152 tokens and 48,900
merges take 5 s per file on one core, and lab Ollama read the model at every pull and
every ``show`` (14 s per fresh server). This module reads only the header, with
``struct``, following the format's spec
(https://github.com/ggml-org/ggml/blob/master/docs/gguf.md), and gives the values
``GGUFReader``'s ``ReaderField.contents()`` gives; tests/unit/test_gguf_info.py checks
that, key by key and tensor by tensor, on SmolLM2's Q4_1 GGUF and all-MiniLM's F16 one.
"""

from __future__ import annotations

import math
import mmap
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

MAGIC = b"GGUF"

# GGUF value types (gguf.GGUFValueType), as struct formats; 8 = string, 9 = array
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9


class GGUFFormatError(ValueError):
    """Not a GGUF file this reader understands (bad magic, version or value type)."""


@dataclass(frozen=True)
class TensorInfo:
    """One tensor's entry in the header: name, GGML type, dims as stored (ne0 first)."""

    name: str
    type_name: str
    shape: tuple[int, ...]

    @property
    def n_elements(self) -> int:
        return math.prod(self.shape)

    @property
    def n_bytes(self) -> int:
        from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

        block_size, type_size = GGML_QUANT_SIZES[GGMLQuantizationType[self.type_name]]
        return self.n_elements * type_size // block_size


@dataclass(frozen=True)
class GGUFInfo:
    """The header of a GGUF file: format version, key/values, tensors."""

    version: int
    fields: dict[str, Any]
    tensors: list[TensorInfo]

    @property
    def parameter_count(self) -> int:
        return sum(t.n_elements for t in self.tensors)

    @property
    def file_type(self) -> str:
        """The quantization as llama.cpp names it (``Q4_1``, ``F16``), or ``unknown``."""
        from gguf import LlamaFileType

        value = self.fields.get("general.file_type")
        return "unknown" if value is None else LlamaFileType(value).name.removeprefix("MOSTLY_")


class _Cursor:
    def __init__(self, buffer: mmap.mmap) -> None:
        self.buffer, self.at = buffer, 0

    def scalar(self, fmt: str) -> Any:
        (value,) = struct.unpack_from("<" + fmt, self.buffer, self.at)
        self.at += struct.calcsize("<" + fmt)
        return value

    def string(self) -> str:
        length = self.scalar("Q")
        start, self.at = self.at, self.at + length
        return self.buffer[start : self.at].decode("utf-8")

    def value(self, kind: int) -> Any:
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item_kind, count = self.scalar("I"), self.scalar("Q")
            if item_kind in _SCALARS:  # one unpack for the whole array
                fmt = f"<{count}{_SCALARS[item_kind]}"
                values = list(struct.unpack_from(fmt, self.buffer, self.at))
                self.at += struct.calcsize(fmt)
                return values
            return [self.value(item_kind) for _ in range(count)]
        if kind not in _SCALARS:
            raise GGUFFormatError(f"unknown GGUF value type {kind} at byte {self.at}")
        return self.scalar(_SCALARS[kind])


def read(path: str | Path) -> GGUFInfo:
    """Parse the header of the GGUF file at ``path`` (little-endian, version 2 or 3)."""
    stat = Path(path).stat()
    return _read(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=16)
def _read(path: str, mtime_ns: int, size: int) -> GGUFInfo:
    from gguf import GGMLQuantizationType

    with open(path, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as buffer:
        if buffer[:4] != MAGIC:
            raise GGUFFormatError(f"{path} is not a GGUF file (magic {buffer[:4]!r})")
        cursor = _Cursor(buffer)
        cursor.at = 4
        version = cursor.scalar("I")
        if version not in (2, 3):
            raise GGUFFormatError(f"{path}: GGUF version {version} (big-endian, or unknown)")
        n_tensors, n_fields = cursor.scalar("Q"), cursor.scalar("Q")
        fields: dict[str, Any] = {}
        for _ in range(n_fields):
            key = cursor.string()
            fields[key] = cursor.value(cursor.scalar("I"))
        tensors = []
        for _ in range(n_tensors):
            name = cursor.string()
            shape = tuple(cursor.scalar("Q") for _ in range(cursor.scalar("I")))
            type_name = GGMLQuantizationType(cursor.scalar("I")).name
            cursor.scalar("Q")  # the tensor's offset in the data section
            tensors.append(TensorInfo(name, type_name, shape))
    return GGUFInfo(version, fields, tensors)
