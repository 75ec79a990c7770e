"""The time table that closes ``make test`` (tests/phases.py)."""

import os

from tests.phases import table


def test_pytest_phase_is_split_by_folder_and_the_rest_is_shown():
    phases = [{"phase": "setup: vLLM engine", "seconds": 61, "status": 0},
              {"phase": "pytest (all tests)", "seconds": 100, "status": 1}]
    durations = {"runs": [{"tests": {"tests/unit/test_a.py::t1": 10, "tests/unit/test_b.py::t2": 20,
                                     "tests/notebooks/test_lessons.py::x[00]": 50}}]}
    lines = table(phases, durations)
    text = "\n".join(lines)
    assert "setup: vLLM engine" in text and "1:01" in text
    assert any("pytest (all tests)" in line and "FAILED" in line for line in lines)
    assert any(line.strip().startswith("tests/notebooks") and line.endswith("0:50") for line in lines)
    assert any(line.strip().startswith("tests/unit") and line.endswith("0:30") for line in lines)
    assert any("(start-up, collection, teardown)" in line and line.endswith("0:20") for line in lines)
    assert any(line.startswith("total") and line.endswith("2:41") for line in lines)
    slowest = lines[lines.index(next(x for x in lines if "slowest" in x)) + 1:]
    assert slowest[0].endswith("tests/notebooks/test_lessons.py::x[00]")


def test_an_empty_run_still_prints_a_total():
    assert table([], {})[-1].endswith("0:00")


def test_the_slowest_lesson_cells_come_last_slowest_first():
    cells = {"04_vllm": [[41.2, "04_vllm cell 3: llm = LLM("], [2.5, "04_vllm cell 9: x"]],
             "10_benchmarks": [[95.0, "10_benchmarks cell 12: sweep"]]}
    lines = table([], {}, cells)
    start = lines.index(next(x for x in lines if "slowest lesson cells" in x))
    assert [line.split()[0] for line in lines[start + 1:]] == ["1:35", "0:41", "0:02"]
    assert lines[start + 1].endswith("10_benchmarks cell 12: sweep")


def test_each_folder_shows_how_many_cores_were_busy():
    durations = {"runs": [{"tests": {"tests/grading/a.py::t": 100, "tests/grading/b.py::t": 100,
                                     "tests/unit/c.py::t": 10},
                           "busy": {"tests/grading/a.py::t": 50, "tests/grading/b.py::t": 150, "tests/unit/c.py::t": 19}}],
                 "cores": 2}
    lines = table([{"phase": "pytest (all tests)", "seconds": 210, "status": 0}], durations)
    assert "cores busy (of 2)" in lines[0]
    assert next(x for x in lines if x.strip().startswith("tests/grading")).split() == ["tests/grading", "3:20", "1.0"]
    assert next(x for x in lines if x.strip().startswith("tests/unit")).split()[-1] == "1.9"


def test_two_pytest_runs_each_get_their_folders_and_a_parallel_run_says_so():
    phases = [{"phase": "pytest (one at a time)", "seconds": 300, "status": 0, "busy": 450},
              {"phase": "pytest tests/grading (2 workers)", "seconds": 120, "status": 0, "busy": 228}]
    durations = {"runs": [{"tests": {"tests/notebooks/t.py::a": 290}, "busy": {"tests/notebooks/t.py::a": 435}},
                          {"tests": {"tests/grading/t.py::b": 130, "tests/grading/t.py::c": 100}, "workers": 2}],
                 "cores": 2}
    lines = table(phases, durations)
    first, second = (lines.index(next(x for x in lines if x.startswith(p["phase"]))) for p in phases)
    assert lines[first].split()[-1] == "1.5" and lines[second].split()[-1] == "1.9", "each phase's cores busy"
    assert lines[first + 1].split() == ["tests/notebooks", "4:50", "1.5"]
    assert lines[second + 1].split() == ["tests/grading", "3:50"], "no per-folder cores under two workers"
    assert "2 workers, 2:00 of wall clock" in lines[second + 2]
    assert lines[lines.index(next(x for x in lines if "slowest tests" in x)) + 1].endswith("tests/notebooks/t.py::a")


def test_the_busy_reading_is_cpu_time_since_boot():
    from tests.phases import cpu_busy_seconds

    first = cpu_busy_seconds()
    sum(i * i for i in range(2_000_000))  # some work
    second = cpu_busy_seconds()
    assert first is not None and second is not None and second > first > 0


def test_the_busy_reading_of_some_cores_is_their_share():
    """A worker's reading (its own cores) is part of the machine's, and the cores add up."""
    from course_lib.cores import allowed_cores
    from tests.phases import cpu_busy_seconds

    cores = allowed_cores()
    whole, each = cpu_busy_seconds(), [cpu_busy_seconds([core]) for core in cores]
    assert all(0 < seconds <= whole for seconds in each)
    assert cpu_busy_seconds([]) == 0
    if cores == list(range(os.cpu_count() or 1)):  # every core: their sum is the machine's
        assert abs(sum(each) - whole) < 0.05 * whole
