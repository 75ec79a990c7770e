"""Modelfile parser and renderer: Ollama's grammar, its errors, and the round trip."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.store.modelfile import (
    Modelfile,
    ModelfileError,
    parse,
    parse_commands,
    render,
)

CODING_ASSISTANT = '''
# the guide's Modelfile, with more of the grammar
from smollm2:135m
PARAMETER temperature 0.8
PARAMETER num_ctx 4096
parameter stop "<|im_end|>"
PARAMETER stop <|im_start|>
SYSTEM You are a helpful coding assistant.
TEMPLATE """{{ if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}"""
MESSAGE user Is Python typed?
MESSAGE assistant "Dynamically, with optional hints."
LICENSE """Apache 2.0
(see the file)"""
'''


def test_the_full_grammar():
    m = parse(CODING_ASSISTANT)
    assert m.from_ == "smollm2:135m"
    assert m.parameters == {
        "temperature": 0.8,
        "num_ctx": 4096,
        "stop": ["<|im_end|>", "<|im_start|>"],
    }
    assert m.system == "You are a helpful coding assistant."
    assert m.template.startswith("{{ if .System }}<|im_start|>system\n")
    assert m.messages == [
        {"role": "user", "content": "Is Python typed?"},
        {"role": "assistant", "content": "Dynamically, with optional hints."},
    ]
    assert m.licenses == ["Apache 2.0\n(see the file)"]


def test_last_value_wins_except_stop():
    m = parse("FROM m\nPARAMETER top_k 10\nPARAMETER top_k 20\nSYSTEM a\nSYSTEM b\n")
    assert m.parameters == {"top_k": 20}
    assert m.system == "b"


def test_inline_hash_is_part_of_the_value():
    assert parse("FROM m\nSYSTEM use # freely\n").system == "use # freely"


def test_commands_keep_their_line_numbers():
    lines = [line for _, _, line in parse_commands("\n\nFROM m\nSYSTEM \"\"\"a\nb\"\"\"\nPARAMETER seed 1\n")]
    assert lines == [3, 4, 6]


@pytest.mark.parametrize(
    "text, message",
    [
        ("FROM m\nFOO bar\n", '(line 2): command must be one of "from", "license", "template", "system", "adapter", "draft", "renderer", "parser", "parameter", "message", or "requires"'),
        ("FROM m\nSYSTEM\n", "(line 2): command must be one of"),
        ("FROM m\nMESSAGE tool hi\n", '(line 2): message role must be one of "system", "user", or "assistant"'),
        ("SYSTEM hi\n", "no FROM line"),
        ("", "no FROM line"),
        ('FROM m\nSYSTEM """never closed\n', "unexpected EOF"),
        ('FROM m\nSYSTEM "never closed\n', "unexpected EOF"),
        ("FROM m\nPARAMETER foo 1\n", "unknown parameter 'foo'"),
        ("FROM m\n\nPARAMETER temperature abc\n", "invalid float value [abc]"),
        ("FROM m\nPARAMETER num_ctx 4k\n", "invalid int value [4k]"),
        ("FROM m\nPARAMETER num_ctx 4.0\n", "invalid int value [4.0]"),
        ("FROM m\nPARAMETER use_mmap yes\n", "invalid bool value [yes]"),
    ],
)
def test_errors_are_ollamas_with_the_line(text, message):
    with pytest.raises(ModelfileError) as error:
        parse(text)
    assert str(error.value).startswith(message)


def test_deprecated_parameters_warn_and_are_dropped():
    """As Ollama's parser.go: a warning, and the parameter is not stored."""
    m = parse("FROM m\nPARAMETER penalize_newline true\n")
    assert m.parameters == {}
    assert m.warnings == ["warning: parameter penalize_newline is deprecated"]


def test_parameter_names_are_case_sensitive():
    with pytest.raises(ModelfileError, match="unknown parameter 'Temperature'"):
        parse("FROM m\nPARAMETER Temperature 1\n")


def test_render_order_matches_ollama_show():
    text = render(parse(CODING_ASSISTANT))
    order = [line.split()[0] for line in text.splitlines() if line[:1].isupper()]
    firsts = list(dict.fromkeys(order))
    assert firsts == ["FROM", "TEMPLATE", "SYSTEM", "PARAMETER", "LICENSE", "MESSAGE"]
    assert "PARAMETER temperature 0.8\n" in text
    assert 'PARAMETER stop <|im_end|>\nPARAMETER stop <|im_start|>\n' in text


# Values the format can carry: printable text (Ollama drops what Go's IsPrint
# rejects) with spaces, tabs and newlines, without \"\"\" (the grammar has no escape).
value_text = st.text(
    st.characters(whitelist_categories=("L", "M", "N", "P", "S"))
    | st.sampled_from(["\n", " ", "\t", '"', "#"]),
    max_size=40,
).filter(lambda v: '"""' not in v)
word_value = value_text.filter(lambda v: v.strip() == v and "\n" not in v and v and v[0] != '"')
numbers = st.floats(allow_nan=False, allow_infinity=False, width=32, min_value=-1e6, max_value=1e6)

modelfiles = st.builds(
    Modelfile,
    from_=word_value,
    adapters=st.lists(word_value, max_size=2),
    template=st.none() | value_text,
    system=st.none() | value_text,
    parameters=st.fixed_dictionaries(
        {},
        optional={
            "temperature": numbers,
            "num_ctx": st.integers(1, 1 << 20),
            "seed": st.integers(-(1 << 31), 1 << 31),
            "use_mmap": st.booleans(),
            "stop": st.lists(value_text.filter(bool), min_size=1, max_size=3),
        },
    ),
    licenses=st.lists(value_text, max_size=2),
    messages=st.lists(
        st.fixed_dictionaries({"role": st.sampled_from(["system", "user", "assistant"]), "content": value_text}),
        max_size=3,
    ),
)


@settings(max_examples=300, deadline=None)
@given(modelfiles)
def test_render_then_parse_is_identity(modelfile):
    assert parse(render(modelfile)) == modelfile
