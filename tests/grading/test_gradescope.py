"""The Gradescope zip, run the way Gradescope runs it: otter's ``run_otter.py`` over an
``autograder/`` folder (source = the zip, submission, submission_metadata.json,
results), in a fresh virtual environment, with Gradescope's memory limit and no
engine answering. Gradescope's limit (768 MiB by default) is the container's; here
every process gets it as its data-segment limit (``RLIMIT_DATA``: heap and private
memory; an address-space limit would count the libraries' reserved, unused address
space and stop the kernel from starting), and the resident memory of all of them
together is sampled and must stay under it.

Gradescope's ``setup.sh`` installs the zip's ``requirements.txt``; this machine has
no network beyond the package registries, so the fresh environment sees the course
environment's installed packages through a path file (a plain ``sys.path`` entry:
the editable ``course_lib`` install there does not apply, so the ``course_lib`` that
runs is the zip's own).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from course_lib.grading import assign, gradescope, marks
from course_lib.grading.batch import points_in
from course_lib.grading.grade import tree_rss_mb

from ..helpers import free_port
from .classroom import EXERCISES, ROOT, SOLUTIONS, unanswered, variant

MEMORY = 768 * 2**20  # Gradescope's default autograder memory


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("gradescope") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site,) = venv.glob("lib/python*/site-packages")
    (site / "course-packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


@pytest.fixture(scope="module")
def exercise(tmp_path_factory):
    """An exercise with engine and engine-free questions, and its Gradescope zip."""
    work = tmp_path_factory.mktemp("assign")
    for master in assign.masters(SOLUTIONS):
        made = assign.generate(master, work, assign.cache_dir(ROOT / "build"))
        needs = marks.question_needs(made.autograder_zip)
        if any(needs.values()) and not all(needs.values()):
            break
    else:
        pytest.fail("no master has both engine and engine-free questions")
    zip_path = gradescope.write_zip(made.autograder_zip, work / "gradescope" / f"{master.stem}.zip", master.stem)
    return master, made, needs, zip_path


def run_like_gradescope(venv: Path, zip_path: Path, notebook: nbformat.NotebookNode, folder: Path) -> dict:
    """Lay out /autograder as Gradescope does (in ``folder``) and run otter there."""
    autograder = folder / "autograder"
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(autograder / "source")
    (autograder / "submission").mkdir()
    (autograder / "results").mkdir()
    nbformat.write(notebook, autograder / "submission" / zip_path.with_suffix(".ipynb").name)
    metadata = {"id": 1, "created_at": "2026-11-28T12:00:00Z", "assignment": {"title": zip_path.stem},
                "users": [{"email": "learner@example.edu", "name": "A Learner"}], "previous_submissions": []}  # fmt: skip
    (autograder / "submission_metadata.json").write_text(json.dumps(metadata))
    script = (autograder / "source" / "run_otter.py").read_text().replace('"/autograder"', json.dumps(str(autograder)))
    (autograder / "source" / "run_otter_here.py").write_text(script)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PATH=f"{venv / 'bin'}:{env['PATH']}", OLLAMA_HOST=f"127.0.0.1:{free_port()}",
               VLLM_BASE_URL=f"http://127.0.0.1:{free_port()}/v1")  # nothing answers there  # fmt: skip
    log = folder / "run_autograder.log"
    with log.open("w") as output:
        run = subprocess.Popen(
            [str(venv / "bin" / "python"), str(autograder / "source" / "run_otter_here.py")],
            cwd=autograder, env=env, stdout=output, stderr=subprocess.STDOUT,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_DATA, (MEMORY, MEMORY)),
        )  # fmt: skip
    peak, deadline = 0.0, time.monotonic() + 600
    while run.poll() is None:
        assert time.monotonic() < deadline, "run_autograder ran past 600 s"
        peak = max(peak, tree_rss_mb(run.pid))
        time.sleep(0.2)
    assert peak * 2**20 < MEMORY, f"{peak:.0f} MiB resident: over Gradescope's limit"
    results = autograder / "results" / "results.json"
    assert results.is_file(), log.read_text()[-3000:]
    return json.loads(results.read_text())


def scores(results: dict) -> dict[str, tuple[float, float]]:
    return {t["name"]: (t["score"], t["max_score"]) for t in results["tests"] if "max_score" in t}


def test_the_zip_carries_course_lib_the_plugin_and_the_marks(exercise, fresh_venv):
    _, _, needs, zip_path = exercise
    with zipfile.ZipFile(zip_path) as archive:
        names = set(archive.namelist())
        config = json.loads(archive.read("otter_config.json"))
    assert {"course_lib/grading/gradescope.py", "files/course_lib/lesson.py", "run_autograder", "setup.sh"} <= names
    assert {"course_lib.grading.gradescope.BlockedQuestions": {"needs": {q: sorted(n) for q, n in needs.items()}}} in config["plugins"]
    bare = subprocess.run([str(fresh_venv / "bin" / "python"), "-c", "import course_lib"], cwd="/",
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, capture_output=True)  # fmt: skip
    assert bare.returncode != 0, "the fresh environment must not see the course's own course_lib"


def test_a_right_and_a_wrong_submission_score_as_on_gradescope(exercise, fresh_venv, tmp_path):
    master, made, needs, zip_path = exercise
    solved = nbformat.read(made.solved, as_version=4)
    student = nbformat.read(EXERCISES / master.name, as_version=4)
    points = points_in(made.autograder_zip)
    engine_free = [q for q in points if not needs[q]]

    right = run_like_gradescope(fresh_venv, zip_path, solved, tmp_path / "right")
    assert scores(right) == {q: (points[q], points[q]) for q in engine_free}, right
    assert "Blocked" in right["output"] and all(q in right["output"] for q in points if needs[q])

    wrong_question = engine_free[-1]  # its answer goes back to the stub
    wrong_nb = unanswered(solved, student, wrong_question)
    wrong = run_like_gradescope(fresh_venv, zip_path, wrong_nb, tmp_path / "wrong")
    expected = {q: (points[q], points[q]) for q in engine_free} | {wrong_question: (0.0, points[wrong_question])}
    assert scores(wrong) == expected, wrong
