"""Every lesson executes clean from a fresh kernel, once, with nbval (DESIGN.md, Testing).

nbval runs in a child pytest so that the kernel inherits this session's engines
(OLLAMA_HOST and VLLM_BASE_URL point at the servers the session fixture started) and
``COURSE_QUICK=1``. It is run lax: only cells marked ``# NBVAL_CHECK_OUTPUT`` (the
deterministic ones, e.g. arithmetic tables) must reproduce their committed output;
every cell must run without an error.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CELL_TIMES = ROOT / "build" / "lesson-cells.json"  # the slowest cells, for tests/phases.py's table
_DURATION = re.compile(r"^([\d.]+)s call\s+\S+::Cell (\d+)$", re.MULTILINE)


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_lesson_executes_clean(lesson, ollama_url):
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider",
         "-q", "--no-header", "-o", "addopts=", "--durations=10", "--durations-min=2",
         "--rootdir", str(lesson.parent), str(lesson)],
        capture_output=True, text=True, timeout=600, cwd=lesson.parent,
        env={**os.environ, "COURSE_QUICK": "1"},
    )  # fmt: skip
    record_slow_cells(lesson, run.stdout)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "skipped" not in run.stdout


def record_slow_cells(lesson: Path, output: str) -> None:
    """nbval's slowest cells of this lesson (``Cell N`` counts code cells from 0), with
    each cell's first line, into CELL_TIMES: where a lesson's minutes go."""
    code = [c.source for c in nbformat.read(lesson, as_version=4).cells if c.cell_type == "code"]
    slow = [[float(seconds), f"{lesson.stem} cell {n}: {_headline(code[int(n)])}"]
            for seconds, n in _DURATION.findall(output) if int(n) < len(code)]  # fmt: skip
    try:
        recorded = json.loads(CELL_TIMES.read_text())
    except (OSError, ValueError):
        recorded = {}
    recorded[lesson.stem] = slow
    CELL_TIMES.parent.mkdir(exist_ok=True)
    CELL_TIMES.write_text(json.dumps(recorded))


def _headline(source: str) -> str:
    """A cell's first line that says what it does (not an import or a comment)."""
    lines = [line for line in source.strip().splitlines() if line.strip()]
    telling = [line for line in lines if not line.startswith(("import ", "from ", "#"))]
    return (telling or lines or [""])[0][:60]


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_lesson_is_committed_clean(lesson):
    """Learning objectives first; no error outputs; outputs only where nbval checks them."""
    nb = nbformat.read(lesson, as_version=4)
    assert "Learning objectives" in nb.cells[0].source
    assert "Going further on real hardware" in "".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        assert not any(o.output_type == "error" for o in cell.outputs), cell.source[:80]
        if "NBVAL_CHECK_OUTPUT" not in cell.source:
            assert cell.outputs == [], f"uncleared output in: {cell.source[:80]}"


def test_every_lesson_finds_its_engines_first():
    for lesson in LESSONS:
        first_code = next(c for c in nbformat.read(lesson, as_version=4).cells if c.cell_type == "code")
        assert "connect(" in first_code.source, lesson.name
