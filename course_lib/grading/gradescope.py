"""Gradescope: otter's autograder zip, made to run where no engine answers.

Gradescope's default autograder (~768 MB, half a CPU, no network to the course's
engines) runs otter's ``run_autograder`` on the zip's contents in ``/autograder``. The
zip ``course assign`` writes to ``build/gradescope/NN_name.zip`` is otter's own, plus:

- ``course_lib/`` at its root, so the grading process can load the plugin below, and
  under ``files/``, which otter copies next to the submission, so the notebook's
  ``import course_lib`` works in the kernel;
- the ``BlockedQuestions`` plugin in ``otter_config.json``, with each question's
  engine needs (``marks``): after grading, a question whose engine does not answer
  is taken out of the results (neither points nor zero), and the results say why;
- the packages the exercises import (``requirements.txt``), for Gradescope's image.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

from otter.plugins import AbstractOtterPlugin

from . import marks
from ..engines import NO_START

PLUGIN = f"{__name__}.BlockedQuestions"
# What the exercise notebooks import from course_lib's dependencies (not the engines).
REQUIREMENTS = ["numpy>=1.26", "requests>=2.31", "ollama>=0.4", "openai>=1.40", "psutil>=5.9", "tqdm>=4.66"]


class BlockedQuestions(AbstractOtterPlugin):
    """Otter plugin: drop the questions whose engines do not answer from the score."""

    def before_grading(self, config) -> None:
        os.environ[NO_START] = "1"  # the kernel's connect() must not try to start one

    def after_grading(self, results) -> None:
        needs = self.plugin_config.get("needs", {})
        missing = marks.blocked(needs, marks.available_engines())
        for question in missing:
            results.results.pop(question, None)
        if missing:
            results.set_output(blocked_message(missing))


def blocked_message(missing: dict[str, list[str]]) -> str:
    """What Gradescope shows above the tests when questions were blocked."""
    listed = "; ".join(f"{q} needs {marks.describe(m)}" for q, m in sorted(missing.items()))
    return (f"Blocked, not graded here (no engine answers on this grader): {listed}. "
            "These points are neither given nor taken: your instructor grades them where the engines run.")  # fmt: skip


def write_zip(autograder_zip: Path, out: Path, exercise: str | None = None) -> Path:
    """Write the Gradescope zip for one exercise from otter's autograder zip."""
    needs = {q: sorted(e) for q, e in marks.question_needs(autograder_zip, exercise).items()}
    package = Path(__file__).resolve().parents[1]
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(autograder_zip) as source, zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "otter_config.json":
                data = _with_plugin(data, needs)
            elif item.filename == "requirements.txt":
                data = data.rstrip(b"\n") + b"\n" + "\n".join(REQUIREMENTS).encode() + b"\n"
            target.writestr(item, data)
        if "requirements.txt" not in source.namelist():
            target.writestr("requirements.txt", "\n".join(REQUIREMENTS) + "\n")
        for path in sorted(package.rglob("*.py")):
            relative = path.relative_to(package.parent).as_posix()
            target.write(path, relative)
            target.write(path, f"files/{relative}")
    shutil.move(partial, out)
    return out


def _with_plugin(config: bytes, needs: dict[str, list[str]]) -> bytes:
    settings = json.loads(config)
    plugins = [p for p in settings.get("plugins", []) if PLUGIN not in (p if isinstance(p, str) else p.keys())]
    settings["plugins"] = [*plugins, {PLUGIN: {"needs": needs}}]
    return json.dumps(settings, indent=2).encode()


def zip_path(build: Path, master: Path) -> Path:
    """Where the Gradescope zip of one exercise goes: ``build/gradescope/NN_x.zip``."""
    return build / "gradescope" / f"{master.stem}.zip"
