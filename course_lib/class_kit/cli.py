"""``course class …``: the instructor's commands for one class on one machine."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import services
from . import classroom, gateway, hub, keys, postgres, proxy, roster, usage

class_app = typer.Typer(no_args_is_help=True, help="Teach a class: learners' keys and the gateway in front of the engines.")
gateway_app = typer.Typer(no_args_is_help=True, help="The gateway (nginx) that admits learners by key.")
class_app.add_typer(gateway_app, name="gateway")

ERRORS = (roster.RosterError, gateway.GatewayError, services.ServiceError, hub.HubError, postgres.PostgresError,
          proxy.ProxyError)


def _fail(error: Exception) -> None:
    typer.secho(f"Error: {error}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


@gateway_app.command("up")
def gateway_up(
    port: Annotated[int, typer.Option(help="The port learners connect to.")] = gateway.Settings.port,
    host: Annotated[str, typer.Option(help="Listen address: loopback unless learners reach it from elsewhere.")] = gateway.Settings.host,
    rate: Annotated[str, typer.Option(help="Each learner's rate, nginx's form: 2r/s or 30r/m.")] = gateway.Settings.rate,
    burst: Annotated[int, typer.Option(help="Requests above the rate admitted at once.")] = gateway.Settings.burst,
    ollama_url: Annotated[Optional[str], typer.Option(help="Default: OLLAMA_HOST.")] = None,
    vllm_url: Annotated[Optional[str], typer.Option(help="vLLM's root, without /v1. Default: VLLM_BASE_URL's.")] = None,
) -> None:
    """Start the gateway in the background (until `course class gateway down`)."""
    try:
        settings = gateway.up(gateway.Settings(port, host, ollama_url or "", vllm_url or "", rate, burst))
    except ERRORS as error:
        _fail(error)
    typer.echo(f"gateway at {settings.url}: /api/ and /ollama/ → {settings.ollama_url}, /v1/ → {settings.vllm_url}")
    typer.echo(f"usage log: {gateway.access_log()}")


@gateway_app.command("down")
def gateway_down() -> None:
    """Stop the gateway."""
    try:
        stopped = gateway.down()
    except ERRORS as error:
        _fail(error)
    typer.echo("gateway stopped" if stopped else "no gateway was running")


@gateway_app.command("status")
def gateway_status() -> None:
    """Whether the gateway runs, where, and in front of what."""
    try:
        settings = gateway.running()
    except ERRORS as error:
        _fail(error)
    if settings is None:
        typer.echo("gateway: not running")
        raise typer.Exit(1)
    typer.echo(f"gateway: running at {settings.url} ({settings.rate}, burst {settings.burst}); "
               f"/api/ and /ollama/ → {settings.ollama_url}, /v1/ → {settings.vllm_url}")  # fmt: skip


@class_app.command("keys")
def keys_cmd(
    roster_file: Annotated[Path, typer.Option("--roster", help="CSV with a 'learner' column (and 'email').")],
    out: Annotated[Path, typer.Option(help="CSV of learner, email, key to hand out (owner-only).")],
) -> None:
    """Give each learner of the roster a key (kept across runs) and write them out."""
    try:
        keys.issue(roster.read(roster_file))
        instructor = keys.issue_instructor()
        gateway.reload()  # a running gateway admits the new learners at once
    except ERRORS as error:
        _fail(error)
    learners = {name: record for name, record in keys.load().items() if name != keys.INSTRUCTOR}
    keys.write_handout(out, learners)
    typer.echo(f"{sum(not r['revoked'] for r in learners.values())} learners' keys written to {out}")
    typer.echo(f"your own key (never rate-limited, for `course bench gateway`): {instructor}")


@class_app.command("revoke")
def revoke_cmd(learner: Annotated[str, typer.Argument(help="The learner whose key stops working.")]) -> None:
    """Revoke a learner's key; the gateway refuses it once this returns."""
    try:
        gateway.revoke(learner)
    except ERRORS as error:
        _fail(error)
    typer.echo(f"{learner}'s key is revoked")


@class_app.command("usage")
def usage_cmd(log: Annotated[Optional[Path], typer.Option(help="Default: the gateway's access log.")] = None) -> None:
    """Requests and tokens per learner, from the gateway's log."""
    table = usage.per_learner(log)
    if not table:
        typer.echo(f"no requests logged in {log or gateway.access_log()}")
        return
    typer.echo(f"{'learner':<20} {'requests':>8} {'401':>5} {'429':>5} {'prompt':>8} {'completion':>10} {'unknown':>7}")
    for name, found in sorted(table.items()):
        typer.echo(f"{name:<20} {found.requests:>8} {found.unauthorized:>5} {found.rate_limited:>5} "
                   f"{found.prompt_tokens:>8} {found.completion_tokens:>10} {found.unknown_tokens:>7}")  # fmt: skip


@class_app.command("up")
def class_up(
    roster_file: Annotated[Path, typer.Option("--roster", help="CSV with a 'learner' column: who may log in.")],
    host: Annotated[str, typer.Option(help="The hub's listen address: loopback unless learners come from elsewhere.")] = hub.Settings.host,
    port: Annotated[int, typer.Option(help="The hub's port (its login page).")] = hub.Settings.port,
    db_url: Annotated[Optional[str], typer.Option(help="postgresql://USER:PASSWORD@HOST:PORT/DB; default: a PostgreSQL of the class's own.")] = None,
    db_port: Annotated[int, typer.Option(help="The class's own PostgreSQL's loopback port.")] = classroom.Plan.db_port,
    authenticator: Annotated[str, typer.Option(help=f"{', '.join(hub.SHORT_NAMES)} or a class path.")] = hub.Settings.authenticator,
    admin: Annotated[Optional[str], typer.Option(help="The instructor's hub username (an admin). Default: yours.")] = None,
    gateway_port: Annotated[int, typer.Option(help="The gateway's port.")] = gateway.Settings.port,
) -> None:
    """Start the class: the engines, the keys, the gateway, PostgreSQL and JupyterHub."""
    hub_settings = hub.Settings(port=port, host=host, db_url=db_url or "", authenticator=authenticator)
    hub_settings = replace(hub_settings, admin=admin) if admin else hub_settings
    plan = classroom.Plan(hub_settings, gateway.Settings(port=gateway_port, host=host), db_port)
    try:
        settings = classroom.up(roster_file, plan)
    except ERRORS as error:
        _fail(error)
    typer.echo(f"JupyterHub for {len(settings.learners)} learners at {settings.url} (admin: {settings.admin})")
    if settings.authenticator == "native":
        typer.echo(f"learners sign up once at {settings.url}/hub/signup with their roster name and a password of their own")
    for line in classroom.status():
        typer.echo(line)


@class_app.command("down")
def class_down() -> None:
    """Stop the hub (and the learners' servers), PostgreSQL, the gateway and the engines
    `class up` started (engines already running before it, e.g. by `course up`, stay)."""
    try:
        stopped = classroom.down()
    except ERRORS as error:
        _fail(error)
    typer.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@class_app.command("status")
def class_status() -> None:
    """What of the class runs, where, and which learners have a server."""
    try:
        lines = classroom.status()
    except ERRORS as error:
        _fail(error)
    for line in lines:
        typer.echo(line)
