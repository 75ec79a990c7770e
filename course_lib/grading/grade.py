"""``course grade``: many submissions graded without Docker, each one fenced in.

Each submission is copied to its own temporary folder and graded by a wrapper
process (``course_lib.grading.sandbox``) with a fresh kernel. The wrapper bounds
every cell; this module adds a wall-clock timeout and a CPU-time limit for the whole
submission, and kills the wrapper's entire process tree afterwards, whatever
happened. Status per submission:

- ``ok``: graded (a cell that raised or was interrupted costs only its own points);
- ``timeout``: the submission ran past its overall time (e.g. a loop inside C that
  ignores interrupts), so otter cannot tell which question hung: all its points lost;
- ``crashed``: the kernel or wrapper died (``os._exit``, a killed kernel): no points;
- ``error``: no results could be had (e.g. the submission deleted otter's files):
  no points, reason in the CSV;
- ``memory``: the submission's processes together used more than their memory
  limit (sampled a few times a second): killed, no points.

A wrapper dies with its grader (the kernel with it): a ``course grade`` that is
killed leaves no grading process behind (``PR_SET_PDEATHSIG``). Questions that need an
engine which does not answer are *blocked* (``marks``): not scored, listed instead.

What this cannot stop without Docker or another user account (solutions/README.md
says so): code in a submission runs as the grader's user and could read or change
files that user can reach. Rewritten test files are caught (the sandbox compares
them with the zip's copies); patching otter inside the kernel is not.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tqdm import tqdm

from .. import services
from ..engines import NO_START
from .sandbox import PROGRESS


class GradingError(RuntimeError):
    """Grading could not start (e.g. --docker without a Docker daemon)."""


@dataclass
class Limits:
    """How much one submission may take."""

    cell_timeout: int = 60  # seconds per cell, then the cell is interrupted
    timeout: int = 600  # wall-clock seconds for the whole submission
    cpu_seconds: int = 900  # CPU time per process of the submission
    memory_mb: int = 4096  # resident memory of all its processes together


@dataclass
class Grade:
    """One CSV row."""

    submission: Path
    status: str
    reason: str = ""
    scores: dict[str, tuple[float, float]] = field(default_factory=dict)
    cases: dict[str, list[dict]] = field(default_factory=dict)  # per question: which tests failed
    seconds: float = 0.0
    peak_mb: float = 0.0
    blocked: dict[str, list[str]] = field(default_factory=dict)  # question: engines that did not answer

    @property
    def total(self) -> float:
        """Points earned, blocked questions left out (they are neither won nor lost)."""
        return sum(score for q, (score, _) in self.scores.items() if q not in self.blocked)

    def to_json(self) -> dict:
        return {"submission": str(self.submission), "status": self.status, "reason": self.reason,
                "scores": self.scores, "cases": self.cases, "seconds": self.seconds,
                "peak_mb": self.peak_mb}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict) -> "Grade":
        scores = {q: (s[0], s[1]) for q, s in data["scores"].items()}
        return cls(Path(data["submission"]), data["status"], data["reason"], scores, data["cases"],
                   data["seconds"], data["peak_mb"])  # fmt: skip


_LIVE: set[int] = set()  # wrappers running now, killed if grading is interrupted
_LIVE_LOCK = threading.Lock()
PR_SET_PDEATHSIG = 1


def grade_one(submission: Path, autograder_zip: Path, limits: Limits) -> Grade:
    """Grade one notebook; never raises for anything the submission does.

    A failure before the submission's first cell started is not the learner's doing,
    so that one is retried once: a kernel that never came up (one in 300 submissions
    graded two at a time timed out so, and took 4.7 s graded again), or one that died
    before it answered (a class of 14 graded two at a time once lost one so)."""
    started = time.monotonic()
    grade, cell = _attempt(submission, autograder_zip, limits)
    if grade.status != "ok" and cell is None:
        first = grade
        grade, cell = _attempt(submission, autograder_zip, limits)
        first_try = "graded twice: the first try " + (
            f"had not started it within {limits.timeout} s" if first.status == "timeout"
            else f"failed before its first cell started ({first.reason[:120]})")
        grade.reason = f"{grade.reason}; {first_try}" if grade.reason else first_try
    grade.seconds = round(time.monotonic() - started, 2)
    return grade


def _attempt(submission: Path, autograder_zip: Path, limits: Limits) -> tuple[Grade, str | None]:
    """One grading run, and the submission's cell that was running last (None if none
    had started)."""
    with tempfile.TemporaryDirectory(prefix="course-grade-") as tmp:
        work = Path(tmp)
        copy = work / submission.name
        shutil.copy(submission, copy)
        out, log = work / "result.json", work / "wrapper.log"
        command = [
            sys.executable, "-m", "course_lib.grading.sandbox",
            str(autograder_zip.resolve()), str(copy), str(out),
            "--cell-timeout", str(limits.cell_timeout),
        ]  # fmt: skip
        with log.open("wb") as stderr:  # a file, never a pipe that a flood could fill
            wrapper = subprocess.Popen(
                command, cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=stderr, start_new_session=True, env={**os.environ, NO_START: "1"},
                preexec_fn=lambda: _child_limits(limits.cpu_seconds),
            )  # fmt: skip
        with _LIVE_LOCK:
            _LIVE.add(wrapper.pid)
        try:
            verdict, peak_mb = _watch(wrapper, limits)
        finally:
            kill_tree(wrapper.pid)
            wrapper.wait()
            with _LIVE_LOCK:
                _LIVE.discard(wrapper.pid)
        progress = work / PROGRESS
        cell = progress.read_text().strip() if progress.is_file() else None
        if verdict and verdict[0] == "timeout":
            where = f"in cell {int(cell) + 1} of the notebook (counting every cell from the top)" if cell else "before its first cell started"
            verdict = ("timeout", f"{verdict[1]} {where}")
        if verdict:
            grade = Grade(submission, *verdict)
        else:
            grade = _read_result(submission, out, wrapper.returncode, log.read_bytes())
    grade.peak_mb = round(peak_mb, 1)
    return grade, cell


def _watch(wrapper: subprocess.Popen, limits: Limits) -> tuple[tuple[str, str] | None, float]:
    """Wait for the wrapper, sampling its tree's memory; (status, reason) when it had to
    be stopped, and the peak resident memory in MiB."""
    deadline = time.monotonic() + limits.timeout
    peak = 0.0
    while wrapper.poll() is None:
        if time.monotonic() > deadline:
            return ("timeout", f"ran past {limits.timeout} s"), peak
        peak = max(peak, tree_rss_mb(wrapper.pid))
        if peak > limits.memory_mb:
            return ("memory", f"used more than {limits.memory_mb} MiB"), peak
        time.sleep(0.2)
    return None, peak


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants together, in MiB."""
    total = 0
    for process in services.process_tree(pid):
        try:
            total += process.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def _read_result(submission: Path, out: Path, returncode: int, stderr: bytes) -> Grade:
    try:
        outcome = json.loads(out.read_text())
    except (FileNotFoundError, ValueError):
        last = stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        return Grade(submission, "crashed", f"grader exited {returncode}: {last[0][:150]}")
    if "error" in outcome:
        status = "crashed" if "DeadKernelError" in outcome["error"] else "error"
        return Grade(submission, status, outcome["error"])
    scores = {q: (s[0], s[1]) for q, s in outcome["scores"].items()}
    return Grade(submission, "ok", "", scores, outcome.get("cases", {}))


def _child_limits(cpu_seconds: int) -> None:
    """In the wrapper before it runs: a CPU-time limit, and death with its grader."""
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    try:
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the caller's kill is all there is
        pass


def kill_tree(pid: int) -> None:
    """Kill a process and every descendant, children first (they may be re-parented)."""
    services.kill_processes(services.process_tree(pid))


def grade_many(
    submissions: list[Path],
    autograder_zip: Path,
    limits: Limits,
    jobs: int = 1,
    on_done: Callable[[Grade], None] | None = None,
    already: int = 0,
) -> list[Grade]:
    """Grade in parallel (``jobs`` at a time, at most the cores) with a progress bar and
    an ETA, input order kept. ``on_done`` gets each grade as it finishes (in this
    thread: it may write files); ``already`` counts those done by an earlier run.
    Interrupted (Ctrl-C, SIGTERM), it kills the grading processes before it returns."""
    jobs = max(1, min(jobs, os.cpu_count() or 1))
    pool = ThreadPoolExecutor(max_workers=jobs)
    futures = [pool.submit(grade_one, s, autograder_zip, limits) for s in submissions]
    try:
        with tqdm(total=already + len(futures), initial=already, desc="grading", unit="submission",
                  file=sys.stderr, smoothing=0.1) as bar:  # fmt: skip
            for future in as_completed(futures):
                if on_done:
                    on_done(future.result())
                bar.update(1)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        with _LIVE_LOCK:
            for pid in list(_LIVE):
                kill_tree(pid)
        raise
    pool.shutdown()
    return [f.result() for f in futures]


def questions_in(autograder_zip: Path) -> list[str]:
    """The question names of an autograder, in order (``tests/q1.py`` …)."""
    import zipfile

    with zipfile.ZipFile(autograder_zip) as archive:
        names = [n[len("tests/"):-3] for n in archive.namelist() if n.startswith("tests/") and n.endswith(".py")]
    return sorted(names, key=lambda n: (len(n), n))


def default_jobs() -> int:
    """Half the cores, at least one: each grade runs a kernel of its own."""
    return max(1, (os.cpu_count() or 2) // 2)


def docker_available() -> bool:
    """True when a Docker daemon answers (``docker info``)."""
    if shutil.which("docker") is None:
        return False
    try:
        probe = subprocess.run(["docker", "info"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def grade_with_docker(submissions: list[Path], autograder_zip: Path, out: Path) -> None:
    """Hand over to ``otter grade`` (one container per submission) where Docker runs."""
    if not docker_available():
        raise GradingError(
            "Docker is not running here: grade without --docker (each submission is "
            "then fenced in by course grade itself, see solutions/README.md)."
        )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "submissions"
        folder.mkdir()
        for index, submission in enumerate(submissions):
            shutil.copy(submission, folder / f"{index:04d}_{submission.name}")
        results = Path(tmp) / "results"
        subprocess.run(
            [sys.executable, "-m", "otter", "grade", "-a", str(autograder_zip),
             "-p", str(folder), "-o", str(results)],
            check=True,
        )  # fmt: skip
        shutil.copy(results / "final_grades.csv", out)
