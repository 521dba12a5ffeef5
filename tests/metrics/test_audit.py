import torch

from ganvq.metrics.audit import memorization_audit, nearest_neighbours


def test_nearest_neighbour_finds_the_copied_image_at_distance_zero():
    g = torch.Generator().manual_seed(0)
    train = torch.randint(0, 256, (300, 1, 8, 8), generator=g, dtype=torch.uint8)
    d, idx = nearest_neighbours(train[[17, 42]], train)
    assert idx.tolist() == [17, 42] and d.tolist() == [0.0, 0.0]


def test_nearest_neighbour_distance_is_rms_pixel_distance():
    a = torch.zeros(1, 1, 2, 2, dtype=torch.uint8)
    b = torch.full((1, 1, 2, 2), 255, dtype=torch.uint8)
    d, _ = nearest_neighbours(a, b)
    assert float(d) == 1.0


def test_copies_of_training_images_are_flagged_and_fresh_samples_are_not(fmnist_train, fmnist_test):
    train, test = fmnist_train[:5000], fmnist_test[:500]
    test_nn, _ = nearest_neighbours(test, train)
    copies = train[:200]
    summary, d, _ = memorization_audit(copies, train, test_nn)
    assert summary["closer_than_test_q0.01_fraction"] == 1.0 and summary["median_ratio"] == 0.0
    fresh = fmnist_test[500:700]  # unseen real images behave like the held-out test images
    summary, _, _ = memorization_audit(fresh, train, test_nn)
    assert summary["closer_than_test_q0.01_fraction"] < 0.05
    assert 0.8 < summary["median_ratio"] < 1.25
