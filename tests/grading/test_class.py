"""`course grade` on a class folder: killed midway and resumed, every learner graded
once with the right total, nothing left running, a report and feedback per learner;
and a question whose engine does not answer is blocked, not zero."""

from __future__ import annotations

import csv
import signal
import subprocess
import time

import pytest

from course_lib.engines import NO_START
from course_lib.grading import assign, marks
from course_lib.grading.batch import ledger_path, points_in

from ..helpers import COURSE, course, free_port, our_processes
from .classroom import ROOT, SOLUTIONS, make_class

SIZE = 14
# A C loop (status timeout) costs the whole --timeout: test_grade.py covers it.
LIMITS = ["--cell-timeout", "10", "--timeout", "300", "--jobs", "2", "--no-engines"]


def grading_processes() -> set[int]:
    """Sandboxes and their kernels, of any `course grade` (ours are the new ones): the
    processes that inherited the grader's COURSE_NO_ENGINE_START."""
    return our_processes(lambda p: NO_START in p.environ())


def ledger_lines(out) -> list[str]:
    path = ledger_path(out)
    return path.read_text().splitlines() if path.is_file() else []


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    work = tmp_path_factory.mktemp("class")
    expected = make_class("09", SIZE, work / "submissions", work / "assign", skip=("c_loop",))
    (master,) = assign.masters(SOLUTIONS, "09")
    zip_path = assign.generate(master, work / "assign", assign.cache_dir(ROOT / "build")).autograder_zip
    out = work / "grades.csv"
    args = [COURSE, "grade", str(work / "submissions"), "--autograder", str(zip_path), "--out", str(out), *LIMITS]
    before = grading_processes()
    first = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    deadline = time.monotonic() + 300
    while len(ledger_lines(out)) < 4 and first.poll() is None:
        assert time.monotonic() < deadline, "no progress in 300 s"
        time.sleep(0.5)
    first.send_signal(signal.SIGKILL)  # killed midway, as a crash or an OOM killer would
    first.wait()
    at_kill = len(ledger_lines(out))
    time.sleep(3)
    left = grading_processes() - before
    resumed = course("grade", str(work / "submissions"), "--autograder", str(zip_path), "--out", str(out), *LIMITS,
                     timeout=600)  # fmt: skip
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    rows = {r["learner"]: r for r in csv.DictReader(out.open())}
    return dict(expected=expected, rows=rows, out=out, at_kill=at_kill, left=left, zip=zip_path,
                resumed=resumed, before=before, master=master)  # fmt: skip


def test_the_kill_came_midway_and_left_no_grading_process(graded_class):
    assert 4 <= graded_class["at_kill"] < SIZE, "the first run was killed before it finished"
    assert graded_class["left"] == set(), "sandboxes or kernels outlived the killed grader"


def test_every_learner_once_with_the_right_total(graded_class):
    expected, rows = graded_class["expected"], graded_class["rows"]
    assert sorted(rows) == sorted(expected)
    got = {k: (r["status"], float(r["total"]), int(r["replaced"])) for k, r in rows.items()}
    assert got == {k: (e.status, e.total, e.replaced) for k, e in expected.items()}


def test_nothing_was_graded_twice(graded_class):
    keys = [line.split('"key": "')[1].split('"')[0] for line in ledger_lines(graded_class["out"])]
    assert len(keys) == len(set(keys)) == SIZE, "the rerun graded only what the kill left undone"


def test_the_newest_submission_counts_and_its_time_is_kept(graded_class):
    (learner,) = [k for k in graded_class["rows"] if k.endswith("resubmits")]
    row = graded_class["rows"][learner]
    assert "first-try" not in row["submission"] and not row["submitted"].startswith("2023-11-14")
    assert row["submitted"][:4].isdigit() and "T" in row["submitted"]


def test_a_learner_who_missed_a_question_is_told_which_test_and_where_it_is_taught(graded_class):
    out, rows = graded_class["out"], graded_class["rows"]
    folder = out.with_name(out.stem + "-feedback")
    assert sorted(p.stem for p in folder.glob("*.md")) == sorted(rows)
    (stubbed,) = [k for k in rows if k.endswith("stub_last")][:1]
    text = (folder / f"{stubbed}.md").read_text()
    last = list(points_in(graded_class["zip"]))[-1]
    section = text.split(f"## {last}:")[1]
    assert "failed" in section and "where this is taught: lesson section" in section
    assert "notebooks/09_" in section
    right = (folder / f"{[k for k in rows if k.endswith('-right')][0]}.md").read_text()
    assert "failed" not in right and "to revisit" not in right


def test_the_report_names_the_most_missed_question_and_the_slowest(graded_class):
    html = graded_class["out"].with_suffix(".html").read_text()
    last = list(points_in(graded_class["zip"]))[-1]
    missed = html.split("id='missed'")[1].split("</table>")[0]
    assert missed.index(f"<td>{last}</td>") < min(missed.index(f"<td>{q}</td>") for q in points_in(graded_class["zip"]) if q != last)
    slowest = max(graded_class["rows"].values(), key=lambda r: float(r["seconds"]))["learner"]
    assert slowest in html.split("id='slowest'")[1].split("</tr>")[1], "the slowest submission comes first"
    assert "data:image/png;base64," in html


def test_a_question_whose_engine_does_not_answer_is_blocked_not_zero(tmp_path):
    """No engine anywhere (free ports, nothing started): engine questions blocked,
    the others graded; the CSV says which and why."""
    masters = [m for m in assign.masters(SOLUTIONS) if any(m.name.startswith(n) for n in ("01", "10", "02"))]
    for master in masters:
        made = assign.generate(master, tmp_path / "assign", assign.cache_dir(ROOT / "build"))
        needs = marks.question_needs(made.autograder_zip)
        if any(needs.values()) and not all(needs.values()):
            break
    else:
        pytest.fail(f"no master among {masters} has both engine and engine-free questions")
    submission = tmp_path / "right" / master.name
    submission.parent.mkdir()
    submission.write_bytes(made.solved.read_bytes())
    out = tmp_path / "grades.csv"
    nowhere = {"OLLAMA_HOST": f"127.0.0.1:{free_port()}", "VLLM_BASE_URL": f"http://127.0.0.1:{free_port()}/v1"}
    done = course("grade", str(submission), "--autograder", str(made.autograder_zip), "--out", str(out),
                  "--no-engines", "--cell-timeout", "30", env=nowhere, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    (row,) = csv.DictReader(out.open())
    points = points_in(made.autograder_zip)
    engine_free = [q for q, n in needs.items() if not n]
    for question, engines in needs.items():
        if engines:
            assert row[question] == "blocked" and question in row["blocked"], row
        else:
            assert float(row[question]) == points[question], (question, row)
    assert float(row["total"]) == float(row["possible"]) == sum(points[q] for q in engine_free)
    assert "needs an Ollama server" in row["blocked"] or "needs a vLLM server" in row["blocked"]


def test_the_report_opens_in_chromium_without_errors(graded_class):
    from ..make_lab import chromium

    path = chromium.find()
    if path is None:
        pytest.skip(f"no Chromium for the browser test: {chromium.unavailable_reason()}")
    from playwright.sync_api import sync_playwright

    report = graded_class["out"].with_suffix(".html")
    errors = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=chromium.LAUNCH_ARGS)
        page = browser.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.goto(report.as_uri())
        image = page.locator("#histograms + img")
        width = image.evaluate("img => img.naturalWidth")
        rows = page.locator("#missed + table tr").count()
        SHOTS = ROOT / "build" / "browser"
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "class-report.png"), full_page=True)
        browser.close()
    assert errors == []
    assert width > 100, "the histogram image decoded"
    assert rows == len(points_in(graded_class["zip"])) + 1
