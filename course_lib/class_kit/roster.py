"""A class's roster: who the learners are, read from the instructor's CSV file.

The file has a header line with a ``learner`` column (an ``email`` column is optional).
A learner's name is also their JupyterHub username, so it must be one JupyterHub
accepts as it is: lowercase letters, digits, ``.``, ``_`` and ``-``, starting with a
letter or digit. Any mistake is a ``RosterError`` naming the line, never a traceback.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
#: The instructor's name: a roster may not use it (the gateway never rate-limits it).
INSTRUCTOR = "instructor"
RULE = "lowercase letters, digits, '.', '_' and '-', starting with a letter or digit, at most 64 characters"


class RosterError(ValueError):
    """The roster cannot be read; the message names the file, the line and the fix."""


@dataclass(frozen=True)
class Learner:
    name: str
    email: str = ""


def check_name(name: str) -> str:
    """``name`` when it is a valid learner (JupyterHub user) name, else RosterError.

    >>> check_name("ada.lovelace")
    'ada.lovelace'
    >>> check_name("Ada")
    Traceback (most recent call last):
    ...
    course_lib.class_kit.roster.RosterError: 'Ada' is not a valid learner name: use lowercase letters, digits, '.', '_' and '-', starting with a letter or digit, at most 64 characters
    """
    if not NAME.fullmatch(name):
        raise RosterError(f"{name!r} is not a valid learner name: use {RULE}")
    return name


def read(path: Path) -> list[Learner]:
    """The learners of the roster CSV at ``path``, in file order."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RosterError(f"{path}: no such roster file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise RosterError(f"{path}: cannot be read as a UTF-8 text file ({error})") from None
    rows = csv.reader(text.splitlines())
    header = [cell.strip().lower() for cell in next(rows, [])]
    if "learner" not in header:
        raise RosterError(f"{path}, line 1: the header needs a 'learner' column (found: {', '.join(header) or 'nothing'})")
    column, email = header.index("learner"), header.index("email") if "email" in header else None
    learners: dict[str, Learner] = {}
    for line, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue  # blank lines are allowed
        if len(row) != len(header):
            raise RosterError(f"{path}, line {line}: {len(row)} fields where the header has {len(header)}")
        name = row[column].strip()
        try:
            check_name(name)
        except RosterError as error:
            raise RosterError(f"{path}, line {line}: {error}") from None
        if name == INSTRUCTOR:
            raise RosterError(f"{path}, line {line}: {INSTRUCTOR!r} is the instructor's own name; give the learner another")
        if name in learners:
            raise RosterError(f"{path}, line {line}: learner {name!r} is listed twice")
        learners[name] = Learner(name, row[email].strip() if email is not None else "")
    if not learners:
        raise RosterError(f"{path}: no learners below the header")
    return list(learners.values())
