"""Where ``make test``'s time went: each phase timed, then one table (issue: test time).

Standard library only: the first phase creates the virtual environment, so this runs on
the system Python. ``run`` times one phase and keeps its exit status; ``report`` prints
the phases, pytest's time per test folder and the slowest tests (written by the pytest
plugin ``tests.durations``) and the slowest lesson cells (tests/notebooks). A failing
phase prints the table so far, then fails. Each phase also says how many cores the
whole machine kept busy meanwhile (/proc/stat): where that is far below the cores
there are, running work side by side would pay.

    python3 tests/phases.py start
    python3 tests/phases.py run "setup: vLLM engine" make engine
    python3 tests/phases.py report
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterable

BUILD = Path(__file__).resolve().parents[1] / "build"
PHASES = BUILD / "phases.json"
DURATIONS = BUILD / "test-durations.json"  # written by tests/durations.py
CELLS = BUILD / "lesson-cells.json"  # written by tests/notebooks/test_lessons.py
SLOWEST = 15


def _load(path: Path, default):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return default


def start() -> None:
    BUILD.mkdir(exist_ok=True)
    PHASES.write_text("[]")
    DURATIONS.unlink(missing_ok=True)
    CELLS.unlink(missing_ok=True)


def cpu_busy_seconds(cores: Iterable[int] | None = None) -> float | None:
    """CPU seconds worked since boot (/proc/stat) by all cores together, or by ``cores``
    only (an xdist worker's own); None off Linux."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return None
    wanted = {"cpu"} if cores is None else {f"cpu{core}" for core in cores}
    busy = 0
    for line in lines:
        name, _, rest = line.partition(" ")
        if name in wanted:
            ticks = [int(f) for f in rest.split()[:8]]
            busy += sum(ticks) - ticks[3] - (ticks[4] if len(ticks) > 4 else 0)  # minus idle and iowait
    return busy / os.sysconf("SC_CLK_TCK")


def run(name: str, command: list[str]) -> int:
    began, busy_before = time.monotonic(), cpu_busy_seconds()
    print(f"==> {name}: {' '.join(command)}", flush=True)
    child = subprocess.Popen(command)
    try:
        status = child.wait()
    except KeyboardInterrupt:  # Ctrl-C reached the child too: let it finish its own summary
        status = child.wait()
        status = status if status else 130
    seconds, busy_after = time.monotonic() - began, cpu_busy_seconds()
    phases = _load(PHASES, [])
    phases.append({"phase": name, "seconds": round(seconds, 1), "status": status})
    if busy_before is not None and busy_after is not None:
        phases[-1]["busy"] = round(busy_after - busy_before, 1)
    BUILD.mkdir(exist_ok=True)
    PHASES.write_text(json.dumps(phases))
    print(f"==> {name}: {_clock(seconds)}{'' if status == 0 else f' (failed, exit {status})'}", flush=True)
    if status != 0:
        report()
    return status


def _clock(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes:d}:{rest:02d}"


def _folder(nodeid: str) -> str:
    return "/".join(nodeid.split("::")[0].split("/")[:2])


def _cores(busy: float | None, seconds: float) -> str:
    return f"  {busy / seconds:4.1f}" if busy is not None and seconds else ""


def table(phases: list[dict], durations: dict, cells: dict | None = None) -> list[str]:
    """The report's lines: phases (each pytest run split by test folder), total, slowest
    tests, slowest lesson cells. ``durations["runs"]`` holds one entry per pytest run, in
    the order of the phases that start with "pytest"."""
    runs = list(durations.get("runs", []))
    cores = durations.get("cores") or os.cpu_count()
    lines = [f"{'phase':<44} {'m:ss':>7}  cores busy (of {cores})", "-" * 52]
    for phase in phases:
        mark = "" if phase["status"] == 0 else "  FAILED"
        lines.append(f"{phase['phase']:<44} {_clock(phase['seconds']):>7}{_cores(phase.get('busy'), phase['seconds'])}{mark}")
        if phase["phase"].startswith("pytest") and runs:
            lines += _folder_lines(runs.pop(0), phase["seconds"])
    lines.append("-" * 52)
    lines.append(f"{'total':<44} {_clock(sum(p['seconds'] for p in phases)):>7}")
    tests = {k: v for run in durations.get("runs", []) for k, v in run.get("tests", {}).items()}
    slow = sorted(tests.items(), key=lambda kv: -kv[1])[:SLOWEST]
    if slow:
        lines += ["", f"{len(slow)} slowest tests (setup + call + teardown):"]
        lines += [f"  {_clock(seconds):>6}  {nodeid}" for nodeid, seconds in slow]
    slow_cells = sorted((cell for found in (cells or {}).values() for cell in found), key=lambda c: -c[0])[:SLOWEST]
    if slow_cells:
        lines += ["", f"{len(slow_cells)} slowest lesson cells (nbval, COURSE_QUICK sizes):"]
        lines += [f"  {_clock(seconds):>6}  {label}" for seconds, label in slow_cells]
    return lines


def _folder_lines(run: dict, wall: float) -> list[str]:
    """One pytest run's time by test folder. With several workers, a folder's time adds
    up every worker's tests (more than the wall clock), and its cores column counts the
    cores of the worker that ran it (each worker keeps to its own, tests/conftest.py)."""
    folders: dict[str, float] = {}
    busy: dict[str, float] = {}
    for nodeid, seconds in run.get("tests", {}).items():
        folders[_folder(nodeid)] = folders.get(_folder(nodeid), 0.0) + seconds
        if nodeid in run.get("busy", {}):
            busy[_folder(nodeid)] = busy.get(_folder(nodeid), 0.0) + run["busy"][nodeid]
    workers = run.get("workers", 1)
    lines = []
    for folder, seconds in sorted(folders.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {folder:<42} {_clock(seconds):>7}{_cores(busy.get(folder), seconds)}")
    if workers > 1:
        lines.append(f"  {f'(test time on {workers} workers, {_clock(wall)} of wall clock;':<42}")
        lines.append(f"  {' cores busy: of the cores of the worker that ran it)':<42}")
    elif folders:
        rest = max(0.0, wall - sum(folders.values()))
        lines.append(f"  {'(start-up, collection, teardown)':<42} {_clock(rest):>7}")
    return lines


def report() -> int:
    """Print the table; 1 if any phase failed (a phase make let go on after its failure)."""
    phases = _load(PHASES, [])
    print("\n".join(["", "Where the time went", *table(phases, _load(DURATIONS, {}), _load(CELLS, {}))]), flush=True)
    failed = [p["phase"] for p in phases if p["status"] != 0]
    if failed:
        print(f"FAILED: {', '.join(failed)}", flush=True)
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["start"]:
        start()
        return 0
    if argv[:1] == ["report"]:
        return report()
    if argv[:1] == ["run"] and len(argv) >= 3:
        return run(argv[1], argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
