"""``course assign``: generate exercises/ and the autograders from the masters in solutions/.

otter-assign is the engine. It is pointed at a temporary folder, never at
exercises/, because it deletes its output folder first. Generated notebooks get random
cell ids, and its zip differs byte-wise between runs. So the student notebook is
normalised (ids numbered, outputs dropped) before it is written to exercises/, and
``--check`` compares normalised contents, never bytes. The autograder zips go to the
gitignored ``build/autograder/`` folder.

``course assign`` lets otter-assign run every master's tests (minutes, with the
engines), so that a solution that fails its own tests is caught when exercises are
written. ``--check`` only compares the student notebooks, so it skips that run
(``--no-run-tests``): ``make test`` executes each master once, in the full-marks test,
not twice. otter's output for a master is kept in ``build/assign-cache/`` under the
hash of the master's bytes and otter's version, and reused by the grading tests.
"""

from __future__ import annotations

import hashlib
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


def masters(solutions: Path, only: str | None = None) -> list[Path]:
    """The master notebooks, ``NN_name.ipynb``, in order; with ``only``, those whose
    name starts with it (``only="09"`` gives ``09_multi_gpu.ipynb``)."""
    found = sorted(p for p in solutions.glob("[0-9][0-9]_*.ipynb"))
    return [p for p in found if only is None or p.name.startswith(only)]


def generate(master: Path, workdir: Path, cache: Path | None = None, run_tests: bool = False) -> Generated:
    """Run otter-assign on ``master`` into ``workdir`` (which it may wipe), or take its
    output from ``cache`` when this exact master was assigned before. ``run_tests``
    lets otter run the master's tests against its solutions (never from the cache)."""
    entry = cache / f"{master.stem}-{_cache_key(master)}" if cache else None
    if not run_tests and entry and (entry / "student.ipynb").is_file():
        student = nbformat.read(entry / "student.ipynb", as_version=4)
        return Generated(master, student, entry / "autograder.zip", entry / master.name)
    made = _run_otter_assign(master, workdir, run_tests)
    if entry:
        _store(made, entry)
    return made


def _cache_key(master: Path) -> str:
    import otter

    return hashlib.sha256(master.read_bytes() + otter.__version__.encode()).hexdigest()[:16]


def _store(made: Generated, entry: Path) -> None:
    """Write one cache entry atomically (a rename), dropping older ones of the same master."""
    for old in entry.parent.glob(f"{made.master.stem}-*"):
        shutil.rmtree(old, ignore_errors=True)
    partial = entry.with_name(entry.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    nbformat.write(made.student, partial / "student.ipynb")
    shutil.copy(made.autograder_zip, partial / "autograder.zip")
    shutil.copy(made.solved, partial / made.master.name)
    partial.rename(entry)


def _run_otter_assign(master: Path, workdir: Path, run_tests: bool) -> Generated:
    out = workdir / master.stem
    result = subprocess.run(
        [sys.executable, "-m", "otter", "assign", str(master), str(out), *([] if run_tests else ["--no-run-tests"])],
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


def assign(solutions: Path, exercises: Path, build: Path, only: str | None = None) -> list[Path]:
    """Regenerate every exercise and autograder (or those ``only`` selects, see
    ``masters``); return the exercise paths written.

    Always runs otter-assign (and so every master's tests); refreshes the cache."""
    written = []
    exercises.mkdir(parents=True, exist_ok=True)
    (build / "autograder").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for master in masters(solutions, only):
            made = generate(master, Path(tmp), run_tests=True)
            _store(made, cache_dir(build) / f"{master.stem}-{_cache_key(master)}")
            target = exercises / master.name
            nbformat.write(made.student, target)
            shutil.copy(made.autograder_zip, autograder_path(build, master))
            written.append(target)
    return written


def cache_dir(build: Path) -> Path:
    """Where otter-assign's output is kept between runs."""
    return build / "assign-cache"


def autograder_path(build: Path, master: Path) -> Path:
    """Where the autograder zip of one exercise lives: ``build/autograder/NN_x.zip``."""
    return build / "autograder" / f"{master.stem}.zip"


def check(
    solutions: Path,
    exercises: Path,
    fresh: Mapping[str, nbformat.NotebookNode] | None = None,
    cache: Path | None = None,
) -> list[str]:
    """What is out of date in exercises/: one line per problem, empty when in sync.

    ``fresh`` maps a master's file name to a student notebook already generated from it;
    ``cache`` is where otter-assign's output is kept (see ``generate``).
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
            if fresh and master.name in fresh:
                student = fresh[master.name]
            else:
                student = generate(master, Path(tmp), cache).student
            if normalise(nbformat.read(committed, as_version=4)) != student:
                problems.append(f"{master.name}: differs from what {master} generates")
    return problems
