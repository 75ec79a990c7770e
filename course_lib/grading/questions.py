"""Run one question's tests in this process, with otter's own test runner and scoring.

Used to prove that each question's tests fail a plausible wrong answer without
re-executing a notebook (DESIGN.md, Testing): the tests come from the autograder
zip (public and hidden), the answer from the caller's namespace.
"""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

from otter.test_files import OKTestFile


def _load(autograder_zip: Path, question: str) -> OKTestFile:
    with zipfile.ZipFile(autograder_zip) as archive, tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{question}.py"
        path.write_bytes(archive.read(f"tests/{question}.py"))
        return OKTestFile.from_file(str(path))


def question_score(autograder_zip: Path, question: str, namespace: dict) -> tuple[float, float]:
    """(points earned, points possible) for ``question`` run against ``namespace``."""
    test = _load(autograder_zip, question)
    test.run(dict(namespace))
    return test.score, test.possible


def public_checks_pass(autograder_zip: Path, question: str, namespace: dict) -> bool:
    """Whether ``question``'s public test cases (what ``grader.check`` runs in the
    learner's notebook) all pass against ``namespace``."""
    test = _load(autograder_zip, question)
    test.run(dict(namespace))
    return test.passed_all_public
