"""`course release DIR`: the learners' copy has lessons, exercises and course_lib, the
two make commands, and no solutions/ or hidden test."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile

import nbformat
import pytest

from course_lib.grading import assign, release

from ..helpers import course
from .classroom import ROOT, SOLUTIONS
from .test_grade import RIGHT


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    work = tmp_path_factory.mktemp("release")
    (master,) = assign.masters(SOLUTIONS, "00")
    assign.generate(master, work / "assign", assign.cache_dir(ROOT / "build"))  # at least one autograder to check
    target = work / "course"
    done = course("release", str(target), "--root", str(ROOT))
    assert done.returncode == 0, done.stdout + done.stderr
    return target, done.stdout


def hidden_assertions() -> set[str]:
    """Every ``assert`` line of every hidden test in the cached autograders, without
    spaces or quotes, unless a public test has it too (or a longer line containing it,
    such as the same assertion with a message)."""
    from otter.test_files import OKTestFile

    hidden, public = set(), set()
    for archive_path in assign.cache_dir(ROOT / "build").glob("*/autograder.zip"):
        with zipfile.ZipFile(archive_path) as archive:
            for name in (n for n in archive.namelist() if n.startswith("tests/") and n.endswith(".py")):
                path = archive_path.parent / "_probe.py"
                path.write_bytes(archive.read(name))
                cases = OKTestFile.from_file(str(path)).test_cases
                path.unlink()
                for case in cases:
                    lines = {squeeze(line.lstrip(">. ")) for line in case.body.splitlines() if "assert " in line}
                    (hidden if case.hidden else public).update(lines)
    return {line for line in hidden if not any(line in seen for seen in public)}


def squeeze(text: str) -> str:
    return re.sub(r"[\s'\"\\]", "", text)


def test_no_solutions_no_grading_tests_and_no_hidden_test_text(released):
    target, said = released
    assert (target / "course_lib" / "__init__.py").is_file()
    assert list((target / "notebooks").glob("*.ipynb")) and list((target / "exercises").glob("*.ipynb"))
    assert not (target / "solutions").exists() and not (target / "tests" / "grading").exists()
    assert re.search(r"no hidden test of [1-9]\d* autograders", said), said
    secrets = hidden_assertions()
    assert secrets, "the control: hidden tests exist to look for"
    for path in (p for p in target.rglob("*") if p.is_file()):
        text = squeeze(path.read_text(errors="ignore").replace("\\n", ""))
        assert not [s for s in secrets if s in text], f"hidden test assertion in {path}"


def test_a_release_that_would_leak_a_hidden_test_is_refused(tmp_path):
    source = tmp_path / "source"
    (source / "exercises").mkdir(parents=True)
    (master,) = assign.masters(SOLUTIONS, "00")
    shutil.copy(master, source / "exercises" / master.name)  # a master where an exercise belongs
    zips = list(assign.cache_dir(ROOT / "build").glob(f"{master.stem}-*/autograder.zip"))
    with pytest.raises(release.ReleaseError, match="hidden tests found in exercises/"):
        release.release(source, tmp_path / "out", zips)
    assert not (tmp_path / "out").exists(), "nothing half-written is left"


def test_make_test_no_longer_needs_the_masters(released):
    target, _ = released
    dry = subprocess.run(["make", "-n", "test"], cwd=target, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    assert "pytest" in dry.stdout and "assign" not in dry.stdout
    lab = subprocess.run(["make", "-n", "lab"], cwd=target, capture_output=True, text=True)
    assert lab.returncode == 0 and "course lab" in lab.stdout.replace("/course lab", " course lab")


def test_a_lesson_and_an_exercise_import_from_the_release(released):
    target, _ = released
    env = {**os.environ, "PYTHONPATH": str(target)}
    lesson = sorted((target / "notebooks").glob("00_*.ipynb"))[0]
    imports = [line for cell in nbformat.read(lesson, as_version=4).cells if cell.cell_type == "code"
               for line in cell.source.splitlines() if re.match(r"(import|from) \w", line)]  # fmt: skip
    probe = "\n".join([*imports, "import course_lib", "print(course_lib.__file__)"])
    done = subprocess.run([sys.executable, "-c", probe], cwd=lesson.parent, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(f"{target}/course_lib/__init__.py")
    check = "\n".join(["import otter", "grader = otter.Notebook('00_setup.ipynb')", RIGHT, "print(grader.check('q1'))"])
    done = subprocess.run([sys.executable, "-c", check], cwd=target / "exercises", env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "passed" in done.stdout, done.stdout
