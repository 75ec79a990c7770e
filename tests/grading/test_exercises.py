"""Exercises from otter masters: in sync, solutions to full marks, wrong answers lose."""

import json
import multiprocessing
import os
import shutil
from pathlib import Path

import nbformat
import pytest
import requests

import course_lib

from course_lib.config import OLLAMA_MODEL
from course_lib.grading import assign
from course_lib.grading.questions import QuestionResult, run_question

from .answers import CASES, SHARED

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS, EXERCISES = ROOT / "solutions", ROOT / "exercises"
MASTERS = assign.masters(SOLUTIONS)


@pytest.fixture(scope="session")
def generated(tmp_path_factory, ollama_url):
    """otter-assign's output for each master: from the cache that ``make test``'s
    ``course assign --check`` filled a moment ago, else run now (it runs each master's
    tests, so the engines must answer)."""
    work = tmp_path_factory.mktemp("assign")
    return _OnDemand(lambda name: assign.generate(SOLUTIONS / name, work, assign.cache_dir(ROOT / "build")))


class _OnDemand(dict):
    """Generated on first use, so that ``-k 09_`` assigns one master, not all of them."""

    def __init__(self, make):
        super().__init__()
        self._make = make

    def __missing__(self, name):
        self[name] = self._make(name)
        return self[name]

    def items(self):
        return [(m.name, self[m.name]) for m in MASTERS]


def otter_run(autograder_zip: Path, notebook: Path) -> dict:
    """Grade one notebook with otter's own local runner, in this process: ``otter run``
    calls the same grader, from a process that imports otter and its dependencies again
    for each notebook; {question: (score, possible)}."""
    import otter.api

    here = os.getcwd()
    try:
        results = otter.api.grade_submission(str(notebook), str(autograder_zip), quiet=True)
    finally:
        os.chdir(here)
    return {name: (test.score, test.possible) for name, test in results.results.items() if test.possible}


def students(generated) -> dict:
    return {name: made.student for name, made in generated.items()}


def test_every_master_has_an_exercise_in_sync(generated):
    assert MASTERS, "no masters found"
    assert assign.check(SOLUTIONS, EXERCISES, students(generated)) == []


def test_a_stale_missing_or_extra_exercise_is_reported(tmp_path, generated):
    exercises = tmp_path / "exercises"
    shutil.copytree(EXERCISES, exercises)
    stale = exercises / MASTERS[0].name
    nb = nbformat.read(stale, as_version=4)
    nb.cells[1].source += "\nedited by hand"
    nbformat.write(nb, stale)
    (exercises / "99_orphan.ipynb").write_text(stale.read_text())
    problems = assign.check(SOLUTIONS, exercises, students(generated))
    assert f"{MASTERS[0].name}: differs from what {MASTERS[0]} generates" in problems
    assert any(p.startswith("99_orphan.ipynb: no master") for p in problems)
    stale.unlink()
    assert f"{MASTERS[0].name}: missing from {exercises}/" in assign.check(SOLUTIONS, exercises, students(generated))


@pytest.mark.parametrize("master", MASTERS, ids=lambda m: m.stem)
def test_solutions_get_full_marks_and_the_untouched_exercise_zero(master, generated):
    made = generated[master.name]
    solved = otter_run(made.autograder_zip, made.solved)
    assert solved and all(score == possible for score, possible in solved.values()), solved
    untouched = otter_run(made.autograder_zip, EXERCISES / master.name)
    assert set(untouched) == set(solved)
    assert all(score == 0 for score, _ in untouched.values()), untouched


@pytest.fixture(scope="session")
def next_token():
    from course_lib.next_token import NextToken

    return NextToken()


@pytest.fixture(scope="session")
def offline_llm():
    """A small offline vLLM engine in this process, as exercise 04 makes one."""
    from vllm import LLM

    from course_lib.vllm_tools.offline import shutdown_llm, use_course_engine_env

    use_course_engine_env()
    llm = LLM(model=course_lib.MODEL, dtype=course_lib.DTYPE, max_model_len=512, enforce_eager=True)
    yield llm
    shutdown_llm(llm)


#: Questions whose tests mostly wait (a proxy's delay behind a client's timeout, sleeps):
#: measured one at a time, 11 q2 took 93 s, 02 q5 40 s and 10 q4 36 s with the CPU 8-13%
#: busy. Their answers are graded side by side, each in a forked copy of this worker.
WAITING = {("02_ollama_rest_api", "q5"), ("10_benchmarks", "q4"), ("11_choosing", "q2")}

_pending: tuple = ()  # what the forked graders read: (autograder zip, question, namespaces)


def _grade_pending(index: int) -> QuestionResult:
    zip_path, question, namespaces = _pending
    return run_question(zip_path, question, namespaces[index])


def run_answers(zip_path: Path, question: str, namespaces: list[dict], side_by_side: bool) -> list[QuestionResult]:
    """One run of ``question``'s tests per namespace, in turn or each in its own process
    (forked, so the namespaces need not pickle; only the results come back)."""
    if not side_by_side:
        return [run_question(zip_path, question, namespace) for namespace in namespaces]
    global _pending
    _pending = (zip_path, question, namespaces)
    try:
        with multiprocessing.get_context("fork").Pool(len(namespaces)) as pool:
            return pool.map(_grade_pending, range(len(namespaces)))
    finally:
        _pending = ()


@pytest.mark.parametrize("key", sorted(CASES), ids=lambda k: "-".join(k))
def test_wrong_answers_lose_points(key, generated, ollama_url, request):
    """Each question's tests give the right answer full marks and take points from
    every plausible wrong one (answers/), in this worker's process (WAITING: forked
    copies of it) against the live lab Ollama; a wrong answer marked ``caught_publicly``
    already fails the public checks."""
    exercise, question = key
    zip_path = generated[f"{exercise}.ipynb"].autograder_zip
    name, right, wrongs = CASES[key]
    shared = {"OLLAMA": ollama_url, "MODEL": OLLAMA_MODEL, "requests": requests, "json": json}
    if exercise in SHARED:
        shared.update(SHARED[exercise](question, request))
    results = run_answers(zip_path, question, [{**shared, name: answer} for answer in (right, *wrongs)], key in WAITING)
    (earned, possible, public_ok), *wrong_results = results
    assert earned == possible, f"the right answer got {earned} of {possible}"
    assert public_ok, "the right answer fails a public check"
    for wrong, (earned, possible, public_ok) in zip(wrongs, wrong_results):
        label = getattr(wrong, "__name__", repr(wrong)[:40])
        assert earned < possible, f"{label} kept all {possible} points"
        if getattr(wrong, "caught_publicly", False):
            assert not public_ok, f"{label} passes the public checks, but the question says they catch it"
