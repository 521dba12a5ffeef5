import os

import pytest
import torch

from ganvq.data import load_dataset


@pytest.fixture(scope="session", autouse=True)
def isolated_metrics_cache(tmp_path_factory):
    """Reference statistics go to a fresh cache folder for the session, never the user's."""
    old = os.environ.get("GANVQ_CACHE")
    os.environ["GANVQ_CACHE"] = str(tmp_path_factory.mktemp("ganvq-cache"))
    yield
    if old is None:
        os.environ.pop("GANVQ_CACHE", None)
    else:
        os.environ["GANVQ_CACHE"] = old


@pytest.fixture(scope="session")
def fmnist_test() -> torch.Tensor:
    """All 10,000 Fashion-MNIST test images, uint8 (N, 1, 28, 28)."""
    return load_dataset("fashion-mnist", "test").images


@pytest.fixture(scope="session")
def fmnist_test_labels() -> torch.Tensor:
    return load_dataset("fashion-mnist", "test").labels


@pytest.fixture(scope="session")
def fmnist_train() -> torch.Tensor:
    return load_dataset("fashion-mnist", "train").images


@pytest.fixture(scope="session")
def fmnist_train_labels() -> torch.Tensor:
    return load_dataset("fashion-mnist", "train").labels
