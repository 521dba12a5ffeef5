"""`ganvq restore` and restore_images: masks honoured exactly, seeded completions, one-line errors."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from ganvq.cli import main
from ganvq.commands.restore import restore_images
from ganvq.data import load_dataset
from ganvq.data.corrupt import make_mask, parse_mask
from ganvq.errors import GanvqError
from ganvq.images import to_float
from ganvq.runs import load_prior


@pytest.fixture(scope="module")
def images():
    return load_dataset("fashion-mnist", "test", limit=6).images


def test_visible_pixels_are_kept_exactly_and_samples_are_seeded(tiny_local_prior_run, images):
    prior, model, _ = load_prior(tiny_local_prior_run)
    x = to_float(images)
    hole = make_mask(parse_mask("box:4,6,12,10"), len(x), 28, 28)
    out = restore_images(model, x, hole, prior, samples=3, candidates=2, seed=1, sweeps=1)
    assert out.shape == (6, 3, 1, 28, 28)
    visible = ~hole[:, None].expand_as(out)
    assert torch.equal(out[visible], x[:, None].expand_as(out)[visible])
    assert torch.equal(out, restore_images(model, x, hole, prior, samples=3, candidates=2, seed=1, sweeps=1))
    assert not torch.equal(out[:, 0], out[:, 1])
    assert not torch.equal(out, restore_images(model, x, hole, prior, samples=3, candidates=2, seed=2, sweeps=1))


def test_cli_writes_k_completions_that_keep_the_input(tmp_path, tiny_local_prior_run, images):
    mask = np.zeros((28, 28), np.uint8)
    mask[10:20, 5:15] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    Image.fromarray(images[0, 0].numpy()).save(tmp_path / "shirt.png")
    out = tmp_path / "out"
    assert main(["restore", str(tmp_path / "shirt.png"), "-o", str(out), "--ckpt", str(tiny_local_prior_run),
                 "--mask", str(tmp_path / "mask.png"), "--samples", "2", "--seed", "3", "--quiet"]) == 0
    a, b = (np.asarray(Image.open(out / f"shirt-{k}.png")) for k in (0, 1))
    keep = mask == 0
    assert np.array_equal(a[keep], images[0, 0].numpy()[keep]) and np.array_equal(b[keep], a[keep])
    assert (out / "grid.png").is_file()


def test_a_mask_of_0s_and_1s_counts_1_as_missing(tmp_path, tiny_local_prior_run, images):
    mask = np.zeros((28, 28), np.uint8)
    mask[10:20, 5:15] = 1  # as numpy and OpenCV users write masks
    Image.fromarray(mask).save(tmp_path / "mask01.png")
    Image.fromarray(images[0, 0].numpy()).save(tmp_path / "shirt.png")
    assert main(["restore", str(tmp_path / "shirt.png"), "-o", str(tmp_path / "out"), "--ckpt",
                 str(tiny_local_prior_run), "--mask", str(tmp_path / "mask01.png"), "--quiet"]) == 0
    out = np.asarray(Image.open(tmp_path / "out" / "shirt.png"))
    assert np.array_equal(out[mask == 0], images[0, 0].numpy()[mask == 0])


def test_holes_in_images_of_another_size_are_written_into_them_at_their_own_size(tmp_path, capsys,
                                                                                  tiny_local_prior_run):
    """A 90x60 colour photo with the model's centred hole: the hole, restored at 28x28 and upsampled over the
    central 60x60 square, is pasted into the photo as stored (in the model's gray); every other pixel is the
    photo's own. --out-size model writes the model's 28x28 instead."""
    rng = np.random.default_rng(1)
    photo = rng.integers(0, 256, (60, 90, 3), dtype=np.uint8)
    Image.fromarray(photo).save(tmp_path / "photo.png")
    argv = ["restore", str(tmp_path / "photo.png"), "--ckpt", str(tiny_local_prior_run), "--mask", "center"]
    assert main([*argv, "-o", str(tmp_path / "out"), "--quiet"]) == 0
    assert "1 of 1 images are not 28x28 grayscale (e.g. photo.png, 90x60 colour (RGB)): they are resized, " \
        "centre-cropped and converted to what the model codes, and each restored hole is written into the image " \
        "at its own size" in capsys.readouterr().err
    out = np.asarray(Image.open(tmp_path / "out" / "photo.png"))
    gray = np.asarray(Image.fromarray(photo).convert("L"))
    assert out.shape == (60, 90)
    hole = np.zeros((60, 90), bool)
    hole[15:45, 30:60] = True  # the centre's 14x14 of 28 (rows and columns 7..20), 60/28 of the scale
    assert np.array_equal(out[~hole], gray[~hole]) and not np.array_equal(out[hole], gray[hole])
    assert main([*argv, "-o", str(tmp_path / "small"), "--out-size", "model", "--quiet"]) == 0
    assert Image.open(tmp_path / "small" / "photo.png").size == (28, 28)
    assert json.loads(capsys.readouterr().out)["written_at_own_size"] == 0


def test_a_mask_drawn_at_the_photos_own_size_is_resized_as_the_photo_is(tmp_path, capsys, tiny_local_prior_run):
    """A user marks the damage on their 90x60 photo: the mask is taken to the model's 28x28 through the same
    central square, and a pixel there is missing when any pixel it covers was; photos of mixed sizes are refused
    in one line that says what fits."""
    from ganvq.commands.restore import _as_resized

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (60, 90), dtype=np.uint8)).save(tmp_path / "photo.png")
    mask = np.zeros((60, 90), np.uint8)
    mask[20:40, 40:50] = 255  # inside the central 60x60 square (columns 15 to 74)
    Image.fromarray(mask).save(tmp_path / "mask.png")
    small = _as_resized(mask > 0, 28, 28)
    # columns 40..49 of the photo are 25..34 of its square, 11.67..16.33 at 28/60 of the scale: 11 to 16 hidden
    assert np.flatnonzero(small.any(0)).tolist() == list(range(11, 17))
    assert np.flatnonzero(small.any(1)).tolist() == list(range(9, 19))
    out = tmp_path / "out"
    assert main(["restore", str(tmp_path / "photo.png"), "-o", str(out), "--ckpt", str(tiny_local_prior_run),
                 "--mask", str(tmp_path / "mask.png"), "--quiet"]) == 0
    restored = np.asarray(Image.open(out / "photo.png"))  # the photo's own size: every pixel not marked is kept
    photo = np.asarray(Image.open(tmp_path / "photo.png"))
    assert restored.shape == (60, 90) and np.array_equal(restored[mask == 0], photo[mask == 0])
    assert not np.array_equal(restored, photo)
    assert main(["restore", str(tmp_path / "photo.png"), "-o", str(tmp_path / "small"), "--ckpt",
                 str(tiny_local_prior_run), "--mask", str(tmp_path / "mask.png"), "--out-size", "model",
                 "--quiet"]) == 0
    restored = np.asarray(Image.open(tmp_path / "small" / "photo.png"))
    resized = load_dataset(str(tmp_path / "photo.png"), "all", size=28, channels=1).images[0, 0].numpy()
    assert np.array_equal(restored[~small], resized[~small]) and not np.array_equal(restored, resized)
    capsys.readouterr()
    mask[5:10, 2:8] = 255  # left of the central square: the model never sees it
    Image.fromarray(mask).save(tmp_path / "wide.png")
    assert main(["restore", str(tmp_path / "photo.png"), "-o", str(tmp_path / "o3"), "--ckpt",
                 str(tiny_local_prior_run), "--mask", str(tmp_path / "wide.png"), "--quiet"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "ganvq: error: the mask marks 30 missing pixels outside the central 60x60 square of the 90x60 images, the "
        "part the model sees: crop the images and the mask square, or pass --out-size model to restore the square "
        "alone at the model's size") and not (tmp_path / "o3").exists()
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(rng.integers(0, 256, (60, 90), dtype=np.uint8)).save(folder / "a.png")
    Image.fromarray(rng.integers(0, 256, (50, 50), dtype=np.uint8)).save(folder / "b.png")
    assert main(["restore", str(folder), "-o", str(tmp_path / "o2"), "--ckpt", str(tiny_local_prior_run),
                 "--mask", str(tmp_path / "mask.png"), "--quiet"]) == 2
    _, err = capsys.readouterr().err.strip().splitlines()  # the resize warning, then the error
    assert err.startswith("ganvq: error: the mask is 90x60 pixels; the images are coded at 28x28, resized and "
                          "centre-cropped from 50x50, 90x60") and not (tmp_path / "o2").exists()


def test_a_pixel_that_the_central_squares_edge_halves_counts_as_seen():
    """A 91x60 photo is read from columns 15.5 to 75.5: a hole in column 75 is half seen and restorable, one in
    column 76 is not."""
    from ganvq.commands.restore import outside_square

    hole = np.zeros((60, 91), bool)
    hole[10, 15] = hole[10, 75] = True
    assert outside_square(hole) == 0
    hole[10, 76] = hole[10, 14] = True
    assert outside_square(hole) == 2


def test_an_output_that_would_replace_an_input_image_is_refused(tmp_path, capsys, tiny_local_prior_run,
                                                                tiny_vqvae_run, images):
    """Restoring (or reconstructing) into the folder that holds the photos would overwrite them with the model's
    gray view: refused before any work, the photo untouched."""
    Image.fromarray(np.full((40, 40, 3), 90, np.uint8)).save(tmp_path / "shirt.png")
    before = (tmp_path / "shirt.png").read_bytes()
    for argv in (["restore", str(tmp_path / "shirt.png"), "-o", str(tmp_path), "--ckpt", str(tiny_local_prior_run),
                  "--mask", "center", "--quiet"],
                 ["reconstruct", str(tmp_path), "-o", str(tmp_path), "--ckpt", str(tiny_vqvae_run), "--quiet"]):
        assert main(argv) == 2
        assert capsys.readouterr().err.strip().splitlines()[-1].startswith(
            f"ganvq: error: -o {tmp_path}: writing shirt.png there would replace the input image")
        assert (tmp_path / "shirt.png").read_bytes() == before
    assert main(["restore", str(tmp_path / "shirt.png"), "-o", str(tmp_path), "--ckpt", str(tiny_local_prior_run),
                 "--mask", "center", "--samples", "2", "--quiet"]) == 0  # shirt-0.png, shirt-1.png: nothing replaced
    assert (tmp_path / "shirt.png").read_bytes() == before and (tmp_path / "shirt-1.png").is_file()


def _error_line(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("ganvq: error:")
    return err


@pytest.mark.parametrize("size, fill, message", [((30, 30), 255, "30x30 pixels"), ((28, 28), 0, "hides no pixel"),
                                                 ((28, 28), 255, "hides every pixel")])
def test_bad_mask_file_is_one_line_error(tmp_path, capsys, tiny_local_prior_run, size, fill, message):
    Image.fromarray(np.full(size, fill, np.uint8)).save(tmp_path / "m.png")
    err = _error_line(capsys, ["restore", "fashion-mnist", "--limit", "2", "-o", str(tmp_path / "o"), "--ckpt",
                               str(tiny_local_prior_run), "--mask", str(tmp_path / "m.png"), "--quiet"])
    assert message in err


@pytest.mark.parametrize("mask, message", [("box:0,0,28,28", "every pixel"), ("box:30,0,2,2", "outside"),
                                           ("oval", "no such file")])
def test_bad_mask_shape_is_one_line_error(tmp_path, capsys, tiny_local_prior_run, mask, message):
    err = _error_line(capsys, ["restore", "fashion-mnist", "--limit", "2", "-o", str(tmp_path / "o"), "--ckpt",
                               str(tiny_local_prior_run), "--mask", mask, "--quiet"])
    assert message in err


def test_plain_vqvae_and_missing_mask_are_refused(tmp_path, capsys, tiny_vqvae_run, tiny_local_prior_run):
    assert "plain VQ-VAE" in _error_line(capsys, ["restore", "fashion-mnist", "-o", str(tmp_path / "o"), "--ckpt",
                                                  str(tiny_vqvae_run), "--mask", "center"])
    assert "needs a mask" in _error_line(capsys, ["restore", "fashion-mnist", "--limit", "2", "-o",
                                                  str(tmp_path / "o"), "--ckpt", str(tiny_local_prior_run)])
    assert "--out-size input writes restored holes" in _error_line(
        capsys, ["restore", "fashion-mnist", "--limit", "2", "-o", str(tmp_path / "o"), "--ckpt",
                 str(tiny_local_prior_run), "--mask", "center", "--damage", "noise:0.1", "--out-size", "input"])


def test_restoration_model_trains_on_damage_and_restores(tmp_path, capsys, tiny_vqvae_config, images):
    from dataclasses import replace

    from ganvq.runs import load_vqvae, open_run
    from ganvq.train.vqvae import VQVAETask, train_vqvae

    config = replace(tiny_vqvae_config, corrupt="noise:0.3", train=replace(tiny_vqvae_config.train, steps=2))
    task = VQVAETask(config)
    x = task._next_images()
    damaged = task.corruption(x, task._corrupt_generator(0))
    assert abs(float(((damaged - x) / 2).std()) - 0.3) < 0.02  # the encoder sees noisy images
    run = tmp_path / "noise"
    train_vqvae(config, run, quiet=True)
    assert open_run(run).config.corrupt == "noise:0.3"  # recorded in the run
    model, _ = load_vqvae(run)
    out = restore_images(model, to_float(images))
    assert out.shape == (6, 1, 1, 28, 28) and bool(out.abs().le(1).all())
    assert "one output per image" in _error_line(capsys, ["restore", "fashion-mnist", "--limit", "2", "-o",
                                                     str(tmp_path / "o"), "--ckpt", str(run), "--samples", "2"])
    assert "not holes" in _error_line(capsys, ["restore", "fashion-mnist", "--limit", "2", "-o", str(tmp_path / "o"),
                                               "--ckpt", str(run), "--mask", "center"])
    capsys.readouterr()
    assert main(["restore", "fashion-mnist", "--limit", "3", "-o", str(tmp_path / "o"), "--ckpt", str(run),
                 "--damage", "noise:0.3", "--quiet"]) == 0
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["00000.png", "00001.png", "00002.png", "grid.png"]
    # with --damage the clean images are known: both sides are scored against them, from the PNGs as written
    result = json.loads(capsys.readouterr().out)
    assert result["damage"] == "noise:0.3" and "before --damage" in result["scores_definition"]
    clean = load_dataset("fashion-mnist", "test", limit=3).images.double() / 255
    written = torch.stack([torch.from_numpy(np.array(Image.open(tmp_path / "o" / f"0000{i}.png")))
                           for i in range(3)])[:, None].double() / 255
    from ganvq.metrics.recon import psnr_per_image

    assert result["scores"]["restored"]["psnr_db"] == pytest.approx(float(psnr_per_image(clean, written).mean()),
                                                                    abs=1e-3)
    assert 10.4 < result["scores"]["damaged"]["psnr_db"] < 16  # noise of 0.3 in [0, 1]: 10.5 dB less its clipping
