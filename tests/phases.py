"""Where ``make test``'s time went: each phase timed, then one table (issue: test time).

Standard library only: the first phase creates the virtual environment, so this runs on
the system Python. ``run`` times one phase and keeps its exit status; ``report`` prints
the phases, pytest's time per test folder and the slowest tests (written by the pytest
plugin ``tests.durations``) and the slowest lesson cells (tests/notebooks). A failing
phase prints the table so far, then fails.

    python3 tests/phases.py start
    python3 tests/phases.py run "setup: vLLM engine" make engine
    python3 tests/phases.py report
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

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


def run(name: str, command: list[str]) -> int:
    began = time.monotonic()
    print(f"==> {name}: {' '.join(command)}", flush=True)
    child = subprocess.Popen(command)
    try:
        status = child.wait()
    except KeyboardInterrupt:  # Ctrl-C reached the child too: let it finish its own summary
        status = child.wait()
        status = status if status else 130
    seconds = time.monotonic() - began
    phases = _load(PHASES, [])
    phases.append({"phase": name, "seconds": round(seconds, 1), "status": status})
    BUILD.mkdir(exist_ok=True)
    PHASES.write_text(json.dumps(phases))
    print(f"==> {name}: {_clock(seconds)}{'' if status == 0 else f' (failed, exit {status})'}", flush=True)
    if status != 0:
        report()
    return status


def _clock(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes:d}:{rest:02d}"


def table(phases: list[dict], durations: dict, cells: dict | None = None) -> list[str]:
    """The report's lines: phases (pytest split by test folder), total, slowest tests,
    slowest lesson cells."""
    busy_by_test = durations.get("busy", {})
    lines = [f"{'phase':<44} {'m:ss':>7}" + (f"  cores busy (of {durations.get('cores')})" if busy_by_test else ""),
             "-" * 52]
    folders: dict[str, float] = {}
    busy: dict[str, float] = {}
    for nodeid, seconds in durations.get("tests", {}).items():
        folder = "/".join(nodeid.split("::")[0].split("/")[:2])
        folders[folder] = folders.get(folder, 0.0) + seconds
        busy[folder] = busy.get(folder, 0.0) + busy_by_test.get(nodeid, 0.0)
    for phase in phases:
        mark = "" if phase["status"] == 0 else "  FAILED"
        lines.append(f"{phase['phase']:<44} {_clock(phase['seconds']):>7}{mark}")
        if phase["phase"].startswith("pytest"):
            for folder, seconds in sorted(folders.items(), key=lambda kv: -kv[1]):
                cores = f"  {busy[folder] / seconds:4.1f}" if busy_by_test and seconds else ""
                lines.append(f"  {folder:<42} {_clock(seconds):>7}{cores}")
            if folders:
                rest = max(0.0, phase["seconds"] - sum(folders.values()))
                lines.append(f"  {'(start-up, collection, teardown)':<42} {_clock(rest):>7}")
    lines.append("-" * 52)
    lines.append(f"{'total':<44} {_clock(sum(p['seconds'] for p in phases)):>7}")
    slow = sorted(durations.get("tests", {}).items(), key=lambda kv: -kv[1])[:SLOWEST]
    if slow:
        lines += ["", f"{len(slow)} slowest tests (setup + call + teardown):"]
        lines += [f"  {_clock(seconds):>6}  {nodeid}" for nodeid, seconds in slow]
    slow_cells = sorted((cell for found in (cells or {}).values() for cell in found), key=lambda c: -c[0])[:SLOWEST]
    if slow_cells:
        lines += ["", f"{len(slow_cells)} slowest lesson cells (nbval, COURSE_QUICK sizes):"]
        lines += [f"  {_clock(seconds):>6}  {label}" for seconds, label in slow_cells]
    return lines


def report() -> None:
    print("\n".join(["", "Where the time went", *table(_load(PHASES, []), _load(DURATIONS, {}), _load(CELLS, {}))]), flush=True)


def main(argv: list[str]) -> int:
    if argv[:1] == ["start"]:
        start()
        return 0
    if argv[:1] == ["report"]:
        report()
        return 0
    if argv[:1] == ["run"] and len(argv) >= 3:
        return run(argv[1], argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
