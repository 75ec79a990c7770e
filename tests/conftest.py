"""Engines for the whole test run: started once, stopped after (DESIGN.md, Testing)."""

from __future__ import annotations

import os
import re

import pytest

from course_lib import services
from course_lib.cores import allowed_cores
from course_lib.vllm_tools import server as vllm_server

from .helpers import course, free_port, require_vllm

#: What every xdist worker shares with the others: derived files, written once by setup.
SHARED_IN_HOME = ("models", "quant")


def pytest_configure(config):
    """An xdist worker gets a COURSE_HOME of its own (its engines' pid and log files, its
    Ollama store), so that two workers' engines and models never meet; the converted
    models are linked, not copied. It also gets cores of its own (below). Subprocesses
    inherit both."""
    workerinput = getattr(config, "workerinput", {})
    worker = workerinput.get("workerid")
    if worker:
        pin_to_own_cores(int(worker.removeprefix("gw")), int(workerinput["workercount"]))
        from course_lib import config as course_config

        shared = course_config.course_home()
        home = shared / "workers" / worker
        home.mkdir(parents=True, exist_ok=True)
        for name in SHARED_IN_HOME:
            if (shared / name).exists() and not (home / name).exists():
                (home / name).symlink_to(shared / name)
        os.environ["COURSE_HOME"] = str(home)


def own_cores(index: int, workers: int, cores: list[int]) -> set[int]:
    """The cores worker ``index`` of ``workers`` keeps to: an equal share, every one
    used; all of them when there are more workers than cores.

    >>> own_cores(0, 2, [0, 1]), own_cores(1, 2, [0, 1]), own_cores(1, 2, [0, 1, 2, 3, 4])
    ({0}, {1}, {3, 4})
    >>> own_cores(1, 3, [0, 1])
    {0, 1}
    """
    if workers > len(cores):
        return set(cores)
    share, extra = divmod(len(cores), workers)
    start = index * share + min(index, extra)
    return set(cores[start : start + share + (index < extra)])


def pin_to_own_cores(index: int, workers: int) -> None:
    """Keep this worker, its engines and its kernels on cores no other worker uses.

    Both engines' threads spin while they wait for each other (ggml's barrier; GNU
    OpenMP's default wait policy under vLLM), so a thread whose partner lost its core
    to the other worker spins out its time slice: unpinned, grading, lab_ollama and
    quant took 29:49 on two workers against 21:45 on one. Pinned, each worker is a
    smaller machine: vLLM binds its threads to the cores it is allowed
    (``sched_getaffinity``) and lab Ollama runs no more threads than it has cores. The
    whole suite, measured on 2 cores: 50:02 one test at a time, 33:03 on two pinned workers.
    """
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, own_cores(index, workers, allowed_cores()))


def xdist_scope(nodeid: str) -> str:
    """Which tests a worker takes together: an exercise's (they share its assign output
    and, for 04, an in-process vLLM engine), a folder's where its tests share a
    machine-wide program, else a module's (module fixtures, e.g. a class graded once).

    >>> xdist_scope("tests/grading/test_exercises.py::test_wrong_answers_lose_points[04_vllm-q1]")
    '04_vllm'
    >>> xdist_scope("tests/grading/test_class.py::test_nothing_was_graded_twice")
    'tests/grading/test_class.py'
    >>> xdist_scope("tests/class_kit/test_hub.py::test_a_learner_logs_in")
    'tests/class_kit'
    """
    module, _, name = nodeid.partition("::")
    if module.endswith("grading/test_exercises.py") and name.endswith("]"):
        return re.sub(r"-q\d+$", "", name[name.index("[") + 1 : -1])
    folder = module.rpartition("/")[0]
    if folder in WHOLE_FOLDERS:
        return folder
    return module


#: Folders a worker takes whole: the class kit's PostgreSQL, nginx and hub, and the
#: browser tests' Chromium, are each one machine-wide program.
WHOLE_FOLDERS = ("tests/class_kit", "tests/make_lab")

#: Under xdist, scopes start longest first (make test's table, measured on two workers),
#: so that the run ends on short ones and neither worker waits long for the other: the
#: lessons (a third of the run) on a worker of their own, then the exercises' grading, the
#: guide's bf16 vLLM, the other long folders; the rest follow as collected.
LONGEST_FIRST = ("tests/notebooks/", "tests/grading/test_exercises.py", "tests/vllm_engine/test_guide_offline.py",
                 "tests/grading/", "tests/vllm_engine/", "tests/lab_ollama/", "tests/class_kit/", "tests/make_lab/",
                 "tests/quant/", "tests/bench/")


def start_rank(nodeid: str) -> int:
    """Where a test's scope goes in the queue: the index of the first of LONGEST_FIRST
    it falls under, else after all of them.

    >>> start_rank("tests/notebooks/test_lessons.py::test_lesson_executes_clean[08_x]")
    0
    >>> start_rank("tests/grading/test_grade.py::test_x"), start_rank("tests/unit/test_x.py::test_y")
    (3, 10)
    """
    return next((rank for rank, prefix in enumerate(LONGEST_FIRST) if nodeid.startswith(prefix)), len(LONGEST_FIRST))


def pytest_collection_modifyitems(config, items):
    if hasattr(config, "workerinput"):  # the workers' collection is what xdist schedules
        items.sort(key=lambda item: start_rank(item.nodeid))


def pytest_xdist_make_scheduler(config, log):
    """A run on several workers (``-n N``): whole scopes (above) to each worker. xdist's own
    ``--dist loadgroup`` marks do not group under pytest 9 (xdist 3.8 renames
    ``item._nodeid``, which pytest 9 no longer reads), so the grouping is done here."""
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = False  # keep the order above, not the largest scope first

    class ByScope(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_scope(nodeid)

    return ByScope(config, log)


@pytest.fixture(scope="session")
def vllm_base_url():
    """One real vLLM server for the whole run, started and stopped by the real CLI.

    It listens on a free port (never a learner's :8000) with ``--enforce-eager``
    (ready in ~25 s instead of ~60 s; compilation is not what these tests teach).
    `course up` also starts lab Ollama, on a free port of its own. Teardown asserts
    that ``course down`` leaves no process behind.
    """
    require_vllm()
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VLLM_BASE_URL", url)
        patch.setenv("OLLAMA_HOST", f"127.0.0.1:{free_port()}")  # lab Ollama, too
        started = course("up", "--enforce-eager")
        assert started.returncode == 0, started.stdout + started.stderr
        pid = services.running_pid(vllm_server.vllm_service())
        assert pid is not None
        yield url
        stopped = course("down")
        assert stopped.returncode == 0 and "stopped: ollama, vllm" in stopped.stdout
        assert services.group_alive(pid) is False, "vLLM processes left after down"
        assert os.environ["VLLM_BASE_URL"] == url


@pytest.fixture(scope="session")
def ollama_url(request):
    """The Ollama that lessons and exercises find at OLLAMA_HOST for the whole run.

    Where vLLM is installed this is the lab Ollama that ``course up`` started next to
    the session's vLLM server (lesson 00 talks to both); elsewhere a lab Ollama alone,
    on a free port. The course model is pulled first: tests that use it must not
    depend on a lesson having pulled it earlier in the run (an xdist worker's
    COURSE_HOME starts with an empty store).
    """
    from course_lib import config, engines
    from course_lib.vllm_tools.server import installed_engine

    if installed_engine() is not None:
        request.getfixturevalue("vllm_base_url")
        yield _with_course_model(config.ollama_url())
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OLLAMA_HOST", f"127.0.0.1:{free_port()}")
        with engines.running():
            yield _with_course_model(config.ollama_url())


def _with_course_model(url: str) -> str:
    import requests

    from course_lib import config

    pulled = requests.post(f"{url}/api/pull", json={"model": config.OLLAMA_MODEL, "stream": False}, timeout=300)
    assert pulled.status_code == 200, pulled.text
    return url
