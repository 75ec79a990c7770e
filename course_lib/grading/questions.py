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


def question_score(autograder_zip: Path, question: str, namespace: dict) -> tuple[float, float]:
    """(points earned, points possible) for ``question`` run against ``namespace``."""
    with zipfile.ZipFile(autograder_zip) as archive, tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{question}.py"
        path.write_bytes(archive.read(f"tests/{question}.py"))
        test = OKTestFile.from_file(str(path))
    test.run(dict(namespace))
    return test.score, test.possible
