"""Small-data GAN training: the balanced --subset a run trains on, and where DiffAugment is (and is not) applied."""

import dataclasses
import json

import torch

from ganvq.commands.membership import candidates
from ganvq.commands.sample import latents, sample
from ganvq.data import load_dataset
from ganvq.images import to_uint8_image
from ganvq.runs import gan_preset, load_gan, open_run
from ganvq.train import gan as gan_train
from ganvq.train.gan import GANTask, train_gan


def _subset(config, n=20, seed=3):
    return dataclasses.replace(config, subset=n, subset_seed=seed)


def _spied_d_step(task: GANTask):
    """One D step of `task` with hooks on D's inputs and G's outputs: (seen_by_d, made_by_g, the real batch drawn).
    The lists keep filling on later steps."""
    seen_by_d, made_by_g = [], []
    task.D.register_forward_pre_hook(lambda m, args: seen_by_d.append(args[0].detach().clone()))
    task.G.register_forward_hook(lambda m, args, out: made_by_g.append(out.detach().float().clone()))
    state = task.batches.state_dict()
    task._d_step()
    task.batches.load_state_dict(state)
    real, _ = task.batches.next_batch()
    return seen_by_d, made_by_g, real


def test_a_subset_run_trains_on_the_balanced_subset_its_seed_draws_and_stores_it(tmp_path, tiny_gan_config):
    config = _subset(tiny_gan_config)
    task = GANTask(config)
    expected = load_dataset("fashion-mnist", "train", limit=256).balanced(20, 3)
    assert torch.equal(task.batches.images, expected.images) and torch.equal(task.batches.labels, expected.labels)
    assert torch.bincount(task.batches.labels, minlength=10).tolist() == [2] * 10
    assert not torch.equal(GANTask(_subset(tiny_gan_config, seed=4)).batches.images, expected.images)
    train_gan(dataclasses.replace(config, train=dataclasses.replace(config.train, steps=2)), tmp_path, quiet=True)
    stored = json.loads((tmp_path / "config.json").read_text())
    assert (stored["subset"], stored["subset_seed"], stored["limit"]) == (20, 3, 256)
    # the membership audit's members are those 20 images, not the 256 of --limit
    members, labels, _ = candidates(open_run(tmp_path, "gan"), "train")
    assert torch.equal(members, expected.images) and torch.equal(labels, expected.labels)


def test_diffaugment_reaches_d_on_real_and_fake_images_alike(tiny_gan_config, monkeypatch):
    task = GANTask(_subset(tiny_gan_config))
    calls = []
    real_augment = gan_train.diff_augment

    def spy(x, *args):
        out = real_augment(x, *args)
        calls.append((x.detach().clone(), out.detach().clone()))
        return out

    monkeypatch.setattr(gan_train, "diff_augment", spy)
    seen_by_d, made_by_g, real = _spied_d_step(task)
    (real_in, real_out), (fake_in, fake_out) = calls
    assert torch.equal(real_in, real) and torch.equal(fake_in, made_by_g[0])  # both players' images augmented
    assert not torch.equal(real_out, real_in) and not torch.equal(fake_out, fake_in)
    assert torch.equal(seen_by_d[0], torch.cat([real_out, fake_out]))  # and D sees only the augmented ones
    calls.clear()
    task._g_step()  # G learns through the augmentation too
    assert torch.equal(calls[0][0], made_by_g[1]) and torch.equal(seen_by_d[1], calls[0][1])


def test_exported_samples_are_the_generators_own_output_never_augmented(tmp_path, tiny_gan_config, monkeypatch):
    config = _subset(tiny_gan_config)
    train_gan(dataclasses.replace(config, train=dataclasses.replace(config.train, steps=2)), tmp_path, quiet=True)

    def refuse(*args, **kw):
        raise AssertionError("DiffAugment called while sampling")

    monkeypatch.setattr(gan_train, "diff_augment", refuse)
    images, labels = sample(tmp_path, 20, seed=5, device="cpu")
    G, stored = load_gan(tmp_path, "cpu")
    z = latents(20, stored.model.z_dim, torch.Generator().manual_seed(5))
    with torch.no_grad():
        direct = torch.from_numpy(to_uint8_image(G(z, labels))).permute(0, 3, 1, 2)
    assert torch.equal(images, direct)


def test_the_small_data_preset_augments_with_every_transform_and_a_mild_shift():
    few = gan_preset("few-100")
    assert few.gan.diffaugment == "color,translation,cutout" and few.gan.diffaugment_p == 1.0
    assert (few.gan.diffaugment_shift, few.gan.diffaugment_fill) == (1 / 16, "edge")
    assert few.model == gan_preset("fmnist-few").model and few.gan.conditional and few.gan.ema_decay > 0
    assert (few.gan.lecam_weight, few.train.batch_size) == (1.0, 32)  # LeCam and batch 32 (results/few-bf16.json)


def test_train_gan_without_a_preset_picks_the_small_data_one_for_little_data(tmp_path, capsys, one_thread):
    from PIL import Image

    from ganvq.cli import main
    from ganvq.data.datasets import training_images_and_channels
    from ganvq.runs.presets import SMALL_DATA_IMAGES

    images = load_dataset("fashion-mnist", "test", limit=60).images[:, 0].numpy()
    folder = tmp_path / "mine"
    for i, img in enumerate(images):
        (folder / str(i % 2)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(folder / str(i % 2) / f"{i}.png")
    assert training_images_and_channels(folder) == (len(load_dataset(folder, "train").images), 1) == (54, 1)  # 10% out
    assert training_images_and_channels("fashion-mnist") == (60_000, 1)
    damaged = tmp_path / "damaged"  # unreadable files are not counted as training images
    damaged.mkdir()
    for i, img in enumerate(images[:20]):
        Image.fromarray(img).save(damaged / f"{i}.png")
    for i in range(4):
        (damaged / f"bad{i}.png").write_bytes(b"not an image")
    assert training_images_and_channels(damaged, val_fraction=0.0) == (20, 1)
    assert training_images_and_channels("fashion-mnist", limit=9) == (9, 1)
    small = tmp_path / "small.json"
    small.write_text('{"model": {"g_width": 8, "d_width": 8}}')
    tiny = ["--steps", "1", "--batch-size", "8", "--precision", "fp32", "--sample-every", "0", "--config", str(small)]
    assert main(["train", "gan", "--data", str(folder), "--out", str(tmp_path / "a"), *tiny]) == 0
    err = capsys.readouterr().err
    assert f"54 training images (at most {SMALL_DATA_IMAGES:,}): preset few-100" in err
    stored = json.loads((tmp_path / "a" / "config.json").read_text())
    assert stored["gan"]["diffaugment"] == gan_preset("few-100").gan.diffaugment
    # a named preset, or more images than the threshold, keeps fmnist-best and says nothing
    assert main(["train", "gan", "--data", str(folder), "--preset", "fmnist-best", "--out", str(tmp_path / "b"),
                 *tiny]) == 0
    assert "preset few-100" not in capsys.readouterr().err
    assert json.loads((tmp_path / "b" / "config.json").read_text())["gan"]["diffaugment"] == ""
    assert main(["train", "gan", "--limit", str(SMALL_DATA_IMAGES + 1), "--out", str(tmp_path / "c"), *tiny]) == 0
    assert "preset few-100" not in capsys.readouterr().err
    assert json.loads((tmp_path / "c" / "config.json").read_text())["gan"]["diffaugment"] == ""
    assert main(["train", "gan", "--subset", "100", "--out", str(tmp_path / "d"), *tiny]) == 0
    assert "100 training images" in capsys.readouterr().err
    # the data named by a config file counts as much as --data
    named = tmp_path / "named.json"
    named.write_text(json.dumps({"model": {"g_width": 8, "d_width": 8}, "data": str(folder)}))
    assert main(["train", "gan", "--out", str(tmp_path / "e"), *tiny[:-1], str(named)]) == 0
    assert "54 training images" in capsys.readouterr().err


def test_private_training_without_a_preset_gets_the_private_one_and_says_so(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    from ganvq.cli import build_parser
    from ganvq.cli.train import _default_gan_preset

    args = build_parser().parse_args(["train", "gan", "--out", "x", "--subset", "100", "--dp-epsilon", "5"])
    assert _default_gan_preset(args) == "dp-fmnist"
    said = capsys.readouterr().err
    assert "private training (--dp-epsilon): preset dp-fmnist, made for Fashion-MNIST (28 px" in said
    assert "colour" not in said
    # a folder of colour photos: the same recipe, at its 28 px, and said to be measured on none such
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(np.full((40, 48, 3), 60 * i, dtype=np.uint8)).save(folder / f"{i}.png")
    args = build_parser().parse_args(["train", "gan", "--data", str(folder), "--out", "x", "--dp-epsilon", "5"])
    assert _default_gan_preset(args) == "dp-fmnist"
    assert "private training (--dp-epsilon) of colour images, for which no private recipe is measured: preset " \
           "dp-fmnist, made for Fashion-MNIST (28 px" in capsys.readouterr().err


def test_colour_data_without_a_preset_gets_the_rgb_recipes_and_says_so(tmp_path, capsys):
    """A user's folder of colour photos trains at 32 px with the recipes measured on photos, not at 28 px with the
    Fashion-MNIST ones: a few hundred images the little-data one; --channels 1 makes them grayscale again."""
    import numpy as np
    from PIL import Image

    from ganvq.cli import build_parser, main
    from ganvq.cli.train import _default_gan_preset
    from ganvq.runs.presets import SMALL_DATA_IMAGES, default_gan_preset, default_vqvae_preset

    rng = np.random.default_rng(0)
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(24):
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    tiny = ["--data", str(folder), "--steps", "1", "--batch-size", "4", "--precision", "fp32"]
    assert main(["train", "gan", *tiny, "--sample-every", "0", "--out", str(tmp_path / "g")]) == 0
    err = capsys.readouterr().err
    assert "22 colour training images (at most 500): preset rgb-32-few" in err and "here at" not in err  # 2 held out
    assert "1 step is fewer than the 1,000 this recipe needs" in err  # as for the other RGB GAN presets
    stored = json.loads((tmp_path / "g" / "config.json").read_text())
    assert (stored["model"]["image_size"], stored["model"]["channels"], stored["model"]["g_width"]) == (32, 3, 16)
    few = json.loads(json.dumps(dataclasses.asdict(gan_preset("few-100").gan)))
    assert stored["gan"] == {**few, "sample_every": 0}  # few-100's DiffAugment, LeCam and the rest
    assert main(["train", "vqvae", *tiny, "--out", str(tmp_path / "v")]) == 0
    assert "colour images: preset rgb-32" in capsys.readouterr().err
    stored = json.loads((tmp_path / "v" / "config.json").read_text())
    assert (stored["model"]["image_size"], stored["model"]["channels"], stored["model"]["hidden"]) == (32, 3, 64)
    # at a size the picked preset was not made for, it says so
    at_64 = ["--image-size", "64", "--sample-every", "0", "--out", str(tmp_path / "g64")]
    assert main(["train", "gan", *tiny, *at_64]) == 0
    said = capsys.readouterr().err
    assert "preset rgb-32-few, made for a few hundred colour photos (32 px; " in said
    assert "here at 64 px (--image-size)" in said
    # forced grayscale: the Fashion-MNIST recipes, by the number of images
    args = build_parser().parse_args(["train", "gan", "--data", str(folder), "--channels", "1", "--out", "x"])
    assert _default_gan_preset(args) == "few-100"
    # options that need DiffAugment do not trip over the probe's fmnist-best, which has none
    args = build_parser().parse_args(["train", "gan", "--data", str(folder), "--channels", "1",
                                      "--diffaugment-target", "0.6", "--consistency", "10", "--out", "x"])
    assert _default_gan_preset(args) == "few-100"
    # more colour images than that: the RGB recipes, by the size asked for
    many = SMALL_DATA_IMAGES + 1
    assert default_gan_preset(many, 3) == "rgb-32" and default_gan_preset(many, 3, 64) == "rgb-64"
    assert default_gan_preset(many, 3, 48) == "rgb-32" and default_gan_preset(SMALL_DATA_IMAGES, 3, 64) == "rgb-32-few"
    assert default_vqvae_preset(1, 64) == "fmnist-7x7" and default_vqvae_preset(3, 64) == "rgb-64"
    assert default_gan_preset(100) == "few-100" and default_gan_preset(many) == "fmnist-best"


def test_real_shift_moves_only_the_real_images_d_sees_by_whole_pixels_within_its_bound(tiny_gan_config):
    config = _subset(tiny_gan_config)
    config = dataclasses.replace(config, gan=dataclasses.replace(config.gan, diffaugment="", real_shift=1 / 14))
    task = GANTask(config)
    seen_by_d, made_by_g, real = _spied_d_step(task)
    real_seen, fake_seen = seen_by_d[0].split([len(real), len(seen_by_d[0]) - len(real)])
    assert torch.equal(fake_seen, made_by_g[0])  # G's images reach D as they are
    assert not torch.equal(real_seen, real)
    for image, seen in zip(real, real_seen):  # each real image D sees is that image moved by at most 2 pixels
        padded = torch.nn.functional.pad(image[None], (2, 2, 2, 2), mode="replicate")[0]
        assert any(torch.equal(seen, padded[:, 2 + dy:30 + dy, 2 + dx:30 + dx])
                   for dy in range(-2, 3) for dx in range(-2, 3))
    task._g_step()  # and G's own step feeds D its images unshifted
    assert torch.equal(seen_by_d[1], made_by_g[1])


def test_real_shift_must_lie_in_0_half():
    import pytest

    from ganvq.errors import GanvqError
    from ganvq.runs import GANOptions

    assert GANOptions(real_shift=0.5).real_shift == 0.5
    for bad in (-0.1, 0.6):
        with pytest.raises(GanvqError, match="--real-shift must lie in"):
            GANOptions(real_shift=bad)
