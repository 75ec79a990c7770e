"""The class's PostgreSQL: a cluster of its own under ``COURSE_HOME/class/postgres``.

JupyterHub keeps its users, servers and tokens in a database; PostgreSQL survives a
hub restart and many learners at once better than SQLite. Debian's server binaries
(``/usr/lib/postgresql/VERSION/bin``, package ``postgresql``) run a cluster with its
own data folder, its unix socket in ``COURSE_HOME/class/postgres`` and TCP on the
loopback only; it never touches the system's clusters or ``/etc/postgresql``.
``pg_ctl`` starts and stops it (it waits for readiness, which an HTTP health check
cannot see). The hub connects over TCP as the role ``jupyterhub`` with a password
kept in ``COURSE_HOME/class/postgres/password`` (mode 0600).

PostgreSQL refuses to run as root. When this process is root, ``initdb``, ``pg_ctl``
and ``psql`` run as the ``postgres`` system user (``runuser -u postgres --``), the
cluster's folder is chowned to it, and every folder above it must let that user pass
(search permission): otherwise a PostgresError names the folder to fix.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote

from .. import services
from . import class_home, secret

PACKAGE = "postgresql"
SYSTEM_USER = "postgres"  # who runs the cluster when we are root
DATABASE = ROLE = "jupyterhub"


class PostgresError(RuntimeError):
    """The class's PostgreSQL cannot be set up, started or reached; the message says why."""


@dataclass(frozen=True)
class Cluster:
    """Where the class's own PostgreSQL listens: loopback TCP on ``port``, and a socket."""

    port: int = 5433  # not 5432: a system PostgreSQL may hold that one

    @property
    def url(self) -> str:
        """The hub's SQLAlchemy URL (psycopg2), password included."""
        return f"postgresql+psycopg2://{ROLE}:{quote(password(), safe='')}@127.0.0.1:{self.port}/{DATABASE}"


def folder() -> Path:
    """The cluster's folder: its socket, password and settings; ``data`` holds the cluster."""
    return class_home() / "postgres"


def data_dir() -> Path:
    return folder() / "data"


def bin_dir() -> Path:
    """Debian's server binaries, newest version first; else PostgresError with the fix."""
    explicit = os.environ.get("PG_BIN")
    found = [Path(explicit)] if explicit else sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                                                     key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
                                                     reverse=True)  # fmt: skip
    for candidate in found:
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    raise PostgresError(f"the class's database needs PostgreSQL's server (Debian: `apt-get install {PACKAGE}`), "
                        "or point the hub at one with --db-url postgresql://…")  # fmt: skip


def _as_owner() -> list[str]:
    """The prefix that runs a PostgreSQL program as the cluster's owner."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        raise PostgresError(f"PostgreSQL will not run as root, and there is no {SYSTEM_USER!r} user to run it "
                            f"(Debian's {PACKAGE} package creates one)") from None  # fmt: skip
    return ["runuser", "-u", SYSTEM_USER, "--"]


def _run(*argv: str, stdin: str | None = None) -> str:
    done = subprocess.run([*_as_owner(), *argv], input=stdin, capture_output=True, text=True)
    if done.returncode != 0:
        raise PostgresError(f"{Path(argv[0]).name} failed: {(done.stderr or done.stdout).strip()}")
    return done.stdout


def password() -> str:
    """The ``jupyterhub`` role's password, made once (owner-only file)."""
    return secret(folder() / "password")


def _hand_over(path: Path) -> None:
    """As root: give ``path`` to the postgres user and check it can reach it."""
    if os.geteuid() != 0:
        return
    account = pwd.getpwnam(SYSTEM_USER)
    os.chown(path, account.pw_uid, account.pw_gid)
    path.chmod(0o700)
    for parent in path.parents:
        if subprocess.run([*_as_owner(), "test", "-x", str(parent)]).returncode != 0:
            raise PostgresError(f"the {SYSTEM_USER} user, who runs PostgreSQL for root, may not pass through {parent}: "
                                f"`chmod o+x {parent}`, or set COURSE_HOME to a folder it may reach")  # fmt: skip


def create() -> bool:
    """``initdb`` the cluster unless it exists (peer login on the socket, passwords on
    TCP); True if it was made now."""
    data = data_dir()
    if (data / "PG_VERSION").is_file():
        return False
    initdb = bin_dir() / "initdb"
    for path in (folder(), data):
        path.mkdir(parents=True, exist_ok=True)
        _hand_over(path)
    _run(str(initdb), "-D", str(data), "--auth-local=peer", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-instructions")
    return True


def _save(cluster: Cluster) -> None:
    (folder() / "settings.json").write_text(json.dumps(asdict(cluster)) + "\n")


def saved() -> Cluster | None:
    try:
        return Cluster(**json.loads((folder() / "settings.json").read_text()))
    except FileNotFoundError:
        return None


def _pg_ctl(cluster: Cluster, *args: str) -> str:
    options = f"-c listen_addresses=127.0.0.1 -p {cluster.port} -k {folder()}"
    log = folder() / "postgres.log"
    return _run(str(bin_dir() / "pg_ctl"), "-D", str(data_dir()), "-l", str(log), "-o", options, "-w", "-t", "60", *args)


def running() -> Cluster | None:
    """The running cluster's settings, or None."""
    cluster = saved()
    if cluster is None or not (data_dir() / "postmaster.pid").is_file():
        return None
    status = subprocess.run([*_as_owner(), str(bin_dir() / "pg_ctl"), "-D", str(data_dir()), "status"], capture_output=True)
    return cluster if status.returncode == 0 else None


def up(cluster: Cluster) -> Cluster:
    """Create the cluster if needed, start it, and make the ``jupyterhub`` role and
    database (password from ``password()``); a port held by another program is an error
    before anything starts."""
    current = running()
    if current is not None and current != cluster:
        raise PostgresError(f"the class's PostgreSQL already runs on port {current.port}; stop it first (`course class down`)")
    if current is None:
        if services.port_in_use("127.0.0.1", cluster.port):
            raise services.ServiceError(f"port {cluster.port} on 127.0.0.1 is already in use by another program, so the "
                                        "class's PostgreSQL cannot start there: choose another (--db-port)")  # fmt: skip
        create()
        _save(cluster)
        try:
            _pg_ctl(cluster, "start")
        except PostgresError as error:
            raise PostgresError(f"{error}\nsee {folder() / 'postgres.log'}") from None
    _ensure_role(cluster)
    return cluster


def psql(cluster: Cluster, sql: str, database: str = "postgres") -> str:
    """Run ``sql`` as the cluster's superuser over its socket; psql's unaligned output."""
    psql_bin = bin_dir() / "psql"
    return _run(str(psql_bin if psql_bin.is_file() else shutil.which("psql") or "psql"), "-h", str(folder()),
                "-p", str(cluster.port), "-d", database, "-v", "ON_ERROR_STOP=1", "-qAt", "-f", "-", stdin=sql)  # fmt: skip


def _ensure_role(cluster: Cluster) -> None:
    quoted = password().replace("'", "''")
    psql(cluster, f"""SELECT 'CREATE ROLE {ROLE} LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}')
\\gexec
ALTER ROLE {ROLE} PASSWORD '{quoted}';
SELECT 'CREATE DATABASE {DATABASE} OWNER {ROLE}' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{DATABASE}')
\\gexec
""")  # fmt: skip


def restart() -> None:
    """Restart the running cluster (fast shutdown: open connections are cut)."""
    cluster = running()
    if cluster is None:
        raise PostgresError("the class's PostgreSQL is not running")
    _pg_ctl(cluster, "restart", "-m", "fast")


def down() -> bool:
    """Stop the cluster (its data stays); True if it was running."""
    cluster = running()
    if cluster is None:
        return False
    _pg_ctl(cluster, "stop", "-m", "fast")
    return True


def sqlalchemy_url(db_url: str) -> str:
    """An instructor's ``postgresql://`` URL in the driver form the hub uses.

    >>> sqlalchemy_url("postgresql://hub:secret@db:5432/hub")
    'postgresql+psycopg2://hub:secret@db:5432/hub'
    """
    scheme, sep, rest = db_url.partition("://")
    if not sep or scheme not in ("postgresql", "postgres", "postgresql+psycopg2"):
        raise PostgresError(f"--db-url must be postgresql://USER:PASSWORD@HOST:PORT/DATABASE (got {db_url.split('@')[-1]!r})")
    return f"postgresql+psycopg2://{rest}"
