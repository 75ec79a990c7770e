"""Teach a class from one machine: a roster, a key per learner, and a gateway.

Every learner's notebook sends its requests to one gateway (Debian's nginx) in front
of the course's engines. The gateway admits a request only with a learner's key,
limits each learner's rate and logs each request with its learner and token counts;
``usage`` sums that log per learner. Everything lives under ``COURSE_HOME/class``.
"""

from __future__ import annotations

from pathlib import Path

from .. import config


def class_home() -> Path:
    """``COURSE_HOME/class``: the keys, and the gateway's configuration and logs."""
    return config.course_home() / "class"
