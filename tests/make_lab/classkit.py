"""PostgreSQL and configurable-http-proxy for the class hub's tests: Debian's package
and npm's, never anything else.

``python -m tests.make_lab.classkit install`` (run by ``make test`` after installing
the ``class`` extra) finds or installs both; where it cannot, it writes why to a status
file, and the hub's tests report themselves as skipped with that reason, never as passed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from course_lib.class_kit import postgres, proxy

from . import apt

STATUS = Path(__file__).resolve().parents[2] / "build" / "classkit"
POSTGRES_STATUS = STATUS / "postgres-unavailable.txt"
PROXY_STATUS = STATUS / "proxy-unavailable.txt"


def find_postgres() -> str | None:
    try:
        return str(postgres.bin_dir())
    except postgres.PostgresError:
        return None


def install_proxy() -> str | None:
    """The proxy's path, from npm if needed; else None with the reason recorded."""
    PROXY_STATUS.parent.mkdir(parents=True, exist_ok=True)
    PROXY_STATUS.unlink(missing_ok=True)
    try:
        return proxy.install()
    except proxy.ProxyError as error:
        PROXY_STATUS.write_text(f"{error}\n")
        return None


def install() -> str | None:
    """Both pieces; a summary when both are there, else None (the reasons recorded)."""
    server = apt.find_or_install(POSTGRES_STATUS, find_postgres, (postgres.PACKAGE,), "the class hub's tests",
                                 "no PostgreSQL server")  # fmt: skip
    chp = install_proxy()
    return f"PostgreSQL in {server}, configurable-http-proxy at {chp}" if server and chp else None


def _reason(status: Path, missing: str) -> str:
    if status.is_file():
        return status.read_text().strip()
    return f"{missing}, and `make test` did not try to install it here (run `make test`)"


def unavailable_reason() -> str:
    reasons = []
    if find_postgres() is None:
        reasons.append(_reason(POSTGRES_STATUS, "no PostgreSQL server"))
    if proxy.find() is None:
        reasons.append(_reason(PROXY_STATUS, "no configurable-http-proxy"))
    return "; ".join(reasons) or "PostgreSQL and configurable-http-proxy are installed"


def require() -> None:
    """Skip a test that needs PostgreSQL and the proxy where they are missing, with the reason."""
    import pytest

    if find_postgres() is None or proxy.find() is None:
        pytest.skip(f"the class hub cannot run here: {unavailable_reason()}")


if __name__ == "__main__":
    sys.exit(apt.main([__spec__.name, *sys.argv[1:]], install, unavailable_reason, "PostgreSQL and the proxy",
                      "the class hub's tests"))  # fmt: skip
