"""vLLM's own log kept out of a notebook that imports vLLM's code in process.

Importing vLLM prints INFO and WARNING lines (platform detection, "Triton is installed,
but doesn't include CPU backend", FutureWarnings) that bury a cell's results and look
like errors to a newcomer; on the CPU they are harmless. vLLM reads its logging level
once, at import (``VLLM_LOGGING_LEVEL``), so it is set before the first import; what
is printed during the import itself is kept in ``IMPORT_LOG``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings

IMPORT_LOG = io.StringIO()


def import_vllm_quietly() -> None:
    """Import vllm with its log at ERROR level, once; later calls do nothing."""
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")
    with warnings.catch_warnings(), contextlib.redirect_stderr(IMPORT_LOG), contextlib.redirect_stdout(IMPORT_LOG):
        warnings.simplefilter("ignore")
        import vllm  # noqa: F401
    logging.getLogger("vllm").setLevel(logging.ERROR)
