import pytest


@pytest.fixture(scope="module", autouse=True)
def _single_threaded(one_thread):
    """Every test here runs with one torch thread (see the root conftest's `one_thread`)."""
    yield


@pytest.fixture(scope="session")
def codec(tiny_prior_run):
    from ganvq.codec import Codec

    return Codec.from_checkpoint(tiny_prior_run)


@pytest.fixture(scope="session")
def test_images():
    """The first 40 Fashion-MNIST test images, uint8 (40, 1, 28, 28)."""
    from ganvq.data import load_dataset

    return load_dataset("fashion-mnist", "test", limit=40).images
