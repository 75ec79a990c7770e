"""The exercises' grader: otter's ``Notebook``, found wherever the notebook is, with
feedback that says what a pass means.

otter-assign's own first cell, ``otter.Notebook("00_setup.ipynb")``, reads that file
name from the working directory, so a duplicated (``00_setup-Copy1.ipynb``), renamed
or moved notebook loses its grader and every check fails with ``NameError``. The
public tests live in the notebook's metadata under the assignment's name, so any
copy of an exercise carries them: ``exercise_grader`` looks for a notebook of that
assignment, not for a file name. Each master's init cell calls it (its config sets
``init_cell: false``).

A public check that passes prints otter's "All test cases passed!", which a learner
reads as full marks; hidden tests grade more. ``CheckResult`` says so, and leads a
failure with the assertion's own message instead of a bare doctest transcript.
"""

from __future__ import annotations

import html
import inspect
import json
import os
from pathlib import Path
from typing import Any

import otter

EXERCISES = Path(__file__).resolve().parents[1] / "exercises"

PASSED = ("the public checks passed. They test the main requirement only: hidden tests "
          "(other inputs, edge cases, what your code sends to an engine) grade more when "
          "your work is graded, so re-read the question for what it says is checked later.")  # fmt: skip


def assignment_of(notebook: Path) -> str | None:
    """The otter assignment a notebook belongs to (its metadata), or None."""
    try:
        meta = json.loads(notebook.read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError):
        return None
    return (meta.get("otter") or {}).get("assignment_name")


def _session_notebooks() -> list[Path]:
    """The notebook the front end says this kernel runs (JupyterLab, VS Code), if any."""
    names = [os.environ.get("JPY_SESSION_NAME")]
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            names += [shell.user_ns.get("__session__"), shell.user_ns.get("__vsc_ipynb_file__")]
    except ImportError:
        pass
    return [Path(n) for n in names if n]


def find_notebook(assignment: str, folder: Path | None = None) -> Path:
    """A notebook of ``assignment``, under any file name: the one the front end runs,
    else one in ``folder`` (the working directory), else the course's own exercise.

    Every copy of one exercise holds the same public tests, so any of them will do.
    """
    folder = Path.cwd() if folder is None else folder
    here = sorted(folder.glob("*.ipynb"), key=lambda p: (p.name != f"{assignment}.ipynb", p.name))
    for candidate in [*_session_notebooks(), *here, EXERCISES / f"{assignment}.ipynb"]:
        if candidate.is_file() and assignment_of(candidate) == assignment:
            return candidate.resolve()
    raise FileNotFoundError(
        f"no notebook of exercise {assignment} in {folder} or {EXERCISES}: "
        f"open the exercise from the course's exercises/ folder (or a copy of it)")


class CheckResult:
    """otter's result of one question's checks, shown with what a pass means."""

    def __init__(self, result: Any):
        self._result = result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._result, name)

    def failures(self) -> list[str]:
        """One line per failed public test case: the error it ended with."""
        lines = []
        for case in self._result.test_case_results:
            if not case.passed and not case.test_case.hidden:
                last = [line.strip() for line in (case.message or "").splitlines() if line.strip()]
                lines.append(case.test_case.failure_message or (last[-1] if last else "failed"))
        return lines

    def __repr__(self) -> str:
        if self._result.passed_all_public:
            return f"{self._result.name}: {PASSED}"
        lead = "\n".join(f"  - {line}" for line in self.failures())
        return f"{self._result.name}: a public check failed:\n{lead}\n\nDetails:\n{self._result.summary(public_only=True)}"

    def _repr_html_(self) -> str:
        name = html.escape(self._result.name)
        if self._result.passed_all_public:
            return f"<p><strong>{name}</strong>: {html.escape(PASSED)}</p>"
        items = "".join(f"<li><code>{html.escape(line)}</code></li>" for line in self.failures())
        details = html.escape(self._result.summary(public_only=True))
        return (f"<p><strong style='color: #b00;'>{name}: a public check failed</strong></p><ul>{items}</ul>"
                f"<details><summary>details</summary><pre>{details}</pre></details>")  # fmt: skip


class ExerciseNotebook(otter.Notebook):
    """otter's Notebook whose ``check`` returns a ``CheckResult``."""

    def check(self, question: str, global_env: dict | None = None) -> CheckResult:
        if global_env is None:
            global_env = inspect.currentframe().f_back.f_globals  # the learner's notebook
        return CheckResult(super().check(question, global_env))


def exercise_grader(assignment: str) -> ExerciseNotebook:
    """The grader of exercise ``assignment`` (``"00_setup"``), wherever its notebook is.

    ``tests_dir=""``: the tests are in the notebook, never in a ``tests/`` folder that
    happens to be in the working directory (the course's own ``tests/``, for one).
    """
    return ExerciseNotebook(str(find_notebook(assignment)), tests_dir="")
