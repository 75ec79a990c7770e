"""doctor: the table and its 'to do' lines."""

from course_lib.doctor import Check, render


def test_each_missing_item_gets_one_line_saying_what_to_do():
    text = render(
        [
            Check("Python", "3.11.7", True),
            Check("vLLM", "not installed", False, "run `make`"),
            Check("Model for vLLM", "not prepared", False, "run `course model prepare`"),
        ]
    )
    lines = text.splitlines()
    assert lines[0].split() == ["check", "ok", "found"]
    assert any(l.startswith("Python") and "✔" in l and "3.11.7" in l for l in lines)
    assert any(l.startswith("vLLM") and "✘" in l for l in lines)
    todo = lines[lines.index("To do:") + 1 :]
    assert todo == [
        "- vLLM: run `make`",
        "- Model for vLLM: run `course model prepare`",
    ]


def test_nothing_to_do_when_all_is_well():
    assert "To do" not in render([Check("Python", "3.11.7", True)])
