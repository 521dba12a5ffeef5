import pytest


@pytest.fixture(scope="module", autouse=True)
def _single_threaded(one_thread):
    """Every test here runs with one torch thread (see the root conftest's `one_thread`)."""
    yield
