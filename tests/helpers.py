"""Small helpers shared by the test folders (no fixtures here: see conftest.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

COURSE = str(Path(sys.executable).parent / "course")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
