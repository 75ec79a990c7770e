"""pytest plugin: each test's time (setup + call + teardown) to build/test-durations.json,
for the table ``tests/phases.py report`` prints at the end of ``make test``. Each pytest
run of one ``make test`` adds an entry to the file's ``runs``.

A session fixture's start-up (an engine) counts towards the first test that needs it:
that is where the run waited for it. Next to each test's time, the CPU time the whole
machine spent meanwhile (every process: engines, kernels, pytest), from /proc/stat: a
folder whose cores sit idle is one where running tests side by side would pay. Under
pytest-xdist each worker keeps to cores of its own (tests/conftest.py), so it reads the
CPU time of those cores only, and sends it to the controller with the test's last report.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from course_lib.cores import allowed_cores
from tests.phases import cpu_busy_seconds

OUT = Path(__file__).resolve().parents[1] / "build" / "test-durations.json"
_seconds: dict[str, float] = {}
_busy: dict[str, float] = {}
BUSY = "busy seconds"  # the user property each test's teardown report carries
_started = pytest.StashKey[float | None]()  # busy seconds when the test's setup began


def _cores(config) -> list[int] | None:
    """The cores to read: a worker's own, else the whole machine (None)."""
    return allowed_cores() if hasattr(config, "workerinput") else None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item) -> None:
    item.stash[_started] = cpu_busy_seconds(_cores(item.config))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    before = item.stash.get(_started, None)
    if call.when == "teardown" and before is not None:
        after = cpu_busy_seconds(_cores(item.config))
        if after is not None:
            outcome.get_result().user_properties.append((BUSY, round(after - before, 2)))


def pytest_runtest_logreport(report) -> None:
    _seconds[report.nodeid] = _seconds.get(report.nodeid, 0.0) + report.duration
    for name, value in report.user_properties:
        if name == BUSY:
            _busy[report.nodeid] = value


def pytest_sessionfinish(session) -> None:
    if getattr(session.config, "workerinput", None) is not None:
        return  # an xdist worker: the controller gets every report and writes the file
    try:
        runs = json.loads(OUT.read_text())["runs"]
    except (OSError, ValueError, KeyError):
        runs = []
    workers = getattr(session.config.option, "numprocesses", None) or 1
    runs.append({"tests": {k: round(v, 2) for k, v in _seconds.items()}, "busy": _busy, "workers": workers})
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps({"runs": runs, "cores": os.cpu_count()}))
