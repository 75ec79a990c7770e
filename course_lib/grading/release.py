"""``course release DIR``: the course as learners get it, without the answers.

The instructors' repository carries the masters (``solutions/``: solutions and hidden
tests) and the tests that grade them (``tests/grading/``). A release is the committed
tree (``git ls-files``; outside a git checkout, the files under the course's folders)
without those, with the Makefile's ``make test`` no longer checking the exercises
against the masters. ``make lab`` and ``make test`` work in it as they do here. The
exercises keep only their public tests (otter-assign puts hidden ones in the
autograder zip alone); ``course release`` refuses to write a release that still
contains a hidden test's code.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

WITHHELD = ("solutions/", "tests/grading/", "build/")
FOLDERS = ("course_lib", "notebooks", "exercises", "tests", ".ci")
TOP_FILES = ("Makefile", "README.md", "pyproject.toml", "environment.yml", ".gitignore")


class ReleaseError(RuntimeError):
    """The release would leak answers, or its target is not empty."""


def released_files(root: Path) -> list[str]:
    """The files a release carries, relative to ``root``."""
    try:
        listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=root, capture_output=True, text=True, check=True)
        files = listed.stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        files = [p.relative_to(root).as_posix() for f in FOLDERS for p in (root / f).rglob("*") if p.is_file()]
        files += [name for name in TOP_FILES if (root / name).is_file()]
    keep = [f for f in files if not f.startswith(WITHHELD) and "__pycache__" not in f]
    return sorted(f for f in keep if (root / f).is_file())


def learner_makefile(text: str) -> str:
    """The Makefile without the instructors' step (``course assign --check``)."""
    return re.sub(r"^\t.*\bassign --check\b.*\n", "", text, flags=re.MULTILINE)


def _normal(text: str) -> str:
    """Code compared without spaces, quotes or JSON escapes (otter re-quotes test code)."""
    return re.sub(r"\\n|[\s'\"\\]", "", text)


def hidden_tests(autograder_zips: list[Path]) -> list[list[str]]:
    """Per hidden test case in these zips: its distinctive lines (normalised, long
    enough to mean something, and not also in a public test, which learners have)."""
    import tempfile

    from otter.test_files import OKTestFile

    found = []
    with tempfile.TemporaryDirectory() as tmp:
        for archive_path in autograder_zips:
            with zipfile.ZipFile(archive_path) as archive:
                cases = []
                for name in archive.namelist():
                    if name.startswith("tests/") and name.endswith(".py"):
                        path = Path(tmp) / Path(name).name
                        path.write_bytes(archive.read(name))
                        cases += OKTestFile.from_file(str(path)).test_cases
            public = {line for case in cases if not case.hidden for line in _code_lines(case.body)}
            for case in (c for c in cases if c.hidden):
                if distinct := sorted(line for line in _code_lines(case.body) - public if len(line) >= 20):
                    found.append(distinct)
    return found


def _code_lines(body: str) -> set[str]:
    return {_normal(re.sub(r"^\s*(>>>|\.\.\.) ?", "", line)) for line in body.splitlines()}


def leaks(target: Path, secrets: list[list[str]]) -> list[str]:
    """Files under ``target`` holding a hidden test: at least half of one case's
    distinctive lines (one line alone can be a helper a lesson also shows)."""
    found = []
    for path in sorted(p for p in target.rglob("*") if p.is_file()):
        text = _normal(path.read_text(errors="ignore"))
        if any(sum(line in text for line in case) >= max(1, -(-len(case) // 2)) for case in secrets):
            found.append(path.relative_to(target).as_posix())
    return found


def release(root: Path, target: Path, autograder_zips: list[Path] = ()) -> list[str]:
    """Write the learners' course from ``root`` into ``target`` (new or empty);
    return the files written. With the autograder zips, checks no hidden test leaked."""
    if target.exists() and any(target.iterdir()):
        raise ReleaseError(f"{target} is not empty: give a new folder")
    if target.resolve().is_relative_to(root.resolve()) and not target.resolve().is_relative_to(root.resolve() / "build"):
        raise ReleaseError(f"{target} is inside the course's own tree: give a folder outside it (or under build/)")
    files = released_files(root)
    for name in files:
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, destination)
    makefile = target / "Makefile"
    if makefile.is_file():
        makefile.write_text(learner_makefile(makefile.read_text()))
    leaked = leaks(target, hidden_tests(list(autograder_zips))) if autograder_zips else []
    if leaked:
        shutil.rmtree(target)
        raise ReleaseError(f"hidden tests found in {', '.join(leaked)}: nothing released")
    return files
