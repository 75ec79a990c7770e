"""Teach a class from one machine: a roster, a key per learner, a gateway, a hub.

- ``roster`` and ``keys``: who the learners are, and the key each one is given;
- ``gateway`` (Debian's nginx in front of the course's engines): admits a request only
  with a learner's key, limits each learner's rate, logs each request with its learner
  and token counts; ``usage`` sums that log per learner;
- ``hub`` (JupyterHub, with ``proxy`` and its database in ``postgres``): one login page
  and a notebook server per learner, set up by ``learner`` to reach the gateway;
- ``classroom``: all of it up and down together; ``cli``: ``course class ...``.

Everything lives under ``COURSE_HOME/class``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from .. import config


def class_home() -> Path:
    """``COURSE_HOME/class``: the keys, and the gateway's configuration and logs."""
    return config.course_home() / "class"


def secret(path: Path) -> str:
    """The random secret kept in ``path``, made there once, readable by its owner only
    (the hub's API token, the database password)."""
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(secrets.token_urlsafe(32))
    return path.read_text().strip()
