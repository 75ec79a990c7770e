"""The ``course`` command. Commands only forward to the library; logic lives there."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from tqdm import tqdm

from . import __version__, config, doctor, engines, jupyter_lab, model, services
from .bench.cli import bench_app
from .class_kit.cli import class_app
from .ollama_cli.app import ollama_app
from .vllm_tools import server as vllm_server

app = typer.Typer(no_args_is_help=True, add_completion=False)
model_app = typer.Typer(no_args_is_help=True, help="The bundled SmolLM2-135M model.")
serve_app = typer.Typer(no_args_is_help=True, help="Run an engine in the foreground.")
app.add_typer(model_app, name="model")
app.add_typer(serve_app, name="serve")
app.add_typer(ollama_app, name="ollama")
app.add_typer(bench_app, name="bench")
app.add_typer(class_app, name="class")

PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}


def _fail(error: Exception) -> None:
    typer.secho(f"Error: {error}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


def _version(show: bool) -> None:
    if show:
        typer.echo(f"course_lib {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
) -> None:
    """Set up, run and check the engines of the LLM inference engines course."""


@model_app.command("prepare")
def model_prepare(
    force: Annotated[bool, typer.Option(help="Convert again even if done.")] = False,
) -> None:
    """Convert the bundled GGUF into a Hugging Face folder for vLLM (once)."""
    steps: list[tqdm] = []  # a bar only when there is work: a second `make` prints one line

    def report(step: str) -> None:
        if step == "already prepared":
            return
        if not steps:
            steps.append(tqdm(total=5, desc="prepare model", unit="step", file=sys.stderr, delay=1))
        steps[0].set_postfix_str(step)
        steps[0].update(1)

    try:
        prepared = model.prepare(force=force, progress=report)
    except model.ModelError as error:
        _fail(error)
    if not steps:
        typer.echo(f"Model for vLLM already prepared: nothing to convert ({prepared.path})", err=True)
        return
    steps[0].n = steps[0].total
    steps[0].close()
    typer.echo(f"{prepared.path}\n{prepared.summary}")


@model_app.command("info")
def model_info() -> None:
    """Where the model files are, and what vLLM will load."""
    try:
        typer.echo(f"GGUF (llama.cpp, lab Ollama): {model.bundled_gguf()}")
    except model.ModelError as error:
        _fail(error)
    prepared = model.prepared_model()
    typer.echo(f"vLLM folder: {prepared.path if prepared else 'not prepared'}")
    if prepared:
        typer.echo(f"  {prepared.summary}")
    typer.echo(f"MODEL (what vllm.LLM loads): {config.vllm_model()}")


@serve_app.command("vllm", context_settings=PASS_THROUGH)
def serve_vllm(
    ctx: typer.Context,
    port: Annotated[Optional[int], typer.Option(help="Default: VLLM_BASE_URL's.")] = None,
    host: Annotated[Optional[str], typer.Option(help="Default: loopback.")] = None,
) -> None:
    """Run the vLLM server in the foreground; extra arguments go to vLLM."""
    if vllm_server.installed_engine() is None:
        _fail(RuntimeError("vLLM is not installed here: run `make`."))
    argv = vllm_server.server_argv(port=port, host=host, extra_args=tuple(ctx.args))
    typer.echo("+ " + " ".join(argv), err=True)
    os.execvpe(argv[0], argv, {**os.environ, **vllm_server.engine_env()})


@app.command("assign")
def assign_cmd(
    check: Annotated[bool, typer.Option("--check", help="Only check that exercises/ is up to date.")] = False,
    solutions: Annotated[Path, typer.Option(help="Master notebooks.")] = Path("solutions"),
    exercises: Annotated[Path, typer.Option(help="Student notebooks.")] = Path("exercises"),
    build: Annotated[Path, typer.Option(help="Autograders go to BUILD/autograder.")] = Path("build"),
    only: Annotated[
        str | None, typer.Option(help="Only the masters whose name starts with this, e.g. 09.")
    ] = None,
    run_tests: Annotated[
        bool, typer.Option(help="Run each master's tests against its solutions (needs the engines).")
    ] = True,
) -> None:
    """Generate exercises/ and the autograders from solutions/ with otter-assign."""
    from .grading import assign as grading_assign

    try:
        if check or not run_tests:  # no master runs, so no engine is needed
            _assign(check, solutions, exercises, build, only, run_tests)
            return
        # otter-assign runs each master's tests, and the exercises call the engines
        with engines.running(extra_vllm_args=("--enforce-eager",)):
            _assign(check, solutions, exercises, build, only, run_tests)
    except (grading_assign.AssignError, services.ServiceError, model.ModelError) as error:
        _fail(error)


def _assign(
    check: bool, solutions: Path, exercises: Path, build: Path, only: str | None, run_tests: bool
) -> None:
    from .grading import assign as grading_assign  # imported on use: otter is slow to import

    if check:
        problems = grading_assign.check(solutions, exercises, cache=grading_assign.cache_dir(build))
        for line in problems:
            typer.echo(f"stale: {line}", err=True)
        if problems:
            _fail(RuntimeError("exercises/ is out of date: run `course assign`"))
        typer.echo(f"exercises/ is up to date ({len(grading_assign.masters(solutions))} notebooks)")
        return
    for path in grading_assign.assign(solutions, exercises, build, only, run_tests):
        typer.echo(f"wrote {path}")
        typer.echo(f"  {_engine_questions(grading_assign.autograder_path(build, Path(path)))}")


def _engine_questions(autograder_zip: Path) -> str:
    """Which questions need a live engine (blocked on Gradescope) and how many grade anywhere."""
    from .grading import marks

    needs = marks.question_needs(autograder_zip)
    engine = [f"{q} ({marks.describe(sorted(e))})" for q, e in sorted(needs.items()) if e]
    anywhere = f"{len(needs) - len(engine)} of {len(needs)} questions grade anywhere"
    return f"{anywhere}; needs an engine: {', '.join(engine)}" if engine else anywhere


@app.command("grade")
def grade_cmd(
    submissions: Annotated[list[Path], typer.Argument(help="Submitted notebooks (NN_name.ipynb), or folders of them (one sub-folder per learner).")],
    out: Annotated[Path, typer.Option(help="CSV to write; its progress is kept next to it, so a rerun resumes.")] = Path("grades.csv"),
    autograder: Annotated[Optional[Path], typer.Option(help="Default: build/autograder/NN_name.zip.")] = None,
    jobs: Annotated[int, typer.Option(help="Submissions graded at once (default: half the cores; at most: the cores).")] = 0,
    cell_timeout: Annotated[int, typer.Option(help="Seconds per cell.")] = 60,
    timeout: Annotated[int, typer.Option(help="Seconds per submission.")] = 600,
    memory_mb: Annotated[int, typer.Option(help="MiB per submission (all its processes).")] = 4096,
    engines_up: Annotated[bool, typer.Option("--engines/--no-engines", help="Start the engines first.")] = True,
    docker: Annotated[bool, typer.Option(help="Hand over to `otter grade` (needs a Docker daemon).")] = False,
    fresh: Annotated[bool, typer.Option(help="Forget the progress of an earlier run and grade everything.")] = False,
    feedback: Annotated[Optional[Path], typer.Option(help="Per-learner feedback folder. Default: OUT's name + -feedback.")] = None,
    report: Annotated[Optional[Path], typer.Option(help="Class report (HTML). Default: OUT with .html.")] = None,
    exercises: Annotated[Path, typer.Option(help="Student notebooks (for the feedback's hints).")] = Path("exercises"),
    lessons: Annotated[Path, typer.Option(help="Lessons the hints point at.")] = Path("notebooks"),
) -> None:
    """Grade submissions without Docker into a CSV (points per question, status), a
    class report and per-learner feedback; resumes where a killed run stopped."""
    from .grading import batch, grade as grading

    found = batch.collect(submissions)
    if not found:
        _fail(RuntimeError(f"no notebooks in {', '.join(map(str, submissions))}"))
    zip_path = autograder or Path("build/autograder") / f"{found[0].path.stem}.zip"
    if not zip_path.is_file():
        _fail(RuntimeError(f"{zip_path} not found: run `course assign` first"))
    if docker:
        try:
            grading.grade_with_docker([s.path for s in found], zip_path, out)
        except grading.GradingError as error:
            _fail(error)
        typer.echo(f"wrote {out} (otter grade, Docker)")
        return
    started: list[str] = []
    if engines_up:
        try:
            started = engines.up()  # grading stops only what it started itself
        except (services.ServiceError, model.ModelError) as error:
            _fail(error)
        typer.echo(f"engines started for grading: {', '.join(started) or 'none (already up)'}")
    limits = grading.Limits(cell_timeout=cell_timeout, timeout=timeout, memory_mb=memory_mb)
    try:
        rows = batch.grade_class(submissions, zip_path, out, limits, jobs or grading.default_jobs(), fresh)
    finally:
        engines.release(tuple(started))
    from .grading import outputs

    written = outputs.write_all(rows, zip_path, out, feedback, report, exercises, lessons)
    for row in rows[:20]:
        g = row.grade
        typer.echo(f"{row.submission.learner}: {g.total:g} points, {g.status}{' (' + g.reason + ')' if g.reason else ''}")
    typer.echo(f"wrote {out}, " + ", ".join(map(str, written)))


@app.command("release")
def release_cmd(
    target: Annotated[Path, typer.Argument(help="New folder for the learners' copy.")],
    root: Annotated[Path, typer.Option(help="The course's own tree.")] = Path("."),
) -> None:
    """Write the course for learners: lessons, exercises, course_lib; no solutions/ or hidden tests."""
    from .grading import release

    zips = sorted((root / "build").glob("autograder/*.zip")) + sorted((root / "build").glob("assign-cache/*/autograder.zip"))
    try:
        files = release.release(root, target, zips)
    except release.ReleaseError as error:
        _fail(error)
    checked = f"no hidden test of {len(zips)} autograders in it" if zips else "hidden tests NOT checked (run `course assign` first)"
    typer.echo(f"wrote {len(files)} files to {target}: {checked}")


@app.command(context_settings=PASS_THROUGH)
def up(ctx: typer.Context) -> None:
    """Start the engines in the background (those not already answering)."""
    try:
        started = engines.up(tuple(ctx.args), keep=True)  # they run until `course down`
    except (services.ServiceError, model.ModelError) as error:
        _fail(error)
    typer.echo(f"started: {', '.join(started)}" if started else "nothing to start")
    status()


@app.command()
def down() -> None:
    """Stop the engines that `course up` started."""
    stopped = engines.down()
    typer.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing to stop")
    for name, owner in engines.held_elsewhere().items():
        typer.echo(f"left running: {name}, started by another course command (pid {owner.pid}), which stops it when done")


@app.command()
def status() -> None:
    """Which engines answer, where, and who started them."""
    for state in engines.status():
        typer.echo(f"{state.engine:<7} {state.url:<28} {state.label}")


@app.command("doctor")
def doctor_cmd() -> None:
    """Check this machine for the course; say what to do for anything missing."""
    typer.echo(doctor.render(doctor.checks()))


@app.command(context_settings=PASS_THROUGH)
def lab(
    ctx: typer.Context,
    notebooks: Annotated[Path, typer.Option(help="Folder JupyterLab opens.")] = Path(
        "notebooks"
    ),
    browser: Annotated[bool, typer.Option(help="Open a web browser.")] = True,
) -> None:
    """Start the engines, then JupyterLab; Ctrl-C stops both.

    Extra arguments go to the vLLM server, as with `course up`. Where no vLLM is
    installed, lab Ollama starts alone (the Ollama lessons run; 04-10 say why not).
    """
    try:
        started = engines.up(tuple(ctx.args), require_vllm=False, progress=True)
    except (services.ServiceError, model.ModelError) as error:
        _fail(error)
    except KeyboardInterrupt:
        typer.echo("\nInterrupted: the engines started so far are stopped again.", err=True)
        raise typer.Exit(130)
    status()
    if vllm_server.installed_engine() is None and not engines.probe_vllm().answering:
        typer.echo("vLLM is not installed on this machine: lessons 04-10 need one "
                   "(set VLLM_BASE_URL to a vLLM server elsewhere).")
    typer.echo("Starting JupyterLab…")
    # Jupyter must see Ctrl-C even where we were started with SIGINT ignored (a
    # background job of a shell without job control passes that on to its children)
    process = subprocess.Popen(jupyter_lab.command(notebooks, browser),
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    kernels: list = []  # JupyterLab and its kernels when Ctrl-C comes: it exits before they do

    def on_ctrl_c(signum: int, frame: object) -> None:  # Jupyter itself handles Ctrl-C
        kernels.extend(services.process_tree(process.pid))

    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        url = jupyter_lab.wait_for_url(process, jupyter_lab.served(notebooks)[1])
        if url:
            typer.echo(jupyter_lab.banner(url, notebooks, started))
        process.wait()
    finally:
        if process.poll() is None:
            kernels.extend(services.process_tree(process.pid))
            process.terminate()
            process.wait()
        jupyter_lab.stop_leftovers(kernels)
        signal.signal(signal.SIGINT, previous)
        stopped = engines.release(tuple(started))
        typer.echo(f"stopped: {', '.join(['jupyterlab', *stopped])}")
    if process.returncode not in (0, -signal.SIGINT):
        _fail(RuntimeError(f"JupyterLab exited with status {process.returncode}"))


if __name__ == "__main__":
    app()
