"""Right and plausible wrong answers for every question, run against its real tests.

One module per exercise (``exNN.py``), each with its ``CASES``:
(exercise, question) -> (name the tests call, right answer, wrong answers).
A wrong answer is a mistake a learner could make; each must lose points. A wrong
answer marked ``@caught_publicly`` must also fail the question's public checks.
A module may define ``shared(question, request)``: the other names its tests use
(fixtures come through pytest's ``request``).
"""

from __future__ import annotations

import importlib
import pkgutil

from .marks import caught_publicly

CASES: dict = {}
SHARED: dict = {}  # exercise -> shared(question, request): the other names its tests use
for _name in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("ex")):
    _module = importlib.import_module(f"{__name__}.{_name}")
    CASES.update(_module.CASES)
    if hasattr(_module, "shared"):
        SHARED.update({exercise: _module.shared for exercise, _ in _module.CASES})

__all__ = ["CASES", "SHARED", "caught_publicly"]
