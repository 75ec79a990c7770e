"""Background servers the course starts: pid and log files, health waits, clean stops.

One mechanism for every engine (vLLM now, lab Ollama later), so ``course up``,
``course down`` and ``course status`` treat them alike. A server runs in its own
process session; stopping it signals the whole group, so no worker process is left
behind. Pid and log files live under ``COURSE_HOME/run`` and ``COURSE_HOME/logs``,
named by service and port, and never two servers share a port.

Ownership is per invocation. Commands that share ``COURSE_HOME`` see each other's pid
files, so a pid file alone cannot say whose server it is: ``course assign`` once
counted a vLLM that ``course up`` (another terminal) was still starting as its own,
waited for it, and stopped it one second after it answered. Next to the pid file, an
owner file records which process started the server and whether it is *kept* (started
by ``course up``, runs until ``course down``). An invocation stops only what it started
(``started_by_me``) and nobody kept; ``course down`` stops kept servers and those
whose owner has exited, never a server another running command is using.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests
from tqdm import tqdm

from . import config


class ServiceError(RuntimeError):
    """A server could not be started or stopped; the message says why and what to do."""


@dataclass(frozen=True)
class Service:
    """How to run one server: its command, environment and where it answers."""

    name: str
    argv: Sequence[str]
    host: str
    port: int
    health_path: str = "/health"
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def pid_file(self) -> Path:
        return config.course_home() / "run" / f"{self.name}-{self.port}.pid"

    @property
    def owner_file(self) -> Path:
        return self.pid_file.with_suffix(".owner")

    @property
    def log_file(self) -> Path:
        return config.course_home() / "logs" / f"{self.name}-{self.port}.log"


def is_healthy(url: str, timeout: float = 2.0) -> bool:
    """True when a GET on ``url`` answers 2xx within ``timeout`` seconds."""
    try:
        return requests.get(url, timeout=timeout).ok
    except requests.RequestException:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_in_use(host: str, port: int) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def running_pid(service: Service) -> int | None:
    """The pid recorded for this service if that process still lives, else None.

    A stale pid file (the process died) is removed.
    """
    try:
        pid = int(service.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    if pid_alive(pid):
        return pid
    service.pid_file.unlink(missing_ok=True)
    service.owner_file.unlink(missing_ok=True)
    return None


@dataclass(frozen=True)
class Owner:
    """Who started a server: the process, and whether it is kept after that process ends."""

    pid: int
    keep: bool

    @property
    def alive(self) -> bool:
        return pid_alive(self.pid)


def owner(service: Service) -> Owner | None:
    """The owner recorded for ``service``; None when unknown (no owner file)."""
    try:
        pid, keep = service.owner_file.read_text().split()[:2]
        return Owner(int(pid), keep == "keep")
    except (FileNotFoundError, ValueError):
        return None


def claim(service: Service, keep: bool) -> None:
    """Record this process as the owner of ``service`` (``keep``: until ``course down``)."""
    service.owner_file.parent.mkdir(parents=True, exist_ok=True)
    service.owner_file.write_text(f"{os.getpid()} {'keep' if keep else 'invocation'}\n")


def started_by_me(service: Service) -> bool:
    """True when this very process started the running ``service``."""
    found = owner(service)
    return running_pid(service) is not None and found is not None and found.pid == os.getpid()


def owned_elsewhere(service: Service) -> Owner | None:
    """The owner of a running ``service`` when it is another live process that did not
    keep it (a ``course assign``/``grade``/``lab`` still at work); else None."""
    found = owner(service)
    if running_pid(service) is None or found is None or found.keep:
        return None
    return found if found.pid != os.getpid() and found.alive else None


def start(service: Service, timeout: float = 300.0, progress: bool = False, keep: bool = False) -> int:
    """Start ``service`` in the background and wait until its health URL answers.

    Returns the pid. If this service already runs on the port, returns its pid
    (no second server). If anything else holds the port, or the server dies or is
    not healthy within ``timeout`` seconds, raises ServiceError with the log's tail.
    ``progress`` shows the wait on stderr (a start can take a minute or more).
    A server started here is owned by this process (``started_by_me``); ``keep`` marks
    it as one that outlives it (``course up``). A reused server keeps its owner.
    """
    pid = running_pid(service)
    if pid is not None:
        wait_healthy(service, timeout, pid)
        return pid
    if port_in_use(service.host, service.port):
        raise ServiceError(
            f"port {service.port} on {service.host} is already in use by another "
            f"program, so {service.name} cannot start there. Stop that program "
            f"(`lsof -i :{service.port}` shows it) or choose another port."
        )
    for path in (service.pid_file, service.log_file):
        path.parent.mkdir(parents=True, exist_ok=True)
    with service.log_file.open("ab") as log:
        log.write(f"\n=== {time.strftime('%F %T')} {' '.join(service.argv)}\n".encode())
        log.flush()
        process = subprocess.Popen(
            list(service.argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **service.env},
            start_new_session=True,
        )
    service.pid_file.write_text(f"{process.pid}\n")
    claim(service, keep)
    try:
        wait_healthy(service, timeout, process.pid, progress)
    except BaseException:  # not ready, or Ctrl-C while waiting: leave no server behind
        stop(service)
        raise
    return process.pid


def wait_healthy(service: Service, timeout: float, pid: int | None = None, progress: bool = False) -> None:
    """Poll the health URL until it answers; fail early if ``pid`` exits."""
    deadline = time.monotonic() + timeout
    health = service.url + service.health_path
    waiting = tqdm(desc=f"starting {service.name} at {service.url} (log: {service.log_file})",
                   bar_format="{desc} {elapsed}", disable=not progress, file=sys.stderr, leave=True)  # fmt: skip
    every = 0.5 if sys.stderr.isatty() else 10.0  # a log file gets a line per 10 s
    shown = time.monotonic()
    with waiting:
        while time.monotonic() < deadline:
            if is_healthy(health):
                waiting.set_description_str(f"{service.name} ready at {service.url} after", refresh=False)
                return
            if pid is not None and not pid_alive(pid):
                raise ServiceError(
                    f"{service.name} exited before it was ready.\n{log_tail(service)}"
                )
            time.sleep(0.5)
            if time.monotonic() - shown >= every:
                waiting.refresh()
                shown = time.monotonic()
    raise ServiceError(
        f"{service.name} did not answer {health} within {timeout:.0f} s.\n"
        f"{log_tail(service)}"
    )


def stop(service: Service, grace: float = 30.0) -> bool:
    """Stop the service's whole process group: SIGTERM, then SIGKILL after ``grace``.

    Returns True if something was running.
    """
    pid = running_pid(service)
    if pid is None:
        return False
    _signal_group(pid, signal.SIGTERM)
    if not wait_group_gone(pid, grace):
        _signal_group(pid, signal.SIGKILL)
        while group_alive(pid):
            time.sleep(0.1)
    service.pid_file.unlink(missing_ok=True)
    service.owner_file.unlink(missing_ok=True)
    return True


def log_tail(service: Service, lines: int = 25) -> str:
    """The last lines of the service's log, framed for an error message."""
    try:
        text = service.log_file.read_text(errors="replace").splitlines()[-lines:]
    except FileNotFoundError:
        return f"(no log at {service.log_file})"
    body = "\n".join("    " + line for line in text)
    return f"Last {len(text)} lines of {service.log_file}:\n{body}"


def pid_alive(pid: int) -> bool:
    """True while process ``pid`` runs (a zombie, exited but not reaped, is gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return not _is_zombie(pid)
    return waited == 0


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def group_alive(pgid: int) -> bool:
    """True while any process of the group still runs (the leader may be gone)."""
    if pid_alive(pgid):
        return True
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return _group_has_live_members(pgid)


def wait_group_gone(pgid: int, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for every process of the group to exit (a signal
    is delivered at once, but exiting takes a moment); True if they all did."""
    deadline = time.monotonic() + timeout
    while group_alive(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def _group_has_live_members(pgid: int) -> bool:
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def process_tree(pid: int) -> list[psutil.Process]:
    """``pid`` and everything under it, children first; empty if it has exited."""
    try:
        root = psutil.Process(pid)
        return [*root.children(recursive=True), root]
    except psutil.NoSuchProcess:
        return []


def kill_processes(processes: Sequence[psutil.Process], timeout: float = 10.0) -> None:
    """SIGKILL each of ``processes`` (those already gone are skipped), then reap them."""
    for process in processes:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(processes, timeout=timeout)
