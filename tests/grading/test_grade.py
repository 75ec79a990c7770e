"""`course grade`: broken submissions lose their own points, and nothing is left behind."""

import csv
import json
import sys
import time

import nbformat
import pytest

from course_lib.grading import assign
from course_lib.grading.grade import Limits, grade_many

from ..helpers import course, our_processes
from .test_exercises import EXERCISES, SOLUTIONS

# Edits otter's own test files so every assertion passes; plain otter then gives
# this wrong answer full marks (checked in test_the_test_rewriting_attack_is_real).
REWRITES_TESTS = """
import glob
for path in glob.glob('tests/*.py') + glob.glob('../tests/*.py'):
    text = open(path).read()
    open(path, 'w').write(text.replace('assert ', 'assert True or '))
def is_lab_ollama(headers):
    return False
"""
RIGHT = 'def is_lab_ollama(headers):\n    return any(k.lower() == "x-course-lab" for k in headers)'
SUBMISSIONS = {
    "right": RIGHT,
    # passes the public checks (every value there is non-empty), fails the hidden empty value
    "wrong": 'def is_lab_ollama(headers):\n    return any(k.lower() == "x-course-lab" and v for k, v in headers.items())',
    "python_loop": "while True:\n    pass",
    "c_loop": "sum(range(10**15))",
    "exits": "import os\nos._exit(1)",
    "raises": "raise RuntimeError('broken on purpose')",
    "deletes_files": RIGHT + "\nimport os, shutil\nfor f in os.listdir('.'):\n    shutil.rmtree(f, ignore_errors=True) if os.path.isdir(f) else os.remove(f)",
    "rewrites_tests": REWRITES_TESTS,
    "sys_exit": "import sys\nsys.exit(3)",
    "kills_kernel": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
    "floods_output": RIGHT + "\nwhile True:\n    print('x' * 1000)",
}
EXPECTED = {  # status, total points
    "right": ("ok", 2.0),
    "wrong": ("ok", 1.0),
    "python_loop": ("ok", 0.0),
    "c_loop": ("timeout", 0.0),
    "exits": ("crashed", 0.0),
    "raises": ("ok", 0.0),
    "deletes_files": ("error", 0.0),  # otter cannot tell: the submission loses its points
    "rewrites_tests": ("error", 0.0),
    "sys_exit": ("ok", 0.0),
    "kills_kernel": ("crashed", 0.0),
    "floods_output": ("ok", 2.0),  # interrupted after defining a right answer
}


def kernels() -> set[int]:
    return our_processes(lambda p: any("ipykernel" in part for part in p.cmdline()))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    work = tmp_path_factory.mktemp("grade")
    made = assign.generate(SOLUTIONS / "00_setup.ipynb", work / "assign")
    folder = work / "submissions"
    folder.mkdir()
    paths = []
    for label, answer in SUBMISSIONS.items():
        nb = nbformat.read(EXERCISES / "00_setup.ipynb", as_version=4)
        (cell,) = [c for c in nb.cells if "otter_answer_cell" in c.metadata.get("tags", [])]
        cell.source = answer
        path = folder / label / "00_setup.ipynb"
        path.parent.mkdir()
        nbformat.write(nb, path)
        paths.append(path)
    before = kernels()
    zip_bytes = made.autograder_zip.read_bytes()
    grades = grade_many(paths, made.autograder_zip, Limits(cell_timeout=5, timeout=45), jobs=2)
    assert made.autograder_zip.read_bytes() == zip_bytes, "the grader's files are unchanged"
    return {p.parent.name: g for p, g in zip(paths, grades)}, before, made, folder, zip_bytes


@pytest.mark.parametrize("label", sorted(SUBMISSIONS))
def test_each_submission_gets_what_it_earned(graded, label):
    grades = graded[0]
    status, total = EXPECTED[label]
    assert (grades[label].status, grades[label].total) == (status, total), grades[label]


def test_a_timeout_names_the_cell_it_struck_in_and_is_not_retried(graded):
    grades, *_ = graded
    exercise = nbformat.read(EXERCISES / "00_setup.ipynb", as_version=4)
    (answer,) = [i for i, c in enumerate(exercise.cells) if "otter_answer_cell" in c.metadata.get("tags", [])]
    c_loop = grades["c_loop"]
    assert f"in cell {answer + 1} of the notebook" in c_loop.reason, c_loop.reason
    assert "graded twice" not in c_loop.reason and c_loop.seconds < 2 * 45, c_loop


def test_a_timeout_before_the_first_cell_is_retried_once(graded, tmp_path):
    """1 s is too short for the wrapper to start a kernel: not the learner's doing."""
    _, _, made, folder, _ = graded
    before = kernels()
    (grade,) = grade_many([folder / "right" / "00_setup.ipynb"], made.autograder_zip, Limits(timeout=1), jobs=1)
    assert grade.status == "timeout" and "before its first cell started" in grade.reason, grade
    assert "graded twice" in grade.reason and grade.seconds >= 2, grade
    time.sleep(1)
    assert kernels() - before == set()


def test_a_kernel_that_dies_before_the_first_cell_is_retried_once(graded, tmp_path, monkeypatch):
    """A kernel that exits as it starts (here: a python3 kernelspec that does so, first on
    JUPYTER_PATH) fails before any of the learner's cells ran: graded again, and said."""
    _, _, made, folder, _ = graded
    spec = tmp_path / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-c", "raise SystemExit(1)", "{connection_file}"],
        "display_name": "Python 3 (dies at start)", "language": "python"}))  # fmt: skip
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    before = kernels()
    (grade,) = grade_many([folder / "right" / "00_setup.ipynb"], made.autograder_zip, Limits(timeout=60), jobs=1)
    assert grade.status == "error" and grade.total == 0, grade
    assert grade.reason.startswith("RuntimeError: Kernel died before replying to kernel_info"), grade
    assert "graded twice: the first try failed before its first cell started" in grade.reason, grade
    time.sleep(1)
    assert kernels() - before == set()


def test_no_kernel_or_grader_process_is_left(graded):
    _, before, *_ = graded
    time.sleep(1)
    assert kernels() - before == set()


def test_the_submissions_and_the_autograder_are_untouched(graded):
    _, _, made, folder, zip_bytes = graded
    assert made.autograder_zip.read_bytes() == zip_bytes
    assert sorted(p.parent.name for p in folder.glob("*/00_setup.ipynb")) == sorted(SUBMISSIONS)
    for label, answer in SUBMISSIONS.items():
        nb = nbformat.read(folder / label / "00_setup.ipynb", as_version=4)
        assert any(c.source == answer for c in nb.cells), f"{label} was modified"


def test_docker_grading_says_plainly_when_docker_is_missing(graded, tmp_path, monkeypatch):
    from course_lib.grading import grade as grading

    monkeypatch.setattr(grading, "docker_available", lambda: False)
    with pytest.raises(grading.GradingError, match="Docker is not running"):
        grading.grade_with_docker([tmp_path / "x.ipynb"], graded[2].autograder_zip, tmp_path / "out.csv")


def test_the_cli_writes_one_csv_row_per_submission(graded, tmp_path):
    _, _, made, folder, _ = graded
    out = tmp_path / "grades.csv"
    subs = [str(folder / name / "00_setup.ipynb") for name in ("right", "raises")]
    done = course("grade", *subs, "--autograder", str(made.autograder_zip), "--out", str(out),
                  "--no-engines", "--cell-timeout", "5", "--timeout", "60")  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(out.open()))
    assert [r["q1"] for r in rows] == ["2.0", "0.0"]
    assert [r["submission"] for r in rows] == subs, "rows tell same-named notebooks apart"
    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert rows[0].keys() >= {"submission", "q1", "total", "status", "reason"}


def test_the_test_rewriting_attack_is_real(graded):
    """Without course grade's check, otter itself gives the rewriter full marks."""
    import otter.api

    _, _, made, folder, _ = graded
    plain = otter.api.grade_submission(
        str(folder / "rewrites_tests" / "00_setup.ipynb"), str(made.autograder_zip), quiet=True
    )
    assert {q: (t.score, t.possible) for q, t in plain.results.items()} == {"q1": (2, 2)}
