"""Per-learner feedback: which test failed, and where the lesson teaches it.

The hint for a question is found, not written by hand: the question's text in the
exercise notebook (the markdown between the previous ``grader.check`` and this one)
is compared with every section (a ``##``/``###`` heading and what follows it) of the
lesson with the same number; the most similar section wins (cosine of tf-idf word
vectors: words count more the fewer sections use them, long sections gain nothing
from length alone). A new or changed question gets its
hint the day it lands. A hidden test's code is never shown, only that it failed.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import nbformat

from . import marks
from .grade import Grade

_WORD = re.compile(r"[a-z][a-z0-9]{3,}")
_STOP = frozenset("""this that with from your have when what which their there these those into than then them
they each will would could should about above below other only also just more most some such very over
under after before while where does done write return returns question points point answer cell cells
below using used uses make makes made like here code list dict float none true false print""".split())


# Sections that frame a lesson rather than teach: never a hint's target.
NOT_TEACHING = ("learning objectives", "check your understanding", "going further", "summary", "exercises",
                "what you learned", "references")  # fmt: skip


@dataclass(frozen=True)
class Section:
    """A lesson section a hint can point at."""

    lesson: Path
    title: str
    words: Counter

    def anchor(self) -> str:
        """JupyterLab's anchor for the heading (spaces become dashes)."""
        return self.title.strip().replace(" ", "-")

    def link(self) -> str:
        return f"{self.lesson.as_posix()}#{self.anchor()}"


def _words(text: str) -> Counter:
    text = re.sub(r"[_`*()\[\],.:;=/\\-]", " ", text.lower())
    return Counter(w for w in _WORD.findall(text) if w not in _STOP)


def lesson_sections(lesson: Path) -> list[Section]:
    """The lesson's sections: each heading with the text and code under it."""
    nb = nbformat.read(lesson, as_version=4)
    sections: list[tuple[str, list[str]]] = []
    for cell in nb.cells:
        heading = re.match(r"#{2,3}\s+(.+)", cell.source) if cell.cell_type == "markdown" else None
        if heading:
            sections.append((heading.group(1).splitlines()[0].strip(), []))
        if sections:
            sections[-1][1].append(cell.source)
    return [Section(lesson, title, _words(title + " " + " ".join(body))) for title, body in sections
            if not title.lower().startswith(NOT_TEACHING)]  # fmt: skip


def question_texts(exercise: Path) -> dict[str, str]:
    """Each question's text in the student notebook, keyed by question name."""
    nb = nbformat.read(exercise, as_version=4)
    texts, pending = {}, []
    for cell in nb.cells:
        check = re.search(r"grader\.check\(\s*[\"'](\w+)[\"']", cell.source) if cell.cell_type == "code" else None
        if check:
            texts[check.group(1)] = " ".join(pending)
            pending = []
        else:
            pending.append(cell.source)  # the prompt and the answer's signature
    return texts


def hints(exercise: Path | None, lessons: Path | None) -> dict[str, Section]:
    """The best lesson section for each question of ``exercise`` (``NN_name.ipynb``)."""
    if exercise is None or lessons is None or not exercise.is_file():
        return {}
    candidates = sorted(lessons.glob(f"{exercise.name[:2]}_*.ipynb"))
    if not candidates:
        return {}
    sections = lesson_sections(candidates[0])
    if not sections:
        return {}
    spread = Counter(w for s in sections for w in set(s.words))
    weight = {w: math.log((1 + len(sections)) / (1 + n)) + 1 for w, n in spread.items()}
    vectors = [_tfidf(s.words, weight) for s in sections]
    found = {}
    for question, text in question_texts(exercise).items():
        asked = _tfidf(_words(text), weight)
        scores = [_cosine(asked, v) for v in vectors]
        found[question] = sections[scores.index(max(scores))]
    return found


def _tfidf(words: Counter, weight: dict[str, float]) -> dict[str, float]:
    return {w: (1 + math.log(n)) * weight[w] for w, n in words.items() if w in weight}


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    dot = sum(v * b.get(w, 0.0) for w, v in a.items())
    norm = math.sqrt(sum(v * v for v in a.values()) * sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


def render(learner: str, exercise: str, submitted: str, grade: Grade, points: dict[str, float],
           hints_for: dict[str, Section]) -> str:  # fmt: skip
    """The learner's feedback as Markdown."""
    graded = [q for q in points if q not in grade.blocked]
    lines = [f"# {exercise}: feedback for {learner}", "",
             f"Submission of {submitted}: **{grade.total:g} of {sum(points[q] for q in graded):g} points**"
             f" ({grade.status}{': ' + grade.reason if grade.reason else ''}).", ""]  # fmt: skip
    if grade.status != "ok":
        lines += [_status_advice(grade.status), ""]
    for question, possible in points.items():
        if question in grade.blocked:
            lines += [f"## {question}: blocked", "",
                      f"Not graded here: it needs {marks.describe(grade.blocked[question])}, which did not "
                      "answer. Your instructor grades it where the engines run.", ""]  # fmt: skip
            continue
        earned = grade.scores.get(question, (0.0, possible))[0]
        mark = "all tests passed" if earned == possible and grade.status == "ok" else "to revisit"
        lines += [f"## {question}: {earned:g} of {possible:g} points, {mark}", ""]
        for case in grade.cases.get(question, []):
            if case["passed"]:
                continue
            if case["hidden"]:
                lines.append(f"- a hidden test (`{case['name']}`) failed: your answer is not right in every case")
            else:
                lines.append(f"- test `{case['name']}` failed: {failure(case['message'])}")
        if earned < possible and question in hints_for:
            section = hints_for[question]
            lines.append(f"- where this is taught: lesson section \"{section.title}\" ({section.link()})")
        lines.append("")
    return "\n".join(lines)


def failure(message: str) -> str:
    """One line from otter's doctest report: the statement that failed and its error."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if not lines:
        return "(no message)"
    error = lines[-1][:200]
    if "Failed example:" in lines[:-1]:
        statement = lines[lines.index("Failed example:") + 1][:200]
        return f"`{statement}` gave {error}"
    return error


def _status_advice(status: str) -> str:
    return {
        "timeout": "Your notebook ran past the time limit (a loop that never ends?): no question could be graded.",
        "crashed": "Your notebook's kernel died (os._exit, a killed process?): run it top to bottom before submitting.",
        "error": "Your notebook could not be graded (did it delete or change the grader's files?).",
        "memory": "Your notebook used more memory than allowed: nothing could be graded.",
    }.get(status, "")


def safe_name(learner: str) -> str:
    """A file name for a learner id (a path given on the command line included)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", learner).strip("_") or "learner"
