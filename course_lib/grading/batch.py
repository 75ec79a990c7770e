"""Grading a class: a folder of hundreds of submissions into one CSV row per learner.

- **Learners and re-submissions.** ``FOLDER/<learner>/…/NN_name.ipynb`` (any depth; or
  ``FOLDER/<learner>.ipynb``). A learner with several submissions is graded on the
  newest (file modification time: keep it when copying, ``cp -p``, ``unzip``); the CSV
  keeps its time and how many older ones it replaced. Notebooks named one by one on
  the command line are each their own learner (the path as given).
- **Resumable.** Every finished grade is appended (and flushed to disk) to a ledger
  next to the CSV, ``NAME.progress.jsonl``, keyed by the autograder's and the
  notebook's contents and the learner. A rerun after a kill grades only what the
  ledger lacks, so nothing is graded or counted twice; a torn last line is ignored.
  A grade made while some engine did not answer is redone when the engines differ.
- **Bounded.** ``jobs`` submissions at a time (at most the cores), each with its own
  limits (``grade.Limits``); this process holds only small records, never notebooks.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import marks
from .grade import Grade, Limits, grade_many, questions_in


@dataclass(frozen=True)
class Submission:
    """One notebook to grade: whose it is and when it was handed in."""

    path: Path
    learner: str
    submitted: float  # seconds since the epoch (the file's modification time)
    digest: str

    @property
    def submitted_iso(self) -> str:
        return datetime.fromtimestamp(self.submitted, timezone.utc).isoformat(timespec="seconds")


@dataclass
class Graded:
    """A learner's row: their newest submission and its grade."""

    submission: Submission
    grade: Grade
    replaced: list[Submission] = field(default_factory=list)


def collect(inputs: list[Path], notebook_name: str | None = None) -> list[Submission]:
    """The submissions in ``inputs`` (notebooks, or folders searched at any depth; in
    a folder only notebooks called ``notebook_name`` when any is)."""
    found: list[Submission] = []
    for item in inputs:
        if not item.is_dir():
            found.append(_submission(item, str(item)))
            continue
        notebooks = [p for p in sorted(item.rglob("*.ipynb")) if ".ipynb_checkpoints" not in p.parts]
        if notebook_name and any(p.name == notebook_name for p in notebooks):
            notebooks = [p for p in notebooks if p.name == notebook_name]
        for path in notebooks:
            relative = path.relative_to(item)
            found.append(_submission(path, relative.parts[0] if len(relative.parts) > 1 else relative.stem))
    return found


def _submission(path: Path, learner: str) -> Submission:
    return Submission(path, learner, path.stat().st_mtime, hashlib.sha256(path.read_bytes()).hexdigest()[:20])


def newest_per_learner(submissions: list[Submission]) -> list[tuple[Submission, list[Submission]]]:
    """Per learner (first-seen order): the newest submission and the older ones it replaces."""
    by_learner: dict[str, list[Submission]] = {}
    for sub in submissions:
        by_learner.setdefault(sub.learner, []).append(sub)
    result = []
    for subs in by_learner.values():
        ordered = sorted(subs, key=lambda s: s.submitted)
        result.append((ordered[-1], ordered[:-1]))
    return result


class Ledger:
    """Grades already made, one JSON line each, written as they finish."""

    def __init__(self, path: Path, autograder_zip: Path) -> None:
        self.path = path
        self.autograder = hashlib.sha256(autograder_zip.read_bytes()).hexdigest()[:20]

    def key(self, sub: Submission, available: frozenset[str]) -> str:
        return ":".join([self.autograder, sub.learner, sub.digest, ",".join(sorted(available))])

    def load(self) -> dict[str, Grade]:
        done: dict[str, Grade] = {}
        if not self.path.is_file():
            return done
        for line in self.path.read_text().splitlines():
            try:
                record = json.loads(line)
                done[record["key"]] = Grade.from_json(record["grade"])
            except (ValueError, KeyError, TypeError):
                continue  # a line torn by a kill: that submission is graded again
        return done

    def add(self, key: str, grade: Grade) -> None:
        with self.path.open("a") as handle:
            handle.write(json.dumps({"key": key, "grade": grade.to_json()}) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def ledger_path(out: Path) -> Path:
    """Where the progress of the grading that writes ``out`` is kept."""
    return out.with_name(out.stem + ".progress.jsonl")


def grade_class(
    inputs: list[Path],
    autograder_zip: Path,
    out: Path,
    limits: Limits,
    jobs: int,
    fresh: bool = False,
) -> list[Graded]:
    """Grade every learner's newest submission (resuming from the ledger unless
    ``fresh``), write the CSV ``out`` and return the rows."""
    kept = newest_per_learner(collect(inputs, autograder_zip.stem + ".ipynb"))
    exercise = kept[0][0].path.stem if kept else autograder_zip.stem  # NN_name, whatever the zip is called
    ledger = Ledger(ledger_path(out), autograder_zip)
    if fresh:
        ledger.path.unlink(missing_ok=True)
    available = marks.available_engines()
    done = ledger.load()
    todo = {}
    for sub, _ in kept:
        if ledger.key(sub, available) not in done:
            todo.setdefault(sub.path, sub)

    def record(grade: Grade) -> None:
        key = ledger.key(todo[grade.submission], available)
        ledger.add(key, grade)
        done[key] = grade

    grade_many(list(todo), autograder_zip, limits, jobs, on_done=record, already=len(kept) - len(todo))
    blocked = marks.blocked(marks.question_needs(autograder_zip, exercise), available)
    rows = []
    for sub, older in kept:
        grade = done[ledger.key(sub, available)]
        grade.submission, grade.blocked = sub.path, dict(blocked)
        rows.append(Graded(sub, grade, older))
    write_csv(rows, out, questions_in(autograder_zip), points_in(autograder_zip))
    return rows


def points_in(autograder_zip: Path) -> dict[str, float]:
    """Points possible per question, as otter counts them from the zip's tests."""
    from otter.test_files import OKTestFile

    points = {}
    with zipfile.ZipFile(autograder_zip) as archive, tempfile.TemporaryDirectory() as tmp:
        for question in questions_in(autograder_zip):
            path = Path(tmp) / f"{question}.py"
            path.write_bytes(archive.read(f"tests/{question}.py"))
            points[question] = float(sum(case.points or 0 for case in OKTestFile.from_file(str(path)).test_cases))
    return points


def write_csv(rows: list[Graded], out: Path, questions: list[str], points: dict[str, float]) -> None:
    """One row per learner, written whole or not at all (a rename).

    A blocked question's cell says ``blocked``; ``possible`` counts only the questions
    graded; ``blocked`` names the questions and the engines they waited for."""
    partial = out.with_name(out.name + ".partial")
    with partial.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["learner", "submission", "submitted", *questions, "total", "possible", "status",
                         "blocked", "reason", "seconds", "replaced"])  # fmt: skip
        for row in rows:
            g = row.grade
            cells = ["blocked" if q in g.blocked else g.scores.get(q, (0.0, 0.0))[0] for q in questions]
            possible = sum(p for q, p in points.items() if q not in g.blocked)
            waits = "; ".join(f"{q}: needs {marks.describe(m)}" for q, m in sorted(g.blocked.items()))
            # the path as given: learners' notebooks share one file name
            writer.writerow([row.submission.learner, str(row.submission.path), row.submission.submitted_iso,
                             *cells, g.total, possible, g.status, waits, g.reason, g.seconds,
                             len(row.replaced)])  # fmt: skip
    partial.replace(out)
