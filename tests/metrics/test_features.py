import hashlib

import pytest
import torch

from ganvq.errors import GanvqError
from ganvq.metrics.features import CNN_FILE, CNN_NAME, CNN_SHA256, get_extractor, load_cnn, tf_bilinear_resize


def test_shipped_extractor_is_small_and_matches_its_published_sha256():
    assert CNN_FILE.stat().st_size < 2 * 2**20
    assert hashlib.sha256(CNN_FILE.read_bytes()).hexdigest() == CNN_SHA256


def test_extractor_classifies_fashion_mnist_test_with_at_least_92_percent_accuracy(fmnist_test, fmnist_test_labels):
    _, predicted = get_extractor("ganvq")(fmnist_test)
    accuracy = float((predicted == fmnist_test_labels).float().mean())
    assert accuracy >= 0.92, accuracy


def test_tampered_weights_are_refused(tmp_path):
    bad = tmp_path / "w.safetensors"
    data = bytearray(CNN_FILE.read_bytes())
    data[-1] ^= 1
    bad.write_bytes(bytes(data))
    with pytest.raises(GanvqError, match="SHA-256"):
        load_cnn(bad)


def test_features_are_deterministic_and_rgb_input_uses_luma(fmnist_test):
    extractor = get_extractor("ganvq")
    x = fmnist_test[:64]
    f1, l1 = extractor(x)
    f2, l2 = extractor(x)
    assert extractor.name == CNN_NAME and f1.shape == (64, 128)
    assert torch.equal(f1, f2) and torch.equal(l1, l2)
    f_rgb, _ = extractor(x.repeat(1, 3, 1, 1))  # gray as RGB: the same luma, so the same features
    assert torch.allclose(f_rgb, f1, atol=1e-4)


def test_unknown_extractor_or_missing_inception_extra_gives_a_clear_error():
    with pytest.raises(GanvqError, match="unknown feature extractor"):
        get_extractor("vgg")


def test_tf_bilinear_resize_keeps_constant_images_constant_and_has_the_target_size():
    x = torch.full((2, 3, 28, 28), 0.25)
    y = tf_bilinear_resize(x, 299)
    assert y.shape == (2, 3, 299, 299) and torch.allclose(y, torch.full_like(y, 0.25))
