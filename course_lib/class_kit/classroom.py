"""The whole class at once: engines, keys, gateway, PostgreSQL and JupyterHub.

``course class up`` starts them in that order, each only if it is not running yet,
and all or nothing: every port and program is checked before the first start, and a
failure (or Ctrl-C) stops whatever this invocation had started. ``down`` stops them
in the reverse order; the learners' homes, keys and the database's data stay. Engines
that were running before ``up`` (``course up``, a real Ollama) are left running.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import requests

from .. import engines, services
from . import class_home, gateway, hub, keys, postgres, proxy, roster


@dataclass(frozen=True)
class Plan:
    """What ``up`` starts: the hub's settings (``db_url`` empty: the class's own
    PostgreSQL on ``db_port``) and the gateway's."""

    hub: hub.Settings
    gateway: gateway.Settings
    db_port: int = postgres.Cluster.port


def _check(plan: Plan) -> None:
    """Every program found and every port free (or already ours) before anything starts."""
    proxy.install()
    if not plan.hub.db_url:
        postgres.bin_dir()
    if gateway.running() is None:
        gateway.find_nginx()
    wanted = [(plan.hub.host, plan.hub.port, "the hub", hub.running() is not None)]
    wanted.append((plan.gateway.host, plan.gateway.port, "the gateway", gateway.running() is not None))
    if not plan.hub.db_url:
        wanted.append(("127.0.0.1", plan.db_port, "PostgreSQL (--db-port)", postgres.running() is not None))
    for host, port, what, ours in wanted:
        if not ours and services.port_in_use(host, port):
            raise services.ServiceError(f"port {port} on {host} is already in use by another program, so {what} cannot "
                                        f"start there. Stop that program (`lsof -i :{port}`) or choose another port.")  # fmt: skip


def up(roster_file: Path, plan: Plan) -> hub.Settings:
    """Start the class from its roster; return the hub's settings."""
    learners = roster.read(roster_file)
    _check(plan)
    stops = []
    try:
        started = engines.up(keep=True, require_vllm=False, progress=True)
        stops += [lambda name=name: engines.down((name,)) for name in started]
        keys.issue(learners)
        if gateway.running() is None:
            gate = gateway.up(plan.gateway)
            stops.append(gateway.down)
        else:
            gate = gateway.running()
            gateway.reload()  # the roster's new learners are admitted at once
        db_url = plan.hub.db_url
        if not db_url:
            if postgres.running() is None:
                stops.append(postgres.down)
            db_url = postgres.up(postgres.Cluster(plan.db_port)).url
        settings = replace(plan.hub, db_url=postgres.sqlalchemy_url(db_url) if plan.hub.db_url else db_url,
                           gateway_url=gate.url, learners=tuple(learner.name for learner in learners))  # fmt: skip
        running = hub.up(settings)
        _remember_engines(started)  # only once all is up: a failed `up` has stopped them already
        return running
    except BaseException:
        for stop in reversed(stops):
            stop()
        raise


def _engines_file() -> Path:
    return class_home() / "engines.json"


def _remember_engines(started: list[str]) -> None:
    """Add the engines this ``up`` started to those ``down`` will stop."""
    path = _engines_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(sorted(set(started) | set(engines_started_by_class()))) + "\n")


def engines_started_by_class() -> list[str]:
    """The engines ``course class up`` started (not those it found running)."""
    path = _engines_file()
    return json.loads(path.read_text()) if path.is_file() else []


def down() -> list[str]:
    """Stop the hub, PostgreSQL, the gateway, and the engines the class started; the
    names of those stopped."""
    stopped = [name for name, stop in (("hub", hub.down), ("postgres", postgres.down), ("gateway", gateway.down)) if stop()]
    ours = tuple(engines_started_by_class())
    stopped += engines.down(ours) if ours else []
    _engines_file().unlink(missing_ok=True)
    return stopped


def status() -> list[str]:
    """One line per part of the class: whether it runs, and where."""
    lines = [f"{state.engine:<9} {state.url:<28} {state.label or 'not answering'}" for state in engines.status()]
    gate = gateway.running()
    lines.append(f"gateway   {gate.url:<28} nginx" if gate else "gateway   not running")
    cluster = postgres.running()
    lines.append(f"postgres  127.0.0.1:{cluster.port:<18} {postgres.data_dir()}" if cluster else "postgres  not running (or the hub uses --db-url)")
    settings = hub.running()
    if settings is None:
        lines.append("hub       not running")
        return lines
    lines.append(f"hub       {settings.url:<28} {len(settings.learners)} learners on the roster")
    try:
        found = hub.servers(settings)
    except requests.RequestException as error:  # health answers but not the API: say so, keep the rest
        lines.append(f"          learners' servers unknown: {error}")
        return lines
    lines += [f"          {name}: {state}" for name, state in sorted(found.items())] or ["          no learner has a server"]
    return lines
