import csv
import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from ganvq.commands.sample import interpolate, latents, sample, slerp, write_samples
from ganvq.errors import GanvqError
from ganvq.models.gan import GANConfig
from ganvq.runs import GANOptions, GANRunConfig, TrainConfig
from ganvq.train.gan import train_gan


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny conditional and a tiny unconditional GAN, trained once for this module's tests."""
    config = GANRunConfig(
        model=GANConfig(arch="dcgan", d_norm="sn", z_dim=16, g_width=8, d_width=8),
        train=TrainConfig(steps=4, batch_size=16, lr=2e-4, precision="fp32", ckpt_every=100, eval_images=0),
        gan=GANOptions(loss="hinge", ema_decay=0.9, sample_every=0),
        limit=128,
    )
    root = tmp_path_factory.mktemp("gan-runs")
    train_gan(config, root / "cond", quiet=True)
    train_gan(dataclasses.replace(config, gan=dataclasses.replace(config.gan, conditional=False)), root / "uncond",
              quiet=True)
    return root


def test_sample_export_writes_exactly_n_readable_pngs_and_their_labels(runs, tmp_path):
    out = tmp_path / "library"
    result = write_samples(runs / "cond", n=23, seed=1, out_dir=out)
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == 23 and result["images"] == 23
    for p in pngs:
        with Image.open(p) as img:
            assert img.size == (28, 28) and img.mode == "L"
            np.asarray(img)  # decodes fully
    with open(out / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["file"] for r in rows] == [p.name for p in pngs]
    assert [int(r["label"]) for r in rows] == [i % 10 for i in range(23)]  # classes in turn: balanced
    assert rows[0]["class_name"] == "T-shirt/top"
    assert not list(tmp_path.glob(".*partial"))  # the temporary folder was renamed, not left behind


def test_exported_pngs_are_the_sampled_images(runs, tmp_path):
    images, _ = sample(runs / "uncond", 5, seed=3)
    write_samples(runs / "uncond", n=5, seed=3, out_dir=tmp_path / "lib")
    for i, img in enumerate(images):
        assert np.array_equal(np.asarray(Image.open(tmp_path / "lib" / f"{i:05d}.png")), img[0].numpy())
    assert not (tmp_path / "lib" / "labels.csv").exists()  # no labels for an unconditional model


def test_conditional_sampling_yields_the_requested_class(runs):
    images, labels = sample(runs / "cond", 12, seed=0, class_=3)
    assert images.dtype == torch.uint8 and images.shape == (12, 1, 28, 28)
    assert labels.tolist() == [3] * 12
    other, _ = sample(runs / "cond", 12, seed=0, class_=4)
    assert not torch.equal(images, other)  # same latents, another class: G really conditions on it


def test_sampling_is_reproducible_from_the_seed(runs):
    a, _ = sample(runs / "cond", 8, seed=5)
    b, _ = sample(runs / "cond", 8, seed=5)
    c, _ = sample(runs / "cond", 8, seed=6)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_truncation_keeps_every_latent_entry_within_the_threshold():
    z = latents(1000, 16, torch.Generator().manual_seed(0), truncation=0.5)
    assert z.abs().max() <= 0.5 and z.std() > 0.2
    with pytest.raises(GanvqError, match="positive"):
        latents(2, 2, torch.Generator(), truncation=0)


def test_class_requests_are_checked(runs, tmp_path):
    with pytest.raises(GanvqError, match="without labels"):
        sample(runs / "uncond", 4, class_=1)
    with pytest.raises(GanvqError, match=r"\[0, 9\]"):
        sample(runs / "cond", 4, class_=10)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.png").write_bytes(b"")
    with pytest.raises(GanvqError, match="not an empty folder"):
        write_samples(runs / "cond", n=2, out_dir=tmp_path / "full")


def test_grid_export_writes_one_png(runs, tmp_path):
    write_samples(runs / "cond", n=20, out=tmp_path / "grid.png")
    with Image.open(tmp_path / "grid.png") as img:
        assert img.size == (2 * (10 * 30 + 2), 2 * (2 * 30 + 2))  # 10 columns (one per class), 2 rows, upscaled 2x


def test_slerp_starts_and_ends_at_the_endpoints_and_keeps_the_norm_of_equal_norm_latents():
    a, b = torch.randn(3, 8), torch.randn(3, 8)
    b = b / b.norm(dim=1, keepdim=True) * a.norm(dim=1, keepdim=True)
    path = slerp(a, b, torch.linspace(0, 1, 5))
    torch.testing.assert_close(path[:, 0], a)
    torch.testing.assert_close(path[:, -1], b)
    torch.testing.assert_close(path.norm(dim=2), a.norm(dim=1, keepdim=True).expand(3, 5))


def test_interpolate_writes_a_rows_by_steps_grid(runs, tmp_path):
    interpolate(runs / "cond", tmp_path / "walk.png", rows=3, steps=6, class_=2)
    with Image.open(tmp_path / "walk.png") as img:
        assert img.size == (2 * (6 * 30 + 2), 2 * (3 * 30 + 2))


def test_one_sample_command_serves_gans_and_priors_and_refuses_the_other_kinds_options(runs, tiny_prior_run, tmp_path):
    from ganvq.cli import main

    assert main(["sample", "--ckpt", str(tiny_prior_run), "--n", "4", "--out", str(tmp_path / "p.png")]) == 0
    assert Image.open(tmp_path / "p.png").size[0] > 28
    with pytest.raises(GanvqError, match="--truncation applies to a GAN"):
        write_samples(tiny_prior_run, n=2, out=tmp_path / "q.png", truncation=1.0)
    gan = runs / "cond"
    with pytest.raises(GanvqError, match="--temperature and --top-k apply to a prior"):
        write_samples(gan, n=2, out=tmp_path / "g.png", top_k=5)


def test_sampling_the_last_weights_uses_g_not_its_ema(runs):
    from ganvq.commands.sample import _generate
    from ganvq.runs import load_gan

    ema, _ = sample(runs / "cond", 8, seed=2)
    last, labels = sample(runs / "cond", 8, seed=2, ema=False)
    G, config = load_gan(runs / "cond", ema=False)
    z = latents(8, config.model.z_dim, torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert torch.equal(last, _generate(G, z, labels))  # G's own weights
    assert not torch.equal(ema, last)  # 4 steps at EMA decay 0.9 leave the two apart
