"""``ollama create --quantize``: rewrite an F16/BF16/F32 model layer with llama.cpp.

Real Ollama (v0.33, ``server/create.go`` and ``server/quantization.go``) shells out to
llama.cpp's ``llama-quantize`` and reports ``quantizing F16 model to Q4_K_M`` (digest
``0000000000000000000``, ``total``/``completed``) from its ``[ n/ N]`` lines, then
``verifying conversion``. Here the same quantizer runs through llama-cpp-python's
``llama_model_quantize`` in a child process (``python -m
course_lib.lab_ollama.quantize``), whose log lines give the same progress; a killed
create kills the child. The output goes to a ``-partial`` file in the blob folder
(removed when the store opens) and enters the store only through its atomic write.

The accepted types and the error texts are Ollama's (``fs/ggml/type.go``
``ParseFileType``): other llama.cpp types (Q6_K, Q4_0, …) are refused as Ollama
refuses them. Lesson 07 makes those with llama.cpp directly (course_lib.quant).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from ..model import gguf_file_type, sha256_of
from ..store.layout import CONFIG_MEDIA, MEDIA_PREFIX, PARTIAL, Layer, Store
from .errors import OllamaError

#: Ollama's ParseFileType: the names it accepts, and llama.cpp's ftype for each.
OLLAMA_TYPES = {"F32": 0, "F16": 1, "Q8_0": 7, "Q4_K_S": 14, "Q4_K_M": 15, "Q4_K": 15, "BF16": 32}
#: The list Ollama prints in its error (BF16 parses but is left out, as in Ollama).
_LISTED = "F32, F16, Q4_K_S, Q4_K_M, Q8_0"
_SOURCES = ("F16", "BF16", "F32")
_CANONICAL = {"Q4_K": "Q4_K_M"}  # Ollama's FileType.String() of what ParseFileType returns
ZERO_DIGEST = "0000000000000000000"  # Ollama's placeholder digest for quantize progress
_PROGRESS = re.compile(rb"\[\s*(\d+)/\s*(\d+)\]")
_CHUNK = 1 << 20


def check_type(requested: str) -> str:
    """The upper-cased type if Ollama accepts it, else Ollama's error (500)."""
    wanted = requested.upper()
    if wanted not in OLLAMA_TYPES:
        raise OllamaError(500, f"unsupported quantization type {wanted} - supported types are {_LISTED}")
    return wanted


def quantized(store: Store, model: Layer, config: Layer, requested: str) -> Iterator[dict]:
    """``create``'s hook: yield the statuses; return the model layer and config to use,
    and the digests of the blobs this call added (Ollama reports them as new layers).

    The config is rewritten only when the file type changed (``show`` then says the
    new quantization level).
    """
    described = json.loads(store.read_blob(config.digest))
    have = described.get("file_type") or gguf_file_type(store.blob_path(model.digest))
    new_model, file_type, fresh = yield from quantize_layer(store, model, requested, have)
    if new_model is model:
        return model, config, fresh
    described["file_type"] = file_type
    data = json.dumps(described).encode()
    if not store.has_blob("sha256:" + hashlib.sha256(data).hexdigest()):
        fresh = fresh | {"sha256:" + hashlib.sha256(data).hexdigest()}
    return new_model, store.write_blob_bytes(data, CONFIG_MEDIA), fresh


def quantize_layer(store: Store, layer: Layer, requested: str, have: str) -> Iterator[dict]:
    """Yield Ollama's quantize statuses; return the new model layer, its file type and
    ``{its digest}`` if the store did not have that blob yet (else an empty set).

    ``have`` is the source's file type (its config says it; reading the GGUF's header
    in Python takes seconds). A source already of the wanted type is returned
    unchanged, as Ollama does.
    """
    wanted = check_type(requested)
    source = store.blob_path(layer.digest)
    if have not in _SOURCES:
        raise OllamaError(500, "quantization is only supported for F16, BF16 and F32 models")
    if OLLAMA_TYPES[wanted] == OLLAMA_TYPES.get(have):
        return layer, have, set()
    scratch = store.blobs / f"sha256-quantize-{os.getpid()}-{time.monotonic_ns()}{PARTIAL}"
    try:
        status = f"quantizing {have} model to {wanted}"
        for fraction in run_quantizer(source, scratch, OLLAMA_TYPES[wanted]):
            yield {"status": status, "digest": ZERO_DIGEST, "total": layer.size,
                   "completed": int(fraction * layer.size)}  # fmt: skip
        yield {"status": "verifying conversion"}
        expected = "sha256:" + sha256_of(scratch)
        fresh = set() if store.has_blob(expected) else {expected}
        digest, size = store.write_blob(_chunks(scratch), expected)
    finally:
        scratch.unlink(missing_ok=True)
    new = Layer(MEDIA_PREFIX + "model", digest, size)
    return new, _CANONICAL.get(wanted, wanted), fresh


def run_quantizer(source: Path, target: Path, ftype: int, threads: int = 0) -> Iterator[float]:
    """Run llama.cpp's quantizer in a child process; yield the fraction of tensors done.

    Raises OllamaError (500) with llama.cpp's last words if it fails.
    """
    command = [sys.executable, "-m", __name__, str(source), str(target), str(ftype), str(threads)]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    tail: list[bytes] = []
    try:
        for line in child.stdout:
            tail = (tail + [line])[-5:]
            if match := _PROGRESS.search(line):
                done, total = int(match.group(1)), int(match.group(2))
                yield done / max(total, 1)
        if child.wait() != 0:
            text = b"".join(tail).decode(errors="replace").strip().splitlines()
            raise OllamaError(500, f"llama-quantize failed: {text[-1] if text else child.returncode}")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            yield block


def _quantize_here(source: str, target: str, ftype: int, threads: int) -> int:
    """The child's work: llama.cpp's quantizer, its log lines on stdout."""
    import ctypes

    import llama_cpp

    @llama_cpp.llama_log_callback
    def to_stdout(level, text, user_data):  # noqa: ARG001 - llama.cpp's signature
        sys.stdout.buffer.write(text)
        sys.stdout.flush()

    llama_cpp.llama_log_set(to_stdout, ctypes.c_void_p(0))
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = threads
    return llama_cpp.llama_model_quantize(source.encode(), target.encode(), ctypes.byref(params))


if __name__ == "__main__":
    _source, _target, _ftype, _threads = sys.argv[1:5]
    sys.exit(1 if _quantize_here(_source, _target, int(_ftype), int(_threads)) else 0)
