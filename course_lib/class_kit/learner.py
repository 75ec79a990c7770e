"""What each learner's server gets when the hub starts it: the course and their key.

The hub's generated configuration calls these at spawn time. A learner's home
(``COURSE_HOME/class/homes/NAME``) receives the ``notebooks/`` and ``exercises/``
folders at first spawn and keeps its own edits afterwards. Their server's environment
holds the gateway's URL (``COURSE_SERVER``) and their own key (``COURSE_KEY``), which
is all ``course_lib.config`` needs to send every request through the gateway; it never
starts an engine of its own.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from . import class_home, keys

ROOT = Path(__file__).resolve().parents[2]
COURSE_FOLDERS = ("notebooks", "exercises")


def homes() -> Path:
    return class_home() / "homes"


def home(name: str) -> Path:
    return homes() / name


def copy_course(spawner) -> None:
    """JupyterHub's ``pre_spawn_hook``: the course's folders into the learner's home,
    each only if it is not there yet (a learner's edits are never overwritten)."""
    target = home(spawner.user.name)
    target.mkdir(parents=True, exist_ok=True)
    for name in COURSE_FOLDERS:
        if not (target / name).exists() and (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, target / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))


def key_of(name: str) -> str:
    """The learner's key; a name without one cannot get a server (KeyError says so)."""
    record = keys.load().get(name)
    if record is None:
        raise KeyError(f"no key was issued to {name!r}: add them to the roster and run `course class up` again")
    return record["key"]


def environment(gateway_url: str) -> dict[str, str | Callable]:
    """``Spawner.environment``: the course importable, the gateway and the learner's key,
    and a COURSE_HOME of the learner's own (their runs and caches, not the instructor's)."""
    return {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "/usr/bin:/bin")]),
        "PYTHONPATH": str(ROOT),
        "COURSE_SERVER": gateway_url,
        "COURSE_KEY": lambda spawner: key_of(spawner.user.name),
        "COURSE_HOME": lambda spawner: str(home(spawner.user.name) / ".course"),
    }
