import pytest


@pytest.fixture(scope="module", autouse=True)
def _single_threaded(one_thread):
    """Every test here runs with one torch thread (see the root conftest's `one_thread`)."""
    yield


@pytest.fixture(scope="session", params=["transformer", "local"])
def prior_run(request):
    """A tiny trained prior run folder of each kind: every codec test runs with both."""
    return request.getfixturevalue("tiny_prior_run" if request.param == "transformer" else "tiny_local_prior_run")


@pytest.fixture(scope="session")
def codec(prior_run):
    from ganvq.codec import Codec

    return Codec.from_checkpoint(prior_run)


@pytest.fixture(scope="session")
def test_images():
    """The first 40 Fashion-MNIST test images, uint8 (40, 1, 28, 28)."""
    from ganvq.data import load_dataset

    return load_dataset("fashion-mnist", "test", limit=40).images
