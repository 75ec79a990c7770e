"""pytest plugin: each test's time (setup + call + teardown) to build/test-durations.json,
for the table ``tests/phases.py report`` prints at the end of ``make test``.

A session fixture's start-up (an engine) counts towards the first test that needs it:
that is where the run waited for it.
"""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "build" / "test-durations.json"
_seconds: dict[str, float] = {}


def pytest_runtest_logreport(report) -> None:
    _seconds[report.nodeid] = _seconds.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session) -> None:
    if getattr(session.config, "workerinput", None) is not None:
        return  # an xdist worker: the controller gets every report and writes the file
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps({"tests": {k: round(v, 2) for k, v in _seconds.items()}}))
