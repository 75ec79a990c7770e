"""configurable-http-proxy, JupyterHub's proxy, from npm into the course's own folder.

JupyterHub (PyPI) does not bring its proxy: it is a Node.js program published on
npm. It is installed once with ``npm install --prefix`` into ``build/node`` of the
course checkout, never globally, and the hub's configuration names it by path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

PACKAGE = "configurable-http-proxy@^5"
ROOT = Path(__file__).resolve().parents[2]


class ProxyError(RuntimeError):
    """No configurable-http-proxy, and it cannot be installed; the message says why."""


def prefix() -> Path:
    return ROOT / "build" / "node"


def find() -> str | None:
    """The proxy: ``CONFIGURABLE_HTTP_PROXY``, the course's own, or one on PATH."""
    explicit = os.environ.get("CONFIGURABLE_HTTP_PROXY")
    own = prefix() / "node_modules" / ".bin" / "configurable-http-proxy"
    found = explicit or (str(own) if own.is_file() else shutil.which("configurable-http-proxy"))
    return found if found and Path(found).is_file() else None


def install() -> str:
    """The proxy's path, installed from npm first if needed; else ProxyError."""
    if found := find():
        return found
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise ProxyError("JupyterHub's proxy is configurable-http-proxy from npm, and there is no Node.js here "
                         "(Debian: `apt-get install nodejs npm`, Node.js 20 or newer)")  # fmt: skip
    prefix().mkdir(parents=True, exist_ok=True)
    done = subprocess.run([npm, "install", "--prefix", str(prefix()), "--no-audit", "--no-fund", PACKAGE],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0 or not (found := find()):
        tail = " ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise ProxyError(f"`npm install --prefix {prefix()} {PACKAGE}` failed: {tail}")
    return found
