"""Engines for the whole test run: started once, stopped after (DESIGN.md, Testing)."""

from __future__ import annotations

import os
import re

import pytest

from course_lib import services
from course_lib.vllm_tools import server as vllm_server

from .helpers import course, free_port, require_vllm

#: What every xdist worker shares with the others: derived files, written once by setup.
SHARED_IN_HOME = ("models", "quant")


def pytest_configure(config):
    """An xdist worker gets a COURSE_HOME of its own (its engines' pid and log files, its
    Ollama store), so that two workers' engines and models never meet; the converted
    models are linked, not copied. Subprocesses inherit it."""
    worker = getattr(config, "workerinput", {}).get("workerid")
    if worker:
        from course_lib import config as course_config

        shared = course_config.course_home()
        home = shared / "workers" / worker
        home.mkdir(parents=True, exist_ok=True)
        for name in SHARED_IN_HOME:
            if (shared / name).exists() and not (home / name).exists():
                (home / name).symlink_to(shared / name)
        os.environ["COURSE_HOME"] = str(home)


def xdist_scope(nodeid: str) -> str:
    """Which tests a worker takes together: an exercise's (they share its assign output
    and, for 04, an in-process vLLM engine), else a module's (module fixtures, e.g. a
    class graded once).

    >>> xdist_scope("tests/grading/test_exercises.py::test_wrong_answers_lose_points[04_vllm-q1]")
    '04_vllm'
    >>> xdist_scope("tests/grading/test_class.py::test_nothing_was_graded_twice")
    'tests/grading/test_class.py'
    """
    module, _, name = nodeid.partition("::")
    if module.endswith("grading/test_exercises.py") and name.endswith("]"):
        return re.sub(r"-q\d+$", "", name[name.index("[") + 1 : -1])
    return module


def pytest_xdist_make_scheduler(config, log):
    """A run on several workers (``-n N``): whole scopes (above) to each worker. xdist's own
    ``--dist loadgroup`` marks do not group under pytest 9 (xdist 3.8 renames
    ``item._nodeid``, which pytest 9 no longer reads), so the grouping is done here."""
    from xdist.scheduler import LoadScopeScheduling

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
    on a free port.
    """
    from course_lib import config, engines
    from course_lib.vllm_tools.server import installed_engine

    if installed_engine() is not None:
        request.getfixturevalue("vllm_base_url")
        yield config.ollama_url()
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OLLAMA_HOST", f"127.0.0.1:{free_port()}")
        with engines.running():
            yield config.ollama_url()
