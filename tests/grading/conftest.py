"""How ``make test`` shares the grading tests between two xdist workers (``--dist
loadgroup``): the tests of one exercise stay together (they share its assign output and,
for 04, an in-process vLLM engine), and so do the tests of any other module (their
module fixtures grade a whole class once). Without xdist the marks change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def _group(item) -> str:
    params = getattr(getattr(item, "callspec", None), "params", {})
    if "master" in params:
        return params["master"].stem
    if "key" in params:
        return params["key"][0]
    return item.path.stem


@pytest.hookimpl(tryfirst=True)  # before xdist reads the marks
def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if HERE in item.path.parents:  # a conftest hook sees the whole session's items
            item.add_marker(pytest.mark.xdist_group(_group(item)))
