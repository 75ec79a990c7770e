"""pytest plugin: each test's time (setup + call + teardown) to build/test-durations.json,
for the table ``tests/phases.py report`` prints at the end of ``make test``. Each pytest
run of one ``make test`` adds an entry to the file's ``runs``.

A session fixture's start-up (an engine) counts towards the first test that needs it:
that is where the run waited for it. Next to each test's time, the CPU time the whole
machine spent meanwhile (every process: engines, kernels, pytest), from /proc/stat: a
folder whose cores sit idle is one where running tests side by side would pay. Under
pytest-xdist that reading would count the other workers' tests too: workers record no
busy time, the phase's reading (tests/phases.py) covers them all.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.phases import cpu_busy_seconds

OUT = Path(__file__).resolve().parents[1] / "build" / "test-durations.json"
_seconds: dict[str, float] = {}
_busy: dict[str, float] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    before = cpu_busy_seconds()
    yield
    after = cpu_busy_seconds()
    if before is not None and after is not None:
        _busy[item.nodeid] = round(after - before, 2)


def pytest_runtest_logreport(report) -> None:
    _seconds[report.nodeid] = _seconds.get(report.nodeid, 0.0) + report.duration


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
