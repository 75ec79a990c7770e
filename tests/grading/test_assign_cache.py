"""otter-assign's output is cached by master content: reused when unchanged, redone when not."""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

from course_lib.grading import assign


def tiny_master(path, answer: int) -> None:
    cells = [
        new_raw_cell("# ASSIGNMENT CONFIG\nname: 98_tiny\nexport_cell: false\ncheck_all_cell: false\n"
                     "requirements: null\nsave_environment: false\nrun_tests: true"),  # fmt: skip
        new_markdown_cell("# Tiny"),
        new_raw_cell("# BEGIN QUESTION\nname: q1\npoints: 1"),
        new_markdown_cell("Set `x`."),
        new_raw_cell("# BEGIN SOLUTION"),
        new_code_cell(f"x = {answer}  # SOLUTION"),
        new_raw_cell("# END SOLUTION"),
        new_raw_cell("# BEGIN TESTS"),
        new_code_cell(f"assert x == {answer}"),
        new_raw_cell("# END TESTS"),
        new_raw_cell("# END QUESTION"),
    ]
    kernel = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}
    nbformat.write(new_notebook(cells=cells, metadata=kernel), path)


def test_cached_output_is_reused_only_for_the_same_master(tmp_path, monkeypatch):
    master, cache = tmp_path / "98_tiny.ipynb", tmp_path / "cache"
    tiny_master(master, 1)
    first = assign.generate(master, tmp_path / "w1", cache)
    assert first.autograder_zip.is_file() and "x = ..." in nbformat.writes(first.student)
    (entry,) = cache.iterdir()

    def no_otter(*args):
        raise AssertionError("otter-assign ran although the master is unchanged")

    monkeypatch.setattr(assign, "_run_otter_assign", no_otter)
    again = assign.generate(master, tmp_path / "w2", cache)
    assert again.student == first.student and again.autograder_zip.parent == entry

    tiny_master(master, 2)  # a changed master must be assigned again
    with pytest.raises(AssertionError, match="otter-assign ran"):
        assign.generate(master, tmp_path / "w3", cache)
    monkeypatch.undo()
    assign.generate(master, tmp_path / "w4", cache)
    assert [p.name for p in cache.iterdir()] != [entry.name] and len(list(cache.iterdir())) == 1


def test_writing_runs_the_masters_tests_and_checking_does_not(tmp_path):
    """`course assign` catches a solution that fails its own tests; `--check` only
    compares student notebooks, so it does not execute the master (make test runs each
    master once, in the full-marks test)."""
    master = tmp_path / "98_tiny.ipynb"
    tiny_master(master, 1)
    nb = nbformat.read(master, as_version=4)
    nb.cells[8].source = "assert x == 2"  # the solution (x = 1) now fails its own test
    nbformat.write(nb, master)
    with pytest.raises(assign.AssignError, match="98_tiny"):
        assign.generate(master, tmp_path / "w1", run_tests=True)
    checked = assign.generate(master, tmp_path / "w2", run_tests=False)
    assert "x = ..." in nbformat.writes(checked.student)
