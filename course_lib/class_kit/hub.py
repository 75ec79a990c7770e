"""The class's JupyterHub: one login page, a notebook server per learner, on PostgreSQL.

The hub runs under ``COURSE_HOME/class/hub`` from a generated ``jupyterhub_config.py``
(its cookie secret, pid files and the instructor's API token there too), started and
stopped like the engines (``services``). Its database is PostgreSQL (``postgres``).
A PostgreSQL restart under a running hub costs one failed request: the hub's session
holds a connection between requests, so the first request after the restart finds it
dead (403 for an API token, whose lookup failed), JupyterHub rolls the session back,
and its own ping on connect makes the next connection fresh (``pool_pre_ping``
changes nothing: the connection the session holds is never checked out again). Its proxy is configurable-http-proxy from npm (``proxy``).

Learners are the roster's names (``allowed_users``), the instructor an admin. The
default authenticator is NativeAuthenticator: it needs no internet and no system
account per learner (PAM would need both an account per learner and a hub running as
root); each learner chooses a password at ``/hub/signup`` on first visit. Anyone who
reaches the hub may sign up, but only the roster's names may log in (``allowed_users``).
Each server is a ``SimpleLocalProcessSpawner`` process with a home of its own
(``learner``): every server runs as the instructor's system user, so this suits
learners one trusts; for others, system users with ``LocalProcessSpawner`` or
``SystemdSpawner``, or Zero to JupyterHub on Kubernetes.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import requests

from .. import services
from ..private_file import write_private
from . import class_home, learner, proxy, secret

SHORT_NAMES = {"native": "nativeauthenticator.NativeAuthenticator", "pam": "jupyterhub.auth.PAMAuthenticator",
               "dummy": "jupyterhub.auth.DummyAuthenticator",
               "shared-password": "jupyterhub.authenticators.shared.SharedPasswordAuthenticator"}  # fmt: skip
SERVICE_NAME = "course-instructor"  # the API token's owner: `course class status`, the tests
HEALTH = "/hub/health"


class HubError(RuntimeError):
    """The hub cannot be configured or reached; the message says why."""


@dataclass(frozen=True)
class Settings:
    """Where the hub listens, its database, who may log in, and where learners' requests go."""

    port: int = 8100
    host: str = "127.0.0.1"
    db_url: str = ""  # SQLAlchemy URL (postgresql+psycopg2://…)
    gateway_url: str = ""  # COURSE_SERVER in every learner's server
    learners: tuple[str, ...] = ()
    admin: str = field(default_factory=getpass.getuser)
    authenticator: str = "native"  # a short name (SHORT_NAMES) or a class path
    authenticator_config: dict = field(default_factory=dict)  # {"DummyAuthenticator.password": "…"}
    hub_api_port: int = 0  # the hub's own API, behind the proxy (0: a free one at configure)
    proxy_api_port: int = 0

    @property
    def url(self) -> str:
        return service(self).url


def folder() -> Path:
    return class_home() / "hub"


def config_file() -> Path:
    return folder() / "jupyterhub_config.py"


def api_token() -> str:
    """The instructor's admin API token (made once, owner-only file)."""
    return secret(folder() / "api_token")


def authenticator_class(name: str) -> str:
    """A short name's class path; a dotted class path as it is.

    >>> authenticator_class("native")
    'nativeauthenticator.NativeAuthenticator'
    >>> authenticator_class("myauth.Mine")
    'myauth.Mine'
    """
    if name in SHORT_NAMES:
        return SHORT_NAMES[name]
    if "." not in name:
        raise HubError(f"--authenticator {name!r}: use one of {', '.join(SHORT_NAMES)} or a class path (module.Class)")
    return name


def service(settings: Settings) -> services.Service:
    """How ``services`` runs the hub: ``python -m jupyterhub`` with the generated config,
    the course importable from this checkout, COURSE_HOME the instructor's."""
    argv = [sys.executable, "-m", "jupyterhub", "-f", str(config_file())]
    env = {"PYTHONPATH": str(learner.ROOT), "COURSE_HOME": str(class_home().parent)}
    return services.Service("class-hub", argv, settings.host, settings.port, HEALTH, env)


def render(settings: Settings, proxy_command: str) -> str:
    """jupyterhub_config.py for ``settings`` (ports resolved)."""
    root = folder()
    singleuser = Path(sys.executable).with_name("jupyterhub-singleuser")
    args = ["--allow-root"] if os.geteuid() == 0 else []  # Jupyter Server refuses root without it
    options = dict(settings.authenticator_config)
    if settings.authenticator == "native":
        options.setdefault("NativeAuthenticator.open_signup", True)  # only the roster's names may log in anyway
    extra = "\n".join(f"c.{key} = {value!r}" for key, value in sorted(options.items()))
    return f"""# Generated by course_lib.class_kit.hub; edits are overwritten by `course class up`.
from course_lib.class_kit import learner

c = get_config()  # noqa: F821
c.JupyterHub.bind_url = {service(settings).url + "/"!r}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {settings.hub_api_port}
c.JupyterHub.db_url = {settings.db_url!r}
# No db_kwargs needed: after a PostgreSQL restart, JupyterHub's own ping on connect and
# its rollback after a database error reconnect it; only the first request fails.
c.JupyterHub.upgrade_db = True  # a newer JupyterHub (within the `class` extra's range) migrates the schema
c.JupyterHub.cookie_secret_file = {str(root / "jupyterhub_cookie_secret")!r}
c.JupyterHub.pid_file = {str(root / "jupyterhub.pid")!r}
c.ConfigurableHTTPProxy.command = [{proxy_command!r}]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{settings.proxy_api_port}"
c.ConfigurableHTTPProxy.pid_file = {str(root / "proxy.pid")!r}

c.JupyterHub.authenticator_class = {authenticator_class(settings.authenticator)!r}
c.Authenticator.allowed_users = {set(settings.learners) or set()!r}
c.Authenticator.admin_users = {{{settings.admin!r}}}
{extra}

c.JupyterHub.services = [{{"name": {SERVICE_NAME!r}, "api_token": {api_token()!r}}}]
c.JupyterHub.load_roles = [{{"name": {SERVICE_NAME!r}, "services": [{SERVICE_NAME!r}],
    "scopes": ["admin:users", "admin:servers", "list:users", "read:users", "access:servers"]}}]

c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {str(learner.homes() / "{username}")!r}
c.Spawner.cmd = [{str(singleuser)!r}]
c.Spawner.args = {args!r}
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.environment = learner.environment({settings.gateway_url!r})
c.Spawner.pre_spawn_hook = learner.copy_course
"""


def configure(settings: Settings) -> Settings:
    """Write the hub's configuration and settings; return them with free ports filled in."""
    if not settings.db_url:
        raise HubError("the hub needs a database URL (the class's PostgreSQL, or --db-url)")
    authenticator_class(settings.authenticator)
    settings = replace(settings, hub_api_port=settings.hub_api_port or services.free_port(),
                       proxy_api_port=settings.proxy_api_port or services.free_port())  # fmt: skip
    folder().mkdir(parents=True, exist_ok=True)
    learner.homes().mkdir(parents=True, exist_ok=True)
    write_private(config_file(), render(settings, proxy.install()))
    write_private(folder() / "settings.json", json.dumps(asdict(settings), indent=1) + "\n")
    return settings


def saved() -> Settings | None:
    try:
        found = json.loads((folder() / "settings.json").read_text())
    except FileNotFoundError:
        return None
    return Settings(**{**found, "learners": tuple(found["learners"])})


def up(settings: Settings, timeout: float = 120.0) -> Settings:
    """Configure and start the hub (kept until ``down``); a port held by another
    program is a ServiceError before anything starts."""
    current = running()
    if current is not None:
        raise HubError(f"a class hub already runs at {current.url} from {folder()}; stop it first (`course class down`)")
    settings = configure(settings)  # files only: a port in use is said before any process starts
    services.start(service(settings), timeout=timeout, keep=True)
    return settings


def down() -> bool:
    """Stop the hub, its proxy and the learners' servers; True if it was running."""
    settings = saved()
    return settings is not None and services.stop(service(settings))


def running() -> Settings | None:
    settings = saved()
    return settings if settings is not None and services.running_pid(service(settings)) else None


def api(settings: Settings, path: str, method: str = "GET", timeout: float = 10.0, **kwargs) -> requests.Response:
    """A request to the hub's REST API (``/hub/api`` + ``path``) with the instructor's token."""
    return requests.request(method, f"{settings.url}/hub/api{path}", timeout=timeout,
                            headers={"Authorization": f"token {api_token()}"}, **kwargs)  # fmt: skip


def servers(settings: Settings) -> dict[str, str]:
    """Learner → their server's state ("ready" or "pending: …"), for those who have one."""
    answer = api(settings, "/users")
    answer.raise_for_status()
    found = {}
    for user in answer.json():
        server = (user.get("servers") or {}).get("")
        if server:
            found[user["name"]] = "ready" if server.get("ready") else f"pending: {server.get('pending')}"
    return found
