import pytest
import torch

from ganvq.errors import GanvqError
from ganvq.metrics.score import fid_between, format_scores, score_samples


def test_fid_of_real_train_images_is_small_and_of_noise_large(fmnist_train, fmnist_test):
    real_vs_real = fid_between(fmnist_train[:5000], fmnist_test[:5000])
    noise = torch.randint(0, 256, (5000, 1, 28, 28), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    real_vs_noise = fid_between(fmnist_test[:5000], noise)
    assert real_vs_real < 2.0 and real_vs_noise > 100 * real_vs_real


def test_score_samples_ranks_real_data_above_one_class_and_is_reproducible(fmnist_train, fmnist_train_labels, tmp_path):
    labels = fmnist_train_labels
    real = fmnist_train[-2000:]
    one_class = fmnist_train[labels == 7][:2000]
    kw = dict(n_ref=2000, kid_subsets=10, kid_subset_size=500, seed=0)
    good = score_samples(real, **kw, pairs_png=tmp_path / "pairs.png")
    again = score_samples(real, **kw)
    bad = score_samples(one_class, **kw, audit=False)
    assert good["fid"] < bad["fid"] / 10
    assert good["recall"] > 0.5 > bad["recall"] and good["coverage"] > bad["coverage"]
    assert good["class_coverage"] == 10 and bad["class_coverage"] <= 2
    assert good["label_entropy"] > 0.95 * good["label_entropy_max"] > bad["label_entropy"]
    # Training images themselves: the audit must call them copies.
    assert good["memorization"]["closer_than_test_q0.01_fraction"] == 1.0
    assert good["memorization"]["likely_copy_fraction"] == 1.0
    assert (tmp_path / "pairs.png").is_file()
    for key in ("fid", "kid_mean", "kid_std", "precision", "recall", "density", "coverage"):
        assert good[key] == again[key], key
    assert good["extractor"] == "ganvq-fmnist-cnn-v1"


def test_score_samples_rejects_float_images_and_tiny_sets():
    with pytest.raises(GanvqError, match="uint8"):
        score_samples(torch.zeros(10, 1, 28, 28))
    with pytest.raises(GanvqError, match="more than"):
        score_samples(torch.zeros(3, 1, 28, 28, dtype=torch.uint8))


def test_a_reference_of_too_few_images_is_a_one_line_error(tmp_path, monkeypatch):
    import numpy as np

    monkeypatch.setenv("GANVQ_CACHE", str(tmp_path / "cache"))
    np.savez(tmp_path / "few.npz", x_train=np.zeros((40, 28, 28), np.uint8), x_test=np.zeros((5, 28, 28), np.uint8))
    with pytest.raises(GanvqError, match=r"scoring needs more than 5 reference images, and the reference, .*holds 5"):
        score_samples(torch.zeros(20, 1, 28, 28, dtype=torch.uint8), str(tmp_path / "few.npz"), audit=False)


def test_a_small_training_set_gets_the_fid_of_copying_it(fmnist_train):
    subset = fmnist_train[:50]
    copies = subset.repeat(20, 1, 1, 1)[:999]  # what a generator that copies its 50 training images would draw
    kw = dict(n_ref=2000, kid_subsets=10, kid_subset_size=500, seed=0)
    scored = score_samples(copies, **kw, train_subset=subset)
    mem = scored["memorization"]
    assert mem["copy_fid"] == pytest.approx(scored["fid"], rel=1e-6)  # the samples are that copy, repeated alike
    assert mem["closer_than_test_q0.01_fraction"] == 1.0 and any("score FID" in n for n in scored["notes"])
    other = score_samples(fmnist_train[-999:], **kw, train_subset=subset)
    assert other["memorization"]["copy_fid"] == pytest.approx(mem["copy_fid"], rel=1e-6)  # the training set's, only
    assert other["fid"] < mem["copy_fid"]  # 999 varied real images beat 50 repeated ones
    whole = score_samples(fmnist_train[-200:], **kw, train_subset=fmnist_train[:500])
    assert "copy_fid" not in whole["memorization"]  # more training images than samples: no such copy to score


def test_flat_samples_of_a_noise_dataset_are_close_but_called_no_copies(tmp_path, monkeypatch):
    import numpy as np

    monkeypatch.setenv("GANVQ_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "noise.npz", x_train=rng.integers(0, 256, (200, 28, 28), dtype=np.uint8),
             x_test=rng.integers(0, 256, (300, 28, 28), dtype=np.uint8))
    grey = torch.full((100, 1, 28, 28), 128, dtype=torch.uint8)
    scored = score_samples(grey, str(tmp_path / "noise.npz"), kid_subsets=2, kid_subset_size=50, seed=0)
    mem = scored["memorization"]
    assert mem["closer_than_test_q0.01_fraction"] == 1.0 and mem["likely_copy_fraction"] == 0.0
    assert any("such as averages, not copies of one; likely copies 0.0%" in n for n in scored["notes"])
    assert "likely copies" in format_scores(scored)


def test_the_audit_is_skipped_with_a_note_when_too_few_images_are_held_out(tmp_path, monkeypatch):
    import numpy as np

    monkeypatch.setenv("GANVQ_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "small.npz", x_train=rng.integers(0, 256, (54, 28, 28), dtype=np.uint8),
             x_test=rng.integers(0, 256, (60, 28, 28), dtype=np.uint8))
    scored = score_samples(torch.full((100, 1, 28, 28), 128, dtype=torch.uint8), str(tmp_path / "small.npz"),
                           kid_subsets=2, kid_subset_size=50, seed=0)
    assert "memorization" not in scored
    assert any("memorization audit skipped: only 60 held-out images; its yardstick, the closest 1% of held-out "
               "images, needs at least 100" in n for n in scored["notes"])
