"""A synthetic class made from a master: right, partly wrong, broken, looping and
tampering submissions, with the total each must get. Used by test_class.py at CI size
and, by hand, at class size::

    python -m tests.grading.classroom 09 300 build/class300

(writes the class and its expected totals, ``expected.json``, into the folder), then
``course grade build/class300/submissions --out build/class300/grades.csv …`` and
``python -m tests.grading.classroom check build/class300`` (every row as expected?).
The right answer is otter's solved notebook (the master's solutions); a wrong one
puts the student's stub back into the **last** question (later questions may use
earlier answers, never the other way), so it loses exactly that question's points.
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course_lib.grading import assign
from course_lib.grading.batch import points_in

from .test_grade import REWRITES_TESTS

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS, EXERCISES = ROOT / "solutions", ROOT / "exercises"
CHECK = re.compile(r"grader\.check\(\s*[\"'](\w+)[\"']")

# kind: (share of the class, status, what it earns: "all", "all_but_last" or "none")
KINDS = {
    "right": (0.45, "ok", "all"),
    "stub_last": (0.2, "ok", "all_but_last"),
    "raises_last": (0.1, "ok", "all_but_last"),
    "python_loop_last": (0.06, "ok", "all_but_last"),
    "tampers": (0.06, "error", "none"),
    "kills_kernel": (0.06, "crashed", "none"),
    "c_loop": (0.02, "timeout", "none"),
    "resubmits": (0.05, "ok", "all"),  # an older stubbed notebook, then a right one
}


@dataclass(frozen=True)
class Expected:
    status: str
    total: float
    replaced: int = 0


def answer_cells(nb: nbformat.NotebookNode) -> dict[str, int]:
    """Question name → index of its answer cell (the code cell before its check)."""
    found = {}
    for index, cell in enumerate(nb.cells):
        match = CHECK.search(cell.source) if cell.cell_type == "code" else None
        if match:
            found[match.group(1)] = max(i for i in range(index) if nb.cells[i].cell_type == "code")
    return found


def unanswered(solved: nbformat.NotebookNode, student: nbformat.NotebookNode, question: str) -> nbformat.NotebookNode:
    """The solved notebook with one question left as handed out: every cell between the
    previous question's check and this one's back to the student's text (a question
    may have several answer cells: a function, then an explanation after a measurement).
    otter writes the solved and the student notebook cell for cell."""
    assert len(solved.cells) == len(student.cells), "otter's solved and student notebooks align cell for cell"
    nb, checks = copy.deepcopy(solved), sorted(_check_cells(solved).items(), key=lambda kv: kv[1])
    index = [name for name, _ in checks].index(question)
    start = checks[index - 1][1] + 1 if index else 0
    for i in range(start, checks[index][1]):
        nb.cells[i].source = student.cells[i].source
    return nb


def _check_cells(nb: nbformat.NotebookNode) -> dict[str, int]:
    return {m.group(1): i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (m := CHECK.search(c.source))}


def variant(solved: nbformat.NotebookNode, student: nbformat.NotebookNode, kind: str) -> nbformat.NotebookNode:
    """The solved notebook changed as ``kind`` says."""
    nb = copy.deepcopy(solved)
    cells, stubs = answer_cells(nb), answer_cells(student)
    last = list(cells)[-1]
    replace = {
        "stub_last": student.cells[stubs[last]].source,
        "raises_last": "raise RuntimeError('broken on purpose')",
        "python_loop_last": "while True:\n    pass",
    }
    if kind in replace:
        nb.cells[cells[last]].source = replace[kind]
    first = min(cells.values())
    inserted = {
        "tampers": REWRITES_TESTS.split("def is_lab_ollama")[0],
        "kills_kernel": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
        "c_loop": "sum(range(10**15))",
    }
    if kind in inserted:
        nb.cells.insert(first, nbformat.v4.new_code_cell(inserted[kind]))
    return nb


def make_class(exercise: str, size: int, folder: Path, work: Path, skip: tuple[str, ...] = ()) -> dict[str, Expected]:
    """Write ``size`` learners' submissions of ``exercise`` (e.g. "09") into
    ``folder/<learner>/NN_name.ipynb``, none of the kinds in ``skip``; return what
    each learner must get."""
    (master,) = assign.masters(SOLUTIONS, exercise)
    made = assign.generate(master, work, assign.cache_dir(ROOT / "build"))
    solved = nbformat.read(made.solved, as_version=4)
    student = nbformat.read(EXERCISES / master.name, as_version=4)
    points = points_in(made.autograder_zip)
    full, last = sum(points.values()), points[list(answer_cells(solved))[-1]]
    earned = {"all": full, "all_but_last": full - last, "none": 0.0}
    expected = {}
    kinds = [k for k, (share, *_) in KINDS.items() if k not in skip for _ in range(max(1, round(share * size)))]
    kinds = (kinds + ["right"] * size)[:size]
    for number, kind in enumerate(kinds):
        learner = f"learner{number:04d}-{kind}"
        target = folder / learner / master.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if kind == "resubmits":
            older = folder / learner / "first-try" / master.name
            older.parent.mkdir()
            nbformat.write(variant(solved, student, "stub_last"), older)
            os.utime(older, (1_700_000_000, 1_700_000_000))
            nbformat.write(variant(solved, student, "right"), target)
        else:
            nbformat.write(variant(solved, student, kind), target)
        _, status, what = KINDS[kind]
        expected[learner] = Expected(status, earned[what], 1 if kind == "resubmits" else 0)
    return expected


def check(folder: Path) -> list[str]:
    """Rows of ``folder/grades.csv`` that differ from ``expected.json`` (and learners missing)."""
    import csv

    expected = json.loads((folder / "expected.json").read_text())
    rows = {r["learner"]: r for r in csv.DictReader((folder / "grades.csv").open())}
    problems = [f"{k}: missing" for k in expected if k not in rows]
    for learner, row in rows.items():
        want = expected.get(learner)
        got = {"status": row["status"], "total": float(row["total"]), "replaced": int(row["replaced"])}
        if got != want:
            problems.append(f"{learner}: {got} != {want}")
    return problems


def main(argv: list[str]) -> int:
    if argv[1] == "check":
        problems = check(Path(argv[2]))
        print("\n".join(problems) or "every learner graded as expected")
        return 1 if problems else 0
    exercise, size, folder = argv[1], int(argv[2]), Path(argv[3])
    expected = make_class(exercise, size, folder / "submissions", folder / "assign")
    (folder / "expected.json").write_text(json.dumps({k: v.__dict__ for k, v in expected.items()}, indent=1))
    print(f"{len(expected)} learners in {folder / 'submissions'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
