"""``course ollama …``: the typer commands, mirroring ``ollama``'s names and flags.

Commands only forward to ``commands`` and ``interactive``; a failure prints
Ollama's ``Error: …`` line on stderr and exits 1, never a traceback.
"""

from __future__ import annotations

import functools
import sys
from typing import Annotated, Optional

import typer

ollama_app = typer.Typer(
    help="Ollama's command line, on lab Ollama or a real one (whatever answers at OLLAMA_HOST).",
    add_completion=False,
    invoke_without_command=True,
)


def _errors(func):
    """Print ``Error: <message>`` and exit 1, as Ollama's CLI does."""

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        import ollama

        from .commands import CONNECT, CliError

        try:
            return func(*args, **kwargs)
        except CliError as exc:
            message = str(exc)
        except ollama.ResponseError as exc:
            message = exc.error
        except ConnectionError:
            message = CONNECT
        print(f"Error: {message}", file=sys.stderr)
        raise typer.Exit(1)

    return wrapped


@ollama_app.callback()
def main(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", "-v", help="Show version information.")] = False,
) -> None:
    if version:
        from .commands import version as show_version

        show_version()
        raise typer.Exit(0)
    if ctx.invoked_subcommand is None:
        print(ctx.get_help())


@ollama_app.command("serve")
def serve() -> None:
    """Start lab Ollama in the foreground at OLLAMA_HOST (like `ollama serve`)."""
    from ..lab_ollama.serve import main as serve_lab

    serve_lab()


@ollama_app.command("pull")
@_errors
def pull(model: str, insecure: Annotated[bool, typer.Option("--insecure")] = False) -> None:
    """Pull a model from a registry."""
    from . import commands

    commands.pull(model, insecure)


@ollama_app.command("list")
@_errors
def list_(prefix: Annotated[str, typer.Argument()] = "") -> None:
    """List models."""
    from . import commands

    commands.list_models(prefix)


@ollama_app.command("ls", hidden=True)
@_errors
def ls(prefix: Annotated[str, typer.Argument()] = "") -> None:
    from . import commands

    commands.list_models(prefix)


@ollama_app.command("ps")
@_errors
def ps(prefix: Annotated[str, typer.Argument()] = "") -> None:
    """List running models."""
    from . import commands

    commands.ps(prefix)


@ollama_app.command("show")
@_errors
def show(
    model: str,
    license_: Annotated[bool, typer.Option("--license", help="Show license of a model")] = False,
    modelfile: Annotated[bool, typer.Option("--modelfile", help="Show Modelfile of a model")] = False,
    parameters: Annotated[bool, typer.Option("--parameters", help="Show parameters of a model")] = False,
    system: Annotated[bool, typer.Option("--system", help="Show system message of a model")] = False,
    template: Annotated[bool, typer.Option("--template", help="Show template of a model")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show detailed model information")] = False,
) -> None:
    """Show information for a model."""
    from . import commands

    chosen = [name for name, on in (("license", license_), ("modelfile", modelfile), ("parameters", parameters),
                                    ("system", system), ("template", template)) if on]  # fmt: skip
    if len(chosen) > 1:
        raise commands.CliError("only one of '--license', '--modelfile', '--parameters', '--system', or '--template' can be specified")
    commands.show(model, chosen[0] if chosen else None, verbose)


@ollama_app.command("cp")
@_errors
def cp(source: str, destination: str) -> None:
    """Copy a model."""
    from . import commands

    commands.copy(source, destination)


@ollama_app.command("rm")
@_errors
def rm(models: list[str]) -> None:
    """Remove a model."""
    from . import commands

    commands.remove(models)


@ollama_app.command("stop")
@_errors
def stop(model: str) -> None:
    """Stop a running model."""
    from . import commands

    commands.stop(model)


@ollama_app.command("create")
@_errors
def create(
    model: str,
    file: Annotated[str, typer.Option("--file", "-f", help="Name of the Modelfile")] = "Modelfile",
    quantize: Annotated[Optional[str], typer.Option("--quantize", "-q", help="Quantize model to this level")] = None,
) -> None:
    """Create a model from a Modelfile."""
    from . import commands

    commands.create(model, file, quantize)


@ollama_app.command("run")
@_errors
def run(
    model: str,
    prompt: Annotated[Optional[list[str]], typer.Argument()] = None,
    format_: Annotated[Optional[str], typer.Option("--format", help='Response format (e.g. json)')] = None,
    keepalive: Annotated[Optional[str], typer.Option("--keepalive", help="Duration to keep a model loaded (e.g. 5m)")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", help="Show timings for response")] = False,
    nowordwrap: Annotated[bool, typer.Option("--nowordwrap", help="Don't wrap words to the next line automatically")] = False,
    insecure: Annotated[bool, typer.Option("--insecure")] = False,
) -> None:
    """Run a model: one prompt (an argument or piped), or a chat at the >>> prompt."""
    from . import commands, interactive

    text = " ".join(prompt or [])
    if not sys.stdin.isatty():
        piped = sys.stdin.read()
        text = f"{piped}\n{text}".strip() if text else piped
    if text:
        commands.run_once(model, text, format_, keepalive, verbose)
    else:
        interactive.run(interactive.Session(model=model, verbose=verbose, format=format_, keepalive=keepalive))
