"""The class report: one self-contained HTML page (figures inlined), no server needed.

Points per question as histograms, the questions most learners miss, how each
submission ended (status), the blocked questions, and the slowest submissions (where
the grading time went, and who may have a loop).
"""

from __future__ import annotations

import base64
import html
import io
from collections import Counter
from pathlib import Path

from .batch import Graded


def histograms_png(rows: list[Graded], points: dict[str, float]) -> bytes:
    """One small histogram per question: how many learners earned each score."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    questions = list(points)
    columns = min(4, max(1, len(questions)))
    lines = -(-len(questions) // columns)
    figure, axes = plt.subplots(lines, columns, figsize=(3.2 * columns, 2.6 * lines), squeeze=False)
    for ax in axes.flat[len(questions):]:
        ax.axis("off")
    for ax, question in zip(axes.flat, questions):
        earned = [r.grade.scores.get(question, (0.0, 0.0))[0] for r in rows if question not in r.grade.blocked]
        counts = Counter(earned)
        ax.bar([str(k) for k in sorted(counts)], [counts[k] for k in sorted(counts)], color="#4c72b0")
        ax.set_title(f"{question} ({points[question]:g} points)", fontsize=10)
        ax.set_xlabel("points earned")
        ax.set_ylabel("learners")
        if not earned:
            ax.text(0.5, 0.5, "blocked", transform=ax.transAxes, ha="center")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return buffer.getvalue()


def missed(rows: list[Graded], points: dict[str, float]) -> list[tuple[str, int, int]]:
    """(question, learners short of full points, learners graded on it), most missed first."""
    table = []
    for question, possible in points.items():
        graded = [r for r in rows if question not in r.grade.blocked]
        short = sum(1 for r in graded if r.grade.scores.get(question, (0.0, 0.0))[0] < possible)
        table.append((question, short, len(graded)))
    return sorted(table, key=lambda t: (-(t[1] / t[2]) if t[2] else 0.0, t[0]))


def render(rows: list[Graded], points: dict[str, float], title: str, slowest: int = 10) -> str:
    """The report page."""
    e = html.escape
    statuses = Counter(r.grade.status for r in rows)
    total = sum(points.values())
    figure = base64.b64encode(histograms_png(rows, points)).decode()
    blocked = Counter(q for r in rows for q in r.grade.blocked)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{e(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p>{len(rows)} learners; {total:g} points in {len(points)} questions. Status: "
        + ", ".join(f"{e(s)} {n}" for s, n in sorted(statuses.items())) + ".</p>",
        "<h2 id='histograms'>Points per question</h2>",
        f"<img alt='histogram of points per question' src='data:image/png;base64,{figure}'>",
        "<h2 id='missed'>Questions most learners miss</h2><table><tr><th>question</th>"
        "<th>learners short of full points</th><th>share</th></tr>",
    ]
    for question, short, graded in missed(rows, points):
        share = f"{short / graded:.0%}" if graded else "blocked"
        parts.append(f"<tr><td>{e(question)}</td><td>{short} of {graded}</td><td>{share}</td></tr>")
    parts.append("</table>")
    if blocked:
        parts.append("<h2 id='blocked'>Blocked questions</h2><p>Not graded: the engine they need did not "
                     "answer. " + ", ".join(f"{e(q)} ({n} learners)" for q, n in sorted(blocked.items())) + "</p>")  # fmt: skip
    parts.append("<h2 id='slowest'>Slowest submissions</h2><table><tr><th>learner</th><th>seconds</th>"
                 "<th>peak MiB</th><th>status</th><th>points</th></tr>")  # fmt: skip
    for r in sorted(rows, key=lambda r: -r.grade.seconds)[:slowest]:
        parts.append(f"<tr><td>{e(r.submission.learner)}</td><td>{r.grade.seconds:.1f}</td>"
                     f"<td>{r.grade.peak_mb:.0f}</td><td>{e(r.grade.status)}</td><td>{r.grade.total:g}</td></tr>")  # fmt: skip
    parts.append("</table></body></html>")
    return "\n".join(parts)


def write(rows: list[Graded], points: dict[str, float], path: Path, title: str) -> Path:
    """Write the report to ``path``; return it."""
    path.write_text(render(rows, points, title))
    return path
