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
  no points, reason in the CSV.

What this cannot stop without Docker or another user account (solutions/README.md
says so): code in a submission runs as the grader's user and could read or change
files that user can reach. Rewritten test files are caught (the sandbox compares
them with the zip's copies); patching otter inside the kernel is not.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from .. import services


class GradingError(RuntimeError):
    """Grading could not start (e.g. --docker without a Docker daemon)."""


@dataclass
class Limits:
    """How much one submission may take."""

    cell_timeout: int = 60  # seconds per cell, then the cell is interrupted
    timeout: int = 600  # wall-clock seconds for the whole submission
    cpu_seconds: int = 900  # CPU time per process of the submission


@dataclass
class Grade:
    """One CSV row."""

    submission: Path
    status: str
    reason: str = ""
    scores: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(score for score, _ in self.scores.values())


def grade_one(submission: Path, autograder_zip: Path, limits: Limits) -> Grade:
    """Grade one notebook; never raises for anything the submission does."""
    with tempfile.TemporaryDirectory(prefix="course-grade-") as tmp:
        work = Path(tmp)
        copy = work / submission.name
        shutil.copy(submission, copy)
        out = work / "result.json"
        command = [
            sys.executable, "-m", "course_lib.grading.sandbox",
            str(autograder_zip.resolve()), str(copy), str(out),
            "--cell-timeout", str(limits.cell_timeout),
        ]  # fmt: skip
        wrapper = subprocess.Popen(
            command, cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, start_new_session=True,
            preexec_fn=lambda: _limit_cpu(limits.cpu_seconds),
        )  # fmt: skip
        try:
            _, stderr = wrapper.communicate(timeout=limits.timeout)
        except subprocess.TimeoutExpired:
            kill_tree(wrapper.pid)
            wrapper.communicate()
            return Grade(submission, "timeout", f"ran past {limits.timeout} s")
        finally:
            kill_tree(wrapper.pid)
        return _read_result(submission, out, wrapper.returncode, stderr)


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
    return Grade(submission, "ok", "", scores)


def _limit_cpu(seconds: int) -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds))


def kill_tree(pid: int) -> None:
    """Kill a process and every descendant, children first (they may be re-parented)."""
    services.kill_processes(services.process_tree(pid))


def grade_many(
    submissions: list[Path], autograder_zip: Path, limits: Limits, jobs: int = 1
) -> list[Grade]:
    """Grade in parallel (``jobs`` at a time) with a progress bar, input order kept."""
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(grade_one, s, autograder_zip, limits) for s in submissions]
        for future in tqdm(as_completed(futures), total=len(futures), desc="grading",
                           unit="notebook", file=sys.stderr):  # fmt: skip
            future.result()
    return [f.result() for f in futures]


def write_csv(grades: list[Grade], path: Path, questions: list[str]) -> None:
    """One row per submission: points per question, total, status and reason."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["submission", *questions, "total", "status", "reason"])
        for g in grades:
            points = [g.scores.get(q, (0.0, 0.0))[0] for q in questions]
            # The path as given: students' notebooks share one file name.
            writer.writerow([str(g.submission), *points, g.total, g.status, g.reason])


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
