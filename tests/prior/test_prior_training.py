import dataclasses
import json

import numpy as np
import pytest
import torch
from PIL import Image

from ganvq.cli import main
from ganvq.errors import GanvqError
from ganvq.io import load_checkpoint
from ganvq.runs import load_prior
from ganvq.train import loop
from ganvq.train.prior import PriorTask, train_prior


def _weights(run):
    tensors, _ = load_checkpoint(run / loop.CHECKPOINT)
    return loop.module_weights(tensors, "model")


@pytest.mark.parametrize("arch", ["transformer", "local"])
def test_resume_from_a_periodic_checkpoint_equals_an_uninterrupted_run(tmp_path, tiny_prior_config, crash_after_checkpoint,
                                                                       arch):
    tiny_prior_config = dataclasses.replace(tiny_prior_config,
                                            model=dataclasses.replace(tiny_prior_config.model, arch=arch))
    full = tmp_path / "full"
    train_prior(tiny_prior_config, full, quiet=True)

    crashed = tmp_path / "crashed"
    crash_after_checkpoint(lambda: PriorTask(tiny_prior_config), tiny_prior_config.train, crashed)

    train_prior(None, crashed, resume=True, quiet=True)  # config and VQ-VAE come from the checkpoint
    a, b = _weights(full), _weights(crashed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_training_reports_bits_per_code_and_pixel_and_loads_back(tmp_path, tiny_prior_config):
    result = train_prior(tiny_prior_config, tmp_path, quiet=True)
    assert result["step"] == 6 and result["val/code_maps"] == 64
    assert result["val/bits_per_pixel"] == pytest.approx(result["val/bits_per_code"] * 49 / 784)
    assert 0 < result["val/bits_per_code"] < 4.5  # 16 codes: a uniform guess costs 4 bits
    records = [json.loads(line) for line in (tmp_path / loop.METRICS).read_text().splitlines()]
    assert any("train/bits_per_code" in r for r in records)
    prior, vqvae, config = load_prior(tmp_path)
    assert not prior.training and not vqvae.training
    assert (config.model.codebook_size, config.model.height, config.model.width) == (16, 7, 7)
    assert config.data == "fashion-mnist" and config.vqvae_model == vqvae.config


def test_class_conditional_prior_trains_on_labels(tmp_path, tiny_prior_config):
    config = dataclasses.replace(tiny_prior_config, class_conditional=True,
                                 train=dataclasses.replace(tiny_prior_config.train, steps=2))
    train_prior(config, tmp_path, quiet=True)
    prior, _, config = load_prior(tmp_path)
    assert prior.config.num_classes == 10 and config.class_names[7] == "Sneaker"  # kept from the data
    # so samples are asked for, and labelled, by name
    assert main(["--quiet", "sample", "--ckpt", str(tmp_path), "--n", "2", "--class", "SNEAKER",
                 "--out-dir", str(tmp_path / "s")]) == 0
    assert (tmp_path / "s" / "labels.csv").read_text().splitlines()[1:] == ["00000.png,7,Sneaker",
                                                                            "00001.png,7,Sneaker"]


def test_load_prior_rejects_other_checkpoints(tiny_vqvae_run):
    with pytest.raises(GanvqError, match="not a prior"):
        load_prior(tiny_vqvae_run)


@pytest.mark.parametrize("arch", ["transformer", "local"])
def test_cli_trains_a_prior_and_samples_through_its_vqvae(tmp_path, tiny_vqvae_run, capsys, arch):
    run = tmp_path / "prior"
    assert main(["--quiet", "train", "prior", "--vqvae", str(tiny_vqvae_run), "--out", str(run), "--steps", "3",
                 "--batch-size", "16", "--limit", "128", "--dim", "16", "--layers", "1", "--heads", "2",
                 "--precision", "fp32", "--arch", arch, "--neighbors", "5"]) == 0
    model = json.loads((run / "config.json").read_text())["model"]
    assert (model["dim"], model["arch"], model["neighbors"]) == (16, arch, 5)
    capsys.readouterr()
    assert main(["sample", "--ckpt", str(run), "--out", str(tmp_path / "grid.png"), "--n", "16",
                 "--temperature", "0.8", "--top-k", "5"]) == 0
    assert Image.open(tmp_path / "grid.png").size[0] > 28
    assert main(["sample", "--ckpt", str(run), "--out-dir", str(tmp_path / "s"), "--n", "3", "--seed", "1"]) == 0
    first = np.asarray(Image.open(tmp_path / "s" / "00000.png"))
    assert first.shape == (28, 28) and len(list((tmp_path / "s").glob("*.png"))) == 3
    assert main(["sample", "--ckpt", str(run), "--out-dir", str(tmp_path / "t"), "--n", "3", "--seed", "1"]) == 0
    assert np.array_equal(first, np.asarray(Image.open(tmp_path / "t" / "00000.png")))  # same seed, same images
    capsys.readouterr()
    assert main(["sample", "--ckpt", str(run), "--out", str(tmp_path / "x.png"), "--class", "1"]) == 2
    assert "without labels" in capsys.readouterr().err
    assert main(["train", "prior", "--out", str(tmp_path / "p2"), "--steps", "1"]) == 2
    assert "--vqvae" in capsys.readouterr().err


def test_a_local_prior_from_the_cli_gets_the_benchmarked_sizes(tmp_path, tiny_vqvae_run):
    run = tmp_path / "local"
    assert main(["--quiet", "train", "prior", "--vqvae", str(tiny_vqvae_run), "--out", str(run), "--steps", "1",
                 "--batch-size", "16", "--limit", "64", "--arch", "local"]) == 0
    model = json.loads((run / "config.json").read_text())["model"]
    assert (model["arch"], model["dim"], model["layers"], model["neighbors"]) == ("local", 96, 2, 8)


def test_encoding_the_training_images_shows_progress_before_the_first_step(tmp_path, tiny_prior_config, capsys):
    train_prior(tiny_prior_config, tmp_path / "p")
    err = capsys.readouterr().err
    encoding = [line for line in err.splitlines() if "train prior: encoding the train images" in line]
    assert encoding and "(100%)" in encoding[-1] and err.index(encoding[-1]) < err.index("train prior: step")
    train_prior(tiny_prior_config, tmp_path / "q", quiet=True)
    assert "encoding" not in capsys.readouterr().err
