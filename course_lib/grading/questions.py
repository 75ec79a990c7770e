"""Run one question's tests in this process, with otter's own test runner and scoring.

Used to prove that each question's tests fail a plausible wrong answer without
re-executing a notebook (DESIGN.md, Testing): the tests come from the autograder
zip (public and hidden), the answer from the caller's namespace.
"""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path
from typing import NamedTuple

from otter.test_files import OKTestFile


def _load(autograder_zip: Path, question: str) -> OKTestFile:
    with zipfile.ZipFile(autograder_zip) as archive, tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{question}.py"
        path.write_bytes(archive.read(f"tests/{question}.py"))
        return OKTestFile.from_file(str(path))


class QuestionResult(NamedTuple):
    """One run of a question's tests: the points and whether its public checks passed."""

    earned: float
    possible: float
    public_checks_pass: bool


def run_question(autograder_zip: Path, question: str, namespace: dict) -> QuestionResult:
    """Run ``question``'s tests (public and hidden) once against ``namespace``.

    One run gives both the score and what ``grader.check`` would say in the learner's
    notebook, so an answer whose tests wait on an engine is graded once, not twice."""
    test = _load(autograder_zip, question)
    test.run(dict(namespace))
    return QuestionResult(test.score, test.possible, test.passed_all_public)
