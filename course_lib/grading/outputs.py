"""What ``course grade`` leaves besides the CSV: the class report and the feedback files."""

from __future__ import annotations

from pathlib import Path

from . import feedback, report
from .batch import Graded, points_in


def write_all(
    rows: list[Graded],
    autograder_zip: Path,
    out: Path,
    feedback_dir: Path | None,
    report_path: Path | None,
    exercises: Path,
    lessons: Path,
) -> list[Path]:
    """Write the report (``OUT.html``) and one feedback file per learner
    (``OUT-feedback/<learner>.md``); return the paths of the report and the folder."""
    points = points_in(autograder_zip)
    exercise = rows[0].submission.path.stem if rows else autograder_zip.stem
    report_path = report_path or out.with_suffix(".html")
    report.write(rows, points, report_path, f"{exercise}: class report")
    folder = feedback_dir or out.with_name(out.stem + "-feedback")
    folder.mkdir(parents=True, exist_ok=True)
    hints = feedback.hints(exercises / f"{exercise}.ipynb", lessons)
    for row in rows:
        text = feedback.render(row.submission.learner, exercise, row.submission.submitted_iso, row.grade,
                               points, hints)  # fmt: skip
        (folder / f"{feedback.safe_name(row.submission.learner)}.md").write_text(text)
    return [report_path, folder]
