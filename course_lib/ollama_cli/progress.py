"""Ollama's pull and create progress: status lines, and a bar per layer.

On a terminal the bar is redrawn in place, as Ollama draws it; elsewhere (a pipe,
a notebook cell) each layer prints one finished line, so output stays short.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from .formatting import human_bytes

BAR_WIDTH = 20


def bar_line(label: str, completed: int, total: int, rate: float | None = None) -> str:
    """``pulling dde5aa3fc5ff: 100% ▕████████████████████▏ 2.0 GB``.

    >>> bar_line("pulling 0123456789ab", 98_000_000, 98_000_000)
    'pulling 0123456789ab: 100% ▕████████████████████▏  98 MB'
    >>> bar_line("pulling 0123456789ab", 49_000_000, 98_000_000, rate=25e6)
    'pulling 0123456789ab:  50% ▕██████████          ▏  49 MB/ 98 MB  25 MB/s      1s'
    """
    percent = int(completed * 100 / total) if total else 100
    filled = BAR_WIDTH * percent // 100
    bar = "▕" + "█" * filled + " " * (BAR_WIDTH - filled) + "▏"
    text = f"{label}: {percent:3d}% {bar}"
    if completed >= total:
        return f"{text} {human_bytes(total):>6}"
    text += f" {human_bytes(completed):>6}/{human_bytes(total):>6}"
    if rate:
        remaining = (total - completed) / rate
        text += f" {human_bytes(int(rate)):>6}/s {int(remaining):>6}s"
    return text


class Progress:
    """Feeds on the status objects of /api/pull and /api/create."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.tty = self.out.isatty()
        self.current: str | None = None
        self.started: dict[str, tuple[float, int]] = {}

    def update(self, status: dict) -> None:
        text = status.get("status") or ""
        digest, total = status.get("digest"), status.get("total")
        if digest and total:
            completed = status.get("completed") or 0
            first_time, first_done = self.started.setdefault(digest, (time.monotonic(), completed))
            elapsed = time.monotonic() - first_time
            rate = (completed - first_done) / elapsed if elapsed > 0.5 else None
            line = bar_line(text, completed, total, rate)
            if self.tty:
                self._end_line(digest)
                self.out.write("\r" + line + "\x1b[K")
                self.current = digest
            elif completed >= total:
                self.out.write(line + "\n")
            self.out.flush()
            return
        self._end_line(None)
        self.out.write(text + "\n")
        self.out.flush()

    def _end_line(self, digest: str | None) -> None:
        if self.current is not None and self.current != digest:
            self.out.write("\n")
            self.current = None

    def close(self) -> None:
        self._end_line(None)
