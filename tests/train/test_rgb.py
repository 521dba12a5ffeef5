"""Colour images: a short run of the RGB preset gets the colours right, and short budgets are warned about."""

from __future__ import annotations

import numpy as np
import pytest

from ganvq.cli import main
from ganvq.runs import build_run_config, load_vqvae
from ganvq.train.vqvae import train_vqvae


def _colour_crops(n: int = 512, size: int = 32) -> np.ndarray:
    """Smooth colour images, each of its own dominant hue: (n, size, size, 3) uint8, channel means far apart."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = rng.uniform(0, 1, (n, 1, 1, 3)) * np.array([200, 120, 60])  # red high, blue low on average
    wave = 30 * np.sin(2 * np.pi * (rng.uniform(1, 3, (n, 1, 1, 1)) * xx[None, ..., None]
                                    + rng.uniform(0, 1, (n, 1, 1, 1)) + yy[None, ..., None]))
    return np.clip(base + 40 + wave, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("stem", [True, False])  # rgb-32's layout, and rgb-64's without the full-resolution stem
def test_a_short_rgb_run_reproduces_per_channel_means(tmp_path, one_thread, stem):
    np.savez(tmp_path / "colour.npz", x=_colour_crops())
    config = build_run_config("vqvae", "rgb-32", None, {
        "data": str(tmp_path / "colour.npz"), "model": {"hidden": 32, "res_blocks": 1, "stem": stem},
        "train": {"steps": 150, "log_every": 50, "eval_images": 64, "seed": 0}})
    train_vqvae(config, tmp_path / "run", quiet=True)
    model, cfg = load_vqvae(tmp_path / "run")
    assert cfg.val_fraction == 0.1 and cfg.model.channels == 3
    from ganvq.data import load_dataset

    held = load_dataset(tmp_path / "colour.npz", "test", val_fraction=cfg.val_fraction).images
    recon = (model.decode_codes(model.encode_images(held)).clamp(-1, 1) + 1) * 127.5  # [-1, 1] -> 0..255
    original_means = held.double().mean((0, 2, 3))
    error = (recon.double().mean((0, 2, 3)) - original_means).abs()
    assert original_means[0] - original_means[2] > 50  # the channels differ, so a swap or a grey cast shows
    assert error.max() < 6, f"per-channel mean error {error.tolist()} (0..255) on held-out images"


def test_short_budgets_are_warned_about(tmp_path, capsys, one_thread):
    np.savez(tmp_path / "colour.npz", x=_colour_crops(64))
    assert main(["--quiet", "train", "vqvae", "--data", str(tmp_path / "colour.npz"), "--preset", "rgb-32",
                 "--steps", "2", "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    assert "fewer than the 300 this recipe needs" in err and "made for colour photos" not in err
    assert (tmp_path / "run" / "checkpoint.safetensors").is_file()
    np.savez(tmp_path / "gray.npz", x=_colour_crops(64)[..., 0])  # a colour preset named for grayscale images
    assert main(["--quiet", "train", "vqvae", "--data", str(tmp_path / "gray.npz"), "--preset", "rgb-32",
                 "--steps", "2", "--out", str(tmp_path / "gray")]) == 0
    assert "preset rgb-32 is made for colour photos, and " in capsys.readouterr().err


def test_a_budget_too_short_to_calibrate_is_warned_about_at_the_end(tmp_path, capsys, one_thread):
    np.savez(tmp_path / "colour.npz", x=_colour_crops(64))
    assert main(["--quiet", "train", "vqvae", "--data", str(tmp_path / "colour.npz"), "--preset", "rgb-32",
                 "--minutes", "0.005", "--out", str(tmp_path / "run")]) == 0
    assert "this recipe needs about 300 to learn anything" in capsys.readouterr().err
