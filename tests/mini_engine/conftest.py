"""The mini engine's model, loaded once for this folder (float32, ~0.5 GiB)."""

import pytest


@pytest.fixture(scope="session")
def model():
    from course_lib import mini_engine as me

    return me.Model()


@pytest.fixture(scope="session")
def tokenizer():
    from course_lib import mini_engine as me

    return me.Tokenizer()
