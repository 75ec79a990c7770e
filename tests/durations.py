"""pytest plugin: each test's time (setup + call + teardown) to build/test-durations.json,
for the table ``tests/phases.py report`` prints at the end of ``make test``.

A session fixture's start-up (an engine) counts towards the first test that needs it:
that is where the run waited for it. Next to each test's time, the CPU time the whole
machine spent meanwhile (every process: engines, kernels, pytest), from /proc/stat: a
folder whose cores sit idle is one where running tests side by side would pay.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

OUT = Path(__file__).resolve().parents[1] / "build" / "test-durations.json"
_seconds: dict[str, float] = {}
_busy: dict[str, float] = {}


def cpu_busy_seconds() -> float | None:
    """CPU seconds all cores together have worked since boot (/proc/stat); None off Linux."""
    try:
        ticks = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")


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
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps({"tests": {k: round(v, 2) for k, v in _seconds.items()}, "busy": _busy,
                              "cores": os.cpu_count()}))
