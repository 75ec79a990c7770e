"""The Go text/template subset: the library's ChatML template, Go's semantics, errors."""

import pytest

from course_lib.lab_ollama.catalog import SMOLLM2_TEMPLATE, TOOLS_CHATML_TEMPLATE
from course_lib.lab_ollama.gotemplate import TemplateError, fields, parse, render


def values(**overrides):
    """Ollama's template values, with its field names."""
    base = {"System": "", "Prompt": "", "Response": "", "Suffix": "", "Messages": [], "Tools": None}
    return {**base, **overrides}


def msg(role, content):
    return {"Role": role, "Content": content, "ToolCalls": None}


def test_chatml_chat_with_system():
    text = render(SMOLLM2_TEMPLATE, values(
        System="Be brief.", Messages=[msg("user", "Hi"), msg("assistant", "Hello!"), msg("user", "Why?")],
    ))  # fmt: skip
    assert text == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello!<|im_end|>\n"
        "<|im_start|>user\nWhy?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_chatml_generate_with_prompt_only():
    assert render(SMOLLM2_TEMPLATE, values(Prompt="2+2?")) == (
        "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n"
    )


def test_chatml_tools_are_listed_as_json():
    tool = {"Function": {"name": "add", "parameters": {"type": "object"}}}
    text = render(TOOLS_CHATML_TEMPLATE, values(Tools=[tool], Messages=[msg("user", "1+1")]))
    assert '{"type": "function", "function": {"name":"add","parameters":{"type":"object"}}}' in text


def test_go_semantics():
    data = {"Items": ["a", "b", "c"], "Empty": [], "N": 0, "Name": "x"}
    assert render("{{ range $i, $v := .Items }}{{ $i }}={{ $v }};{{ end }}", data) == "0=a;1=b;2=c;"
    assert render("{{ range .Empty }}x{{ else }}none{{ end }}", data) == "none"
    assert render("{{ if .N }}yes{{ else if .Name }}name{{ else }}no{{ end }}", data) == "name"
    assert render("{{ with .Name }}[{{ . }}]{{ end }}", data) == "[x]"
    assert render("{{ len (slice .Items 1) }}", data) == "2"
    assert render("{{ index .Items 2 }}", data) == "c"
    assert render('{{ eq .Name "y" "x" }} {{ and 1 0 }} {{ or 0 "" "z" }}', data) == "true 0 z"
    assert render("a  {{- /* note */ -}}  b", data) == "ab"
    assert render("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}", data) == "2"
    assert render("{{ .Name | printf \"<%s>\" }}", data) == "<x>"
    assert render("{{ json .Items }}", data) == '["a","b","c"]'


@pytest.mark.parametrize(
    "source, message",
    [
        ("{{ if .X }}open", "template: :1: unexpected EOF"),
        ("{{ end }}", "template: :1: unexpected {{end}}"),
        ("a\n{{ nope .X }}", 'template: :2: function "nope" not defined'),
        ("{{ .X ", "template: :1: unclosed action"),
        ("{{ (len .X }}", "template: :1: unclosed left paren"),
        ("{{ .X ) }}", "template: :1: unexpected right paren"),
        ("{{ $y }}", "undefined variable: $y"),
    ],
)
def test_broken_templates_fail_like_go(source, message):
    with pytest.raises(TemplateError, match=message.replace("(", r"\(").replace(")", r"\)").replace("{", r"\{").replace("}", r"\}").replace("$", r"\$")):
        render(source, {})


def test_fields_reveal_capabilities():
    assert {"Tools", "Messages", "System", "Prompt"} <= fields(parse(TOOLS_CHATML_TEMPLATE))
    assert {"Messages", "System", "Prompt"} <= fields(parse(SMOLLM2_TEMPLATE))
    assert "Tools" not in fields(parse(SMOLLM2_TEMPLATE)), "the library's smollm2 template has no tools branch"
    assert "Suffix" not in fields(parse(SMOLLM2_TEMPLATE))
    assert "Suffix" in fields(parse("<PRE> {{ .Prompt }} <SUF>{{ .Suffix }} <MID>"))
