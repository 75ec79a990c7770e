"""One secret key per learner, made once and kept in ``COURSE_HOME/class/keys.json``.

A learner sends their key to the gateway (``Authorization: Bearer KEY``); the gateway
knows who is asking from the key alone. Keys are made once: running ``issue`` again
with the same or a longer roster keeps every key already handed out. A revoked key
stays in the file, marked, so that the gateway can say it was revoked (and log whose
it was) instead of calling it unknown; a revoked learner gets no new key by re-running.

The instructor has a key too, under the name ``instructor``: the gateway admits and
logs it like a learner's but never rate-limits it, so that a benchmark can be run
through the gateway (``course bench gateway``).
"""

from __future__ import annotations

import csv
import json
import secrets
from collections.abc import Iterable
from pathlib import Path

from ..private_file import write_private
from . import class_home
from .roster import INSTRUCTOR, Learner, RosterError, check_name


def keys_file() -> Path:
    return class_home() / "keys.json"


def load() -> dict[str, dict]:
    """Every learner's record: ``{"key": ..., "revoked": bool, "email": ...}``."""
    try:
        return json.loads(keys_file().read_text())["learners"]
    except FileNotFoundError:
        return {}


def _save(records: dict[str, dict]) -> None:
    """Write the keys file atomically, readable by its owner only (it holds secrets)."""
    write_private(keys_file(), json.dumps({"learners": records}, indent=1, sort_keys=True))


def issue(learners: Iterable[Learner]) -> dict[str, dict]:
    """Give each learner a key unless they have one (revoked or not); return all records."""
    records = load()
    for learner in learners:
        records.setdefault(learner.name, {"key": secrets.token_urlsafe(32), "revoked": False, "email": learner.email})
    _save(records)
    return records


def issue_instructor() -> str:
    """The instructor's key, made on first use and kept like a learner's."""
    return issue([Learner(INSTRUCTOR)])[INSTRUCTOR]["key"]


def active() -> dict[str, str]:
    """Key → learner for every key the gateway admits."""
    return {record["key"]: name for name, record in load().items() if not record["revoked"]}


def revoked() -> dict[str, str]:
    """Key → learner for every revoked key (refused, but still known)."""
    return {record["key"]: name for name, record in load().items() if record["revoked"]}


def revoke(learner: str) -> None:
    """Mark ``learner``'s key as revoked (the gateway refuses it once reloaded)."""
    records = load()
    if check_name(learner) not in records:
        raise RosterError(f"no key was issued to {learner!r} (learners with keys: {', '.join(sorted(records)) or 'none'})")
    records[learner]["revoked"] = True
    _save(records)


def write_handout(path: Path, records: dict[str, dict]) -> None:
    """A CSV roster with each learner's key (``learner,email,key``) to hand the keys out;
    revoked learners are left out."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["learner", "email", "key"])
        for name, record in sorted(records.items()):
            if not record["revoked"]:
                writer.writerow([name, record.get("email", ""), record["key"]])
    path.chmod(0o600)
