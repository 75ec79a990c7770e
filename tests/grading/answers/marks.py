"""How a wrong answer says which checks must catch it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)


def caught_publicly(wrong: F) -> F:
    """Mark a wrong answer that the question's *public* checks must already fail
    (the mistake is the question's main requirement, or one the lesson warns about),
    so that ``grader.check`` tells the learner before grading does."""
    wrong.caught_publicly = True
    return wrong
