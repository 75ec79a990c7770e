"""Files only their owner may read (keys, tokens, passwords), written whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` with mode 0600, atomically.

    The text goes to a sibling file created 0600 (whatever the umask, and replacing a
    leftover of a killed write), which is then renamed over ``path``: a reader sees the
    old file or the new one, never a half-written secret or a moment of wider access.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(text)
    partial.replace(path)
    return path
