"""Grade one submission in this process with otter, bounded: the grading wrapper.

Run by ``course grade`` as ``python -m course_lib.grading.sandbox ZIP NOTEBOOK OUT.json``
in a throwaway folder. It

- makes itself a child subreaper (Linux), so a kernel that starts its own session
  stays in this process's tree and is killed with it, never left behind;
- gives every cell ``--cell-timeout`` seconds: nbconvert interrupts a cell that runs
  longer, so a Python loop loses only its own question (otter has no timeout);
- compares otter's test files with the zip's pristine copies after grading: a
  submission that rewrote them gets an error and no points;
- writes ``{"scores": {question: [score, possible]}, "cases": {question: [case…]}}``
  or ``{"error": …}`` to OUT.json; a case says whether it passed, and for a public
  one the failure message (a hidden test's message, which quotes its code, is kept
  out: it goes into the learner's feedback);
- writes the index of the submission's cell that is running to ``progress`` (in its
  folder), so that a timeout can say where it struck, and whether it struck before
  the submission ran at all (a kernel that never started is not the learner's fault);
- on SIGTERM (``course grade`` died, or stops it) kills its kernel before it exits.

The caller adds what this process cannot enforce on itself: a wall-clock timeout for
code that ignores interrupts (a loop inside C), a CPU-time limit, and the final kill.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import sys
import zipfile
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux prctl); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


LEARNER = "course_grade_learner_cell"  # metadata key: the cell's index in the submission
PROGRESS = "progress"


def mark_learner_cells(notebook: Path) -> None:
    """Tag the submission's own cells with their index, so that the cells otter adds
    to run the tests and save the results are not held to the learner's per-cell
    timeout (on a busy machine, a 5 s limit interrupted otter's results cell and lost
    every point), and a timeout can name the learner's cell."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    for index, cell in enumerate(nb.cells):
        cell.metadata[LEARNER] = index
    nbformat.write(nb, notebook)


def record_progress(cell, progress: Path) -> None:
    """Note which of the submission's cells starts now (otter's own cells are not noted)."""
    if LEARNER in cell.metadata:
        progress.write_text(str(cell.metadata[LEARNER]))


def bound_cells(cell_timeout: int, progress: Path) -> None:
    """Make every ExecutePreprocessor otter creates interrupt the learner's cells after
    the timeout (otter's own cells are bounded by the caller's overall timeout)."""
    from nbconvert.preprocessors import ExecutePreprocessor

    original = ExecutePreprocessor.__init__

    def bounded(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.timeout_func = lambda cell: cell_timeout if LEARNER in cell.metadata else None
        self.on_cell_start = lambda cell, cell_index: record_progress(cell, progress)
        self.interrupt_on_timeout = True
        self.allow_errors = True

    ExecutePreprocessor.__init__ = bounded


def kill_descendants() -> None:
    """Kill every process below this one (kernels included)."""
    import psutil

    for child in psutil.Process().children(recursive=True):
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass


def guard_tests(autograder_zip: Path) -> dict:
    """Check otter's test files against the zip's pristine copies after grading.

    Otter runs the tests from files in its grading folder, which the submission can
    reach: one that rewrote them scored full marks. The returned dict's
    ``"tampered"`` turns True when the files differ once grading is done.
    """
    from otter.run.run_autograder.runners import python_runner

    with zipfile.ZipFile(autograder_zip) as archive:
        pristine = {
            Path(n).name: archive.read(n)
            for n in archive.namelist()
            if n.startswith("tests/") and n.endswith(".py")
        }
    state = {"tampered": False}
    original = python_runner.grade_notebook

    def guarded(*args, **kwargs):
        try:
            return original(*args, **kwargs)
        finally:
            folder = Path(kwargs.get("test_dir", "./tests"))
            now = {p.name: p.read_bytes() for p in folder.glob("*.py")}
            state["tampered"] = now != pristine

    python_runner.grade_notebook = guarded
    return state


def grade(autograder_zip: Path, notebook: Path) -> dict:
    """Per-question ``[score, possible]`` from otter's local grading."""
    import otter.api

    guard = guard_tests(autograder_zip)
    results = otter.api.grade_submission(str(notebook), str(autograder_zip), quiet=True)
    if guard["tampered"]:
        return {"error": "the submission changed the grader's test files: no points"}
    scores = {
        name: [float(test.score), float(test.possible)]
        for name, test in results.results.items()
    }
    if not scores:
        return {"error": "no results: otter found no tests to run (were its files deleted?)"}
    return {"scores": scores, "cases": {name: cases(test) for name, test in results.results.items()}}


def cases(test) -> list[dict]:
    """Each test case of one question: name, hidden, passed, and a public one's message."""
    return [
        {"name": r.test_case.name, "hidden": bool(r.test_case.hidden), "passed": bool(r.passed),
         "message": "" if r.test_case.hidden or r.passed else (r.message or "")[-1500:]}
        for r in test.test_case_results
    ]  # fmt: skip


def _on_sigterm(signum, frame) -> None:
    kill_descendants()
    os._exit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("autograder_zip", type=Path)
    parser.add_argument("notebook", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--cell-timeout", type=int, default=60)
    args = parser.parse_args(argv)
    become_subreaper()
    signal.signal(signal.SIGTERM, _on_sigterm)
    bound_cells(args.cell_timeout, Path(PROGRESS).resolve())  # otter may change folder
    try:
        mark_learner_cells(args.notebook)
        outcome = grade(args.autograder_zip, args.notebook)
    except Exception as exc:  # reported in the CSV, never a traceback there
        outcome = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    finally:
        kill_descendants()
    args.out.write_text(json.dumps(outcome))
    return 0


if __name__ == "__main__":
    sys.exit(main())
