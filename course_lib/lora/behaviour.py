"""What each adapter does to an answer, as a check a test or a lesson can run.

Training targets and checks come from one place: ``pirate`` puts "Arr, matey!" in
front of the base model's own answer, ``robot`` puts "BEEP BOOP." in front of it.
"""

from __future__ import annotations

OPENINGS = {"pirate": "Arr, matey!", "robot": "BEEP BOOP."}


def restyle(name: str, answer: str) -> str:
    """The answer an adapter was trained to give, from the base model's answer."""
    if name not in OPENINGS:
        raise ValueError(f"no adapter {name!r}")
    return f"{OPENINGS[name]} {answer}"


def shows(name: str, answer: str) -> bool:
    """Whether ``answer`` opens the way adapter ``name`` was trained to (its first word)."""
    if name not in OPENINGS:
        raise ValueError(f"no adapter {name!r}")
    first_word = OPENINGS[name].split()[0].strip(",.!").lower()
    return answer.lstrip().lower().startswith(first_word)
