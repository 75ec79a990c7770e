"""The grader works wherever the exercise is (course_lib/grader.py): a renamed copy in
another folder, run from a third folder, finds its tests, says what a pass means and
grades to full marks; every master's init cell uses it."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from course_lib import grader
from course_lib.grading import assign

ROOT = Path(__file__).resolve().parents[2]
EXERCISE = ROOT / "exercises" / "00_setup.ipynb"
RIGHT = 'def is_lab_ollama(headers: dict) -> bool:\n    return any(k.lower() == "x-course-lab" for k in headers)'
CASE_SENSITIVE = 'def is_lab_ollama(headers: dict) -> bool:\n    return "X-Course-Lab" in headers'


def answered_copy(folder: Path, answer: str) -> Path:
    """exercises/00_setup.ipynb as JupyterLab's "Duplicate" names it, in ``folder``, answered."""
    nb = nbformat.read(EXERCISE, as_version=4)
    (cell,) = [c for c in nb.cells if "otter_answer_cell" in c.metadata.get("tags", [])]
    cell.source = answer
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "00_setup-Copy1.ipynb"
    nbformat.write(nb, path)
    return path


def run_from(notebook: Path, cwd: Path) -> list[str]:
    """Execute the notebook with ``cwd`` as the kernel's working directory; the text of
    every output, in order."""
    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts.append(out.get("text") or "".join(out.get("data", {}).get("text/plain", "")))
    return texts


@pytest.fixture
def elsewhere(tmp_path) -> Path:
    """A working directory with a tests/ folder and another exercise in it, as the
    course's root has: neither may be taken for the renamed notebook's tests."""
    cwd = tmp_path / "elsewhere"
    (cwd / "tests").mkdir(parents=True)
    shutil.copy(ROOT / "exercises" / "01_ollama_basics.ipynb", cwd)
    return cwd


def test_a_renamed_copy_in_another_folder_checks_and_says_hidden_tests_grade_more(tmp_path, elsewhere):
    copy = answered_copy(tmp_path / "my work", RIGHT)
    outputs = run_from(copy, elsewhere)
    assert any("q1: the public checks passed" in text and "hidden tests" in text for text in outputs), outputs
    assert not any("All test cases passed" in text for text in outputs), outputs


def test_a_failed_check_leads_with_the_assertions_message(tmp_path, elsewhere):
    copy = answered_copy(tmp_path / "my work", CASE_SENSITIVE)
    outputs = run_from(copy, elsewhere)
    failed = next(text for text in outputs if "a public check failed" in text)
    assert "header names are case-insensitive" in failed.split("Details:")[0], failed


def test_a_renamed_copy_grades_to_full_marks(tmp_path):
    made = assign.generate(ROOT / "solutions" / "00_setup.ipynb", tmp_path / "assign", assign.cache_dir(ROOT / "build"))
    copy = answered_copy(tmp_path / "submission", RIGHT)
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run([sys.executable, "-m", "otter", "run", "-a", str(made.autograder_zip), "-o", str(out), str(copy)],
                   check=True, capture_output=True, timeout=300)  # fmt: skip
    tests = json.loads((out / "results.json").read_text())["tests"]
    scores = {t["name"]: (t["score"], t["max_score"]) for t in tests if t.get("max_score")}
    assert scores and all(score == possible for score, possible in scores.values()), scores


def test_find_notebook_goes_by_assignment_not_file_name(tmp_path):
    other = tmp_path / "exercise 01.ipynb"
    shutil.copy(ROOT / "exercises" / "01_ollama_basics.ipynb", other)
    renamed = tmp_path / "mine.ipynb"
    shutil.copy(EXERCISE, renamed)
    assert grader.find_notebook("00_setup", tmp_path) == renamed.resolve()
    assert grader.find_notebook("01_ollama_basics", tmp_path) == other.resolve()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert grader.find_notebook("00_setup", empty) == EXERCISE.resolve()  # the course's own copy
    with pytest.raises(FileNotFoundError, match="no notebook of exercise 99_none"):
        grader.find_notebook("99_none", empty)


@pytest.mark.parametrize("master", assign.masters(ROOT / "solutions"), ids=lambda m: m.stem)
def test_every_master_starts_its_grader_by_assignment(master):
    nb = nbformat.read(master, as_version=4)
    config, init = nb.cells[0].source, nb.cells[1].source
    assert f"name: {master.stem}" in config and "init_cell: false" in config
    assert f'grader = exercise_grader("{master.stem}")' in init
