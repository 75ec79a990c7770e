"""A warning when the CPU is already busy: two engines on one CPU share its cores,
so a benchmark of one while the other works measures neither."""

from __future__ import annotations

import time
import warnings

import psutil

from ..cores import allowed_cores

BUSY_PERCENT = 25.0  # of the whole machine, before the benchmark sends anything


def busiest_processes(interval: float = 0.5, top: int = 3) -> tuple[float, list[tuple[str, float]]]:
    """The CPU use over ``interval`` seconds of the cores this process may run on (all of
    them, unless it was confined with ``taskset``), and the processes using most."""
    procs = list(psutil.process_iter(["name", "cmdline"]))
    for proc in procs:
        try:
            proc.cpu_percent(None)  # first call starts the measurement
        except psutil.Error:
            pass
    per_core = psutil.cpu_percent(interval=interval, percpu=True)
    allowed = allowed_cores()
    total = sum(per_core[core] for core in allowed) / len(allowed)
    usage = []
    for proc in procs:
        try:
            percent = proc.cpu_percent(None)
        except psutil.Error:
            continue
        if percent > 1:
            cmd = " ".join((proc.info.get("cmdline") or [proc.info.get("name") or "?"])[:3])
            usage.append((f"{proc.pid} {cmd[:70]}", percent))
    return total, sorted(usage, key=lambda item: -item[1])[:top]


def warn_if_cpu_busy(threshold: float = BUSY_PERCENT, wait: float = 10.0) -> bool:
    """Wait up to ``wait`` seconds for the CPU to calm down; warn (and return True) if it
    stays over ``threshold`` percent busy.

    The wait is for vLLM's CPU worker, whose OpenMP threads spin for about a second
    after its last request (50% of this 2-core machine), and for lab Ollama's
    decode thread finishing a request.
    """
    deadline = time.monotonic() + wait
    while True:
        total, top = busiest_processes()
        if total <= threshold:
            return False
        if time.monotonic() > deadline:
            break
    names = "; ".join(f"{name} ({percent:.0f}%)" for name, percent in top)
    warnings.warn(
        f"the CPU is {total:.0f}% busy before the benchmark starts ({names}). Another engine or "
        "job shares these cores, so the numbers will be low: let it finish, or stop it.",
        stacklevel=3,
    )
    return True
