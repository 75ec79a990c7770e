"""Small helpers shared by the test folders (no fixtures here: see conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from course_lib import services

COURSE = str(Path(sys.executable).parent / "course")


free_port = services.free_port  # a TCP port nobody listens on right now


def same_worker(process) -> bool:
    """Whether a process (psutil) was started under this pytest-xdist worker, or under
    none when xdist is off: processes another worker's tests started are not ours to
    count. Raises psutil.Error for a process that is gone or not ours to read."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return process.environ().get("PYTEST_XDIST_WORKER") == worker


def our_processes(matches: Callable[[psutil.Process], bool]) -> set[int]:
    """The pids of this worker's processes that ``matches`` (compare two calls to find
    what a test left behind); processes that vanish or may not be read are skipped."""
    found = set()
    for process in psutil.process_iter():
        try:
            if matches(process) and same_worker(process):
                found.add(process.pid)
        except psutil.Error:
            pass
    return found


def course(*args: str, env: dict | None = None, timeout: float = 900):
    """Run the real ``course`` command; return the CompletedProcess."""
    return subprocess.run(
        [COURSE, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def require_vllm() -> None:
    """Skip (with the reason) where no vLLM exists for the platform; fail where it
    should have been installed but is not."""
    from course_lib import engine_install
    from course_lib.vllm_tools.server import installed_engine

    if installed_engine() is not None:
        return
    if engine_install.choose_engine() is None:
        pytest.skip("no vLLM build exists for this platform without an NVIDIA GPU")
    pytest.fail("vLLM is not installed but this machine can run it: run `make`")
