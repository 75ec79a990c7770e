"""course_lib.gguf_info reads a GGUF header as gguf.GGUFReader does, on the course's own files."""

import pytest

from course_lib import gguf_info, model
from course_lib.lab_ollama import minilm


@pytest.mark.parametrize("path", [model.bundled_gguf, minilm.gguf], ids=["smollm2-Q4_1", "all-minilm-F16"])
def test_every_key_value_and_tensor_is_what_gguf_reader_reads(path):
    from gguf import GGUFReader

    gguf_path = path()
    reader = GGUFReader(str(gguf_path))
    info = gguf_info.read(gguf_path)
    expected = {name: field.contents() for name, field in reader.fields.items() if not name.startswith("GGUF.")}
    assert info.fields.keys() == expected.keys()
    for key, value in expected.items():
        assert info.fields[key] == value, key
    assert info.version == reader.fields["GGUF.version"].contents()
    assert [(t.name, t.type_name, t.shape, t.n_elements, t.n_bytes) for t in info.tensors] == [
        (t.name, t.tensor_type.name, tuple(int(d) for d in t.shape), int(t.n_elements), int(t.n_bytes))
        for t in reader.tensors
    ]


def test_file_type_and_parameter_count_of_the_bundled_model():
    info = gguf_info.read(model.bundled_gguf())
    assert info.file_type == "Q4_1"
    assert 134_000_000 < info.parameter_count < 136_000_000, "SmolLM2-135M"


def test_a_file_that_is_not_gguf_is_refused_clearly(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    with pytest.raises(gguf_info.GGUFFormatError, match="not a GGUF file"):
        gguf_info.read(path)
