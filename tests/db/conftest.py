import pytest


@pytest.fixture(scope="module", autouse=True)
def _single_threaded(one_thread):
    """Every test here runs with one torch thread (see the root conftest's `one_thread`)."""
    yield


@pytest.fixture(scope="session")
def images():
    """The first 40 Fashion-MNIST test images and labels: uint8 (40, 1, 28, 28), int64 (40,)."""
    from ganvq.data import load_dataset

    data = load_dataset("fashion-mnist", "test", limit=40)
    return data.images, data.labels.numpy()


@pytest.fixture(scope="session")
def codec(tiny_local_prior_run):
    from ganvq.codec import Codec

    return Codec.from_checkpoint(tiny_local_prior_run)


@pytest.fixture
def make_db(tmp_path, tiny_local_prior_run, codec, images):
    """A new archive of the 40 images, added in commits of 16 (3 segments); returns its path."""
    from ganvq.db import ImageDB

    def make(name: str = "lib.gvqdb", n: int = 40, batch: int = 16):
        path = tmp_path / name
        x, y = images
        with ImageDB.create(path, tiny_local_prior_run, codec=codec) as db:
            db.add(x[:n], y[:n], names=[f"test/{i:03d}" for i in range(n)], batch=batch)
        return path

    return make
