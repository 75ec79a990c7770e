"""Sizes, relative times and tables exactly as Ollama's CLI prints them."""

from __future__ import annotations

import datetime as dt
import math

_UNITS = ((1000**4, "TB"), (1000**3, "GB"), (1000**2, "MB"), (1000, "KB"))


def human_bytes(size: int) -> str:
    """Ollama's format.HumanBytes: base 1000, one decimal below 10 units if needed.

    >>> human_bytes(98_000_000), human_bytes(2_000_000_000), human_bytes(4_700_000_000), human_bytes(12_400_000_000), human_bytes(999)
    ('98 MB', '2 GB', '4.7 GB', '12 GB', '999 B')
    """
    for scale, unit in _UNITS:
        if size >= scale:
            value = size / scale
            if value >= 10 or value == math.trunc(value):
                return f"{int(value)} {unit}"
            return f"{value:.1f} {unit}"
    return f"{size} B"


def human_duration(seconds: float) -> str:
    """Ollama's format.HumanDuration.

    >>> [human_duration(s) for s in (0.5, 1, 42, 60, 600, 3600, 7200, 3 * 86400, 21 * 86400, 90 * 86400, 800 * 86400)]
    ['Less than a second', '1 second', '42 seconds', 'About a minute', '10 minutes', 'About an hour', '2 hours', '3 days', '3 weeks', '3 months', '2 years']
    """
    whole = int(seconds)
    if whole < 1:
        return "Less than a second"
    if whole == 1:
        return "1 second"
    if whole < 60:
        return f"{whole} seconds"
    minutes = whole // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(seconds / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def human_time(when: dt.datetime | None, zero: str = "Never", now: dt.datetime | None = None) -> str:
    """``3 weeks ago``, ``4 minutes from now``, ``Forever`` (over 20 years ahead).

    >>> now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    >>> human_time(now - dt.timedelta(days=21), now=now), human_time(now + dt.timedelta(minutes=4, seconds=30), now=now)
    ('3 weeks ago', '4 minutes from now')
    >>> human_time(now.replace(year=2300), now=now), human_time(None)
    ('Forever', 'Never')
    """
    if when is None:
        return zero
    now = now or dt.datetime.now(dt.timezone.utc)
    delta = (now - when).total_seconds()
    if delta / 3600 / 24 / 365 < -20:
        return "Forever"
    if delta < 0:
        return human_duration(-delta) + " from now"
    return human_duration(delta) + " ago"


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Left-aligned columns, each as wide as its widest cell plus 4 (Go's tabwriter).

    >>> print(table(["NAME", "ID"], [["smollm2:135m", "0123456789ab"]]))
    NAME            ID              
    smollm2:135m    0123456789ab    
    """
    widths = [max(len(r[i]) for r in [headers, *rows]) + 4 for i in range(len(headers))]
    return "\n".join("".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in [headers, *rows])


def processor(size: int, size_vram: int) -> str:
    """``ollama ps``'s PROCESSOR column.

    >>> processor(100, 0), processor(100, 100), processor(100, 52)
    ('100% CPU', '100% GPU', '48%/52% CPU/GPU')
    """
    if size_vram <= 0:
        return "100% CPU"
    if size_vram >= size:
        return "100% GPU"
    gpu = round(size_vram / size * 100)
    return f"{100 - gpu}%/{gpu}% CPU/GPU"


def go_duration(seconds: float) -> str:
    """Go's time.Duration String(), as ``--verbose`` prints durations.

    >>> go_duration(1.52), go_duration(0.0123456), go_duration(0.000045), go_duration(75.5)
    ('1.52s', '12.3456ms', '45µs', '1m15.5s')
    """
    ns = round(seconds * 1e9)
    if ns < 1000:
        return f"{ns}ns"
    if ns < 1_000_000:
        return f"{_trim(ns / 1e3)}µs"
    if ns < 1_000_000_000:
        return f"{_trim(ns / 1e6)}ms"
    minutes, rest = divmod(ns / 1e9, 60)
    hours, minutes = divmod(int(minutes), 60)
    text = f"{_trim(round(rest, 9))}s"
    if minutes or hours:
        text = f"{minutes}m" + text
    if hours:
        text = f"{hours}h" + text
    return text


def _trim(value: float) -> str:
    return f"{value:.9f}".rstrip("0").rstrip(".")
