"""Pure functions of class grading: engine marks from test code, blocked questions,
newest submission per learner, the failure line of a feedback file."""

from pathlib import Path

from course_lib.grading import marks
from course_lib.grading.batch import Submission, newest_per_learner
from course_lib.grading.feedback import failure


def test_engine_handles_count_in_code_not_in_strings_or_comments():
    assert marks.engines_in_code(">>> _r = generate(OLLAMA, MODEL, 'hi')\n>>> assert _r") == {"ollama"}
    assert marks.engines_in_code(">>> _t = generate_texts(llm, ['a'])\n... # VLLM too") == {"vllm-offline"}
    assert marks.engines_in_code("assert choose({'engine': 'ollama'}) == 'OLLAMA'  # OLLAMA") == frozenset()
    assert marks.engines_in_code("vllm_chat(VLLM, [], 8)") == {"vllm"}


def test_a_question_is_blocked_only_by_an_engine_that_does_not_answer():
    needs = {"q1": frozenset(), "q2": frozenset({"ollama"}), "q3": frozenset({"vllm", "ollama"})}
    assert marks.blocked(needs, {"ollama"}) == {"q3": ["vllm"]}
    assert marks.blocked(needs, set()) == {"q2": ["ollama"], "q3": ["ollama", "vllm"]}
    assert marks.describe(["ollama", "vllm"]) == "an Ollama server and a vLLM server"


def test_the_newest_submission_of_a_learner_replaces_the_older():
    subs = [Submission(Path("a/1.ipynb"), "ann", 200.0, "x"), Submission(Path("b.ipynb"), "bob", 50.0, "y"),
            Submission(Path("a/0.ipynb"), "ann", 100.0, "z"), Submission(Path("a/2.ipynb"), "ann", 300.0, "w")]  # fmt: skip
    kept = newest_per_learner(subs)
    assert [(s.path.name, [o.path.name for o in older]) for s, older in kept] == [
        ("2.ipynb", ["0.ipynb", "1.ipynb"]), ("b.ipynb", [])]


def test_feedback_names_the_statement_that_failed():
    report = "Failed example:\n    assert f(2) == 4\nException raised:\n    Traceback …\n    AssertionError"
    assert failure(report) == "`assert f(2) == 4` gave AssertionError"
    assert failure("") == "(no message)"
