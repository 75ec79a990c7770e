"""``course assign``: generate exercises/ and the autograders from the masters in solutions/.

otter-assign is the engine. It is pointed at a temporary folder, never at
exercises/, because it deletes its output folder first. Generated notebooks get random
cell ids, and its zip differs byte-wise between runs. So the student notebook is
normalised (ids numbered, outputs dropped) before it is written to exercises/, and
``--check`` compares normalised contents, never bytes. The autograder zips go to the
gitignored ``build/autograder/`` folder.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import nbformat


class AssignError(RuntimeError):
    """otter-assign failed (often: a solution fails its own tests); carries its output."""


@dataclass(frozen=True)
class Generated:
    """What otter-assign made from one master."""

    master: Path
    student: nbformat.NotebookNode
    autograder_zip: Path
    solved: Path  # otter's autograder notebook: the solutions, as a submission


def masters(solutions: Path) -> list[Path]:
    """The master notebooks, ``NN_name.ipynb``, in order."""
    return sorted(p for p in solutions.glob("[0-9][0-9]_*.ipynb"))


def generate(master: Path, workdir: Path) -> Generated:
    """Run otter-assign on ``master`` into ``workdir`` (which it may wipe)."""
    out = workdir / master.stem
    result = subprocess.run(
        [sys.executable, "-m", "otter", "assign", str(master), str(out)],
        capture_output=True, text=True,
    )  # fmt: skip
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-20:]
        raise AssignError(f"otter assign failed for {master.name}:\n" + "\n".join(tail))
    student = normalise(nbformat.read(out / "student" / master.name, as_version=4))
    (zip_path,) = (out / "autograder").glob("*.zip")
    return Generated(master, student, zip_path, out / "autograder" / master.name)


def normalise(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Stable cell ids, no outputs or execution counts: what is compared and committed."""
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{index:03d}"
        if cell.cell_type == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return nb


def assign(solutions: Path, exercises: Path, build: Path) -> list[Path]:
    """Regenerate every exercise and autograder; return the exercise paths written."""
    written = []
    exercises.mkdir(parents=True, exist_ok=True)
    (build / "autograder").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for master in masters(solutions):
            made = generate(master, Path(tmp))
            target = exercises / master.name
            nbformat.write(made.student, target)
            shutil.copy(made.autograder_zip, autograder_path(build, master))
            written.append(target)
    return written


def autograder_path(build: Path, master: Path) -> Path:
    """Where the autograder zip of one exercise lives: ``build/autograder/NN_x.zip``."""
    return build / "autograder" / f"{master.stem}.zip"


def check(solutions: Path, exercises: Path, fresh: Mapping[str, nbformat.NotebookNode] | None = None) -> list[str]:
    """What is out of date in exercises/: one line per problem, empty when in sync.

    ``fresh`` maps a master's file name to a student notebook already generated from it
    (otter-assign runs every master's tests, which takes a while).
    """
    problems = []
    expected_names = {m.name for m in masters(solutions)}
    for extra in sorted({p.name for p in exercises.glob("[0-9][0-9]_*.ipynb")} - expected_names):
        problems.append(f"{extra}: no master in {solutions}/ (remove it)")
    with tempfile.TemporaryDirectory() as tmp:
        for master in masters(solutions):
            committed = exercises / master.name
            if not committed.is_file():
                problems.append(f"{master.name}: missing from {exercises}/")
                continue
            student = fresh[master.name] if fresh and master.name in fresh else generate(master, Path(tmp)).student
            if normalise(nbformat.read(committed, as_version=4)) != student:
                problems.append(f"{master.name}: differs from what {master} generates")
    return problems
