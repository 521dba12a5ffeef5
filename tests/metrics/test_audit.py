import torch

from ganvq.metrics.audit import audit_reference, memorization_audit, nearest_neighbours, neighbour_distances


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


def test_neighbour_distances_are_the_k_smallest_nearest_first_and_k_is_capped_by_the_references():
    g = torch.Generator().manual_seed(1)
    queries = torch.randint(0, 256, (7, 1, 6, 6), generator=g, dtype=torch.uint8)
    refs = torch.randint(0, 256, (30, 1, 6, 6), generator=g, dtype=torch.uint8)
    d, idx = neighbour_distances(queries, refs, 5)
    every = (queries.flatten(1).float()[:, None] - refs.flatten(1).float()[None]).div(255).square().mean(2).sqrt()
    torch.testing.assert_close(d, every.sort(1).values[:, :5], rtol=1e-4, atol=1e-5)
    assert idx.tolist() == every.argmin(1).tolist()
    assert neighbour_distances(queries, refs[:3], 50)[0].shape == (7, 3)


def test_copies_of_training_images_are_flagged_and_fresh_samples_are_not(fmnist_train, fmnist_test):
    train, test = fmnist_train[:5000], fmnist_test[:500]
    reference = audit_reference(test, train)
    copies = train[:200]
    summary, d, _ = memorization_audit(copies, train, reference)
    assert summary["closer_than_test_q0.01_fraction"] == 1.0 and summary["median_ratio"] == 0.0
    assert summary["likely_copy_fraction"] == 1.0 and summary["sample_relative_median"] == 0.0
    noisy = (copies.float() + 8 * torch.randn(copies.shape, generator=torch.Generator().manual_seed(0)))
    summary, _, _ = memorization_audit(noisy.clamp(0, 255).to(torch.uint8), train, reference)
    assert summary["likely_copy_fraction"] > 0.95  # a copy with a little noise is still a copy
    fresh = fmnist_test[500:700]  # unseen real images behave like the held-out test images
    summary, _, _ = memorization_audit(fresh, train, reference)
    assert summary["closer_than_test_q0.01_fraction"] < 0.05 and summary["likely_copy_fraction"] < 0.03
    assert 0.8 < summary["median_ratio"] < 1.25
    assert 0.9 < summary["sample_relative_median"] / summary["test_relative_median"] < 1.1


def test_an_average_image_near_every_training_image_is_close_but_no_copy():
    # Among noise images the flat mean is nearer to each of them than they are to each other: plain closeness
    # calls it a copy; relative to its other nearest training images it is not nearer one than the rest.
    g = torch.Generator().manual_seed(0)
    train = torch.randint(0, 256, (100, 1, 28, 28), generator=g, dtype=torch.uint8)
    test = torch.randint(0, 256, (1000, 1, 28, 28), generator=g, dtype=torch.uint8)
    grey = torch.full((64, 1, 28, 28), 128, dtype=torch.uint8)
    summary, _, _ = memorization_audit(grey, train, audit_reference(test, train))
    assert summary["closer_than_test_q0.01_fraction"] == 1.0
    assert summary["relative_closer_than_test_q0.01_fraction"] == 0.0 and summary["likely_copy_fraction"] == 0.0
    summary, _, _ = memorization_audit(train[:30], train, audit_reference(test, train))
    assert summary["likely_copy_fraction"] == 1.0


def test_a_copy_of_an_image_the_training_set_repeats_is_still_a_copy():
    g = torch.Generator().manual_seed(2)
    image = torch.randint(0, 256, (1, 1, 8, 8), generator=g, dtype=torch.uint8)
    train = image.repeat(60, 1, 1, 1)  # every one of its 50 nearest is at distance 0
    test = torch.randint(0, 256, (40, 1, 8, 8), generator=g, dtype=torch.uint8)
    summary, _, _ = memorization_audit(image.repeat(5, 1, 1, 1), train, audit_reference(test, train))
    assert summary["sample_relative_median"] == 0.0 and summary["likely_copy_fraction"] == 1.0
