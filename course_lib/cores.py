"""Which CPU cores this process may run on: all of them, unless it was confined
(``taskset``, a container's cpuset, a test worker pinned by tests/conftest.py)."""

from __future__ import annotations

import os


def allowed_cores() -> list[int]:
    """The cores this process may be scheduled on, in order (every core where the
    system cannot say, e.g. macOS)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))
