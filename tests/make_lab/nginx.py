"""nginx with njs for the class gateway's tests: Debian's packages, never a download.

``python -m tests.make_lab.nginx install`` (run by ``make test``) finds nginx and its
njs module or installs Debian's ``nginx`` and ``libnginx-mod-http-js`` where this user
may install packages. Where it cannot, it writes why to ``STATUS_FILE``; the gateway's
tests then report themselves as skipped with that reason, never as passed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from course_lib.class_kit import gateway

from . import apt

STATUS_FILE = Path(__file__).resolve().parents[2] / "build" / "gateway" / "nginx-unavailable.txt"


def find() -> str | None:
    """The nginx binary when nginx and njs are both installed, else None."""
    try:
        return gateway.find_nginx()
    except gateway.GatewayError:
        return None


def unavailable_reason() -> str:
    """Why there is no nginx with njs (what ``install`` recorded), for the skip message."""
    if STATUS_FILE.is_file():
        return STATUS_FILE.read_text().strip()
    try:
        gateway.find_nginx()
    except gateway.GatewayError as error:
        return f"{error}, and `make test` did not try to install it here (run `make test`)"
    return "nginx and njs are installed"


def require() -> str:
    """nginx's path for a test that needs the gateway; else skip it, with the reason."""
    import pytest

    if (path := find()) is None:
        pytest.skip(f"no nginx with njs for the class gateway: {unavailable_reason()}")
    return path


def install() -> str | None:
    """Find or install nginx with njs; return nginx's path, or None with the reason recorded."""
    return apt.find_or_install(STATUS_FILE, find, gateway.PACKAGES, "the class gateway's tests", "no nginx with njs")


if __name__ == "__main__":
    sys.exit(apt.main([__spec__.name, *sys.argv[1:]], install, unavailable_reason, "nginx", "the class gateway's tests"))
