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


def llama_threads() -> int:
    """How many threads llama.cpp gets, as Ollama's ``num_thread`` 0 picks them: the
    physical cores, but no more than the cores this process may run on (a server
    confined with ``taskset``, or a test worker): llama.cpp's threads spin at each
    barrier, so two threads on one core wait out each other's time slices."""
    import psutil

    physical = psutil.cpu_count(logical=False) or psutil.cpu_count() or 1
    return max(1, min(physical, len(allowed_cores())))
