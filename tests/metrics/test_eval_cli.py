import json

import numpy as np
from PIL import Image

from ganvq.cli import main
from ganvq.train.gan import train_gan


def test_eval_folder_scores_images_from_another_tool_and_writes_json(tmp_path, fmnist_test, capsys):
    fake = tmp_path / "peer_samples"
    fake.mkdir()
    for i, img in enumerate(fmnist_test[:64, 0].numpy()):
        Image.fromarray(np.ascontiguousarray(img)).save(fake / f"{i:03d}.png")
    out = tmp_path / "scores.json"
    assert main(["eval", "folder", "--real", "fashion-mnist", "--fake", str(fake), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert result["samples"] == 64 and result["extractor"] == "ganvq-fmnist-cnn-v1"
    assert result["fid"] >= 0 and 0 <= result["precision"] <= 1 and "memorization" in result
    assert "FID" in printed and str(out) in printed
    assert (tmp_path / "scores.closest-pairs.png").is_file()


def test_eval_gan_samples_a_checkpoint_and_scores_it(tmp_path, tiny_gan_config, capsys):
    run = tmp_path / "gan"
    train_gan(tiny_gan_config, run, quiet=True)
    assert main(["eval", "gan", "--ckpt", str(run), "--n", "50"]) == 0
    result = json.loads((run / "eval-gan.json").read_text())
    assert result["samples"] == 50 and result["reference"]["split"] == "test"
    # An untrained GAN is far from the data.
    assert result["fid"] > 10 and result["class_coverage"] <= 10


def test_eval_of_a_non_generator_checkpoint_is_a_one_line_error(tmp_path, tiny_vqvae_config, capsys):
    from ganvq.train.vqvae import train_vqvae

    run = tmp_path / "v"
    train_vqvae(tiny_vqvae_config, run, quiet=True)
    assert main(["eval", "gan", "--ckpt", str(run), "--n", "10"]) == 2
    assert "vqvae checkpoint does not generate images" in capsys.readouterr().err


def test_eval_gan_of_a_subset_run_audits_against_its_images_and_reports_utility_a_b_c(tmp_path, tiny_gan_config,
                                                                                         capsys, monkeypatch):
    import dataclasses
    import functools

    from ganvq.commands import evaluate

    monkeypatch.setattr(evaluate, "few_shot_utility", functools.partial(evaluate.few_shot_utility, steps=4))
    run = tmp_path / "gan"
    train_gan(dataclasses.replace(tiny_gan_config, subset=20, subset_seed=1), run, quiet=True)
    assert main(["eval", "gan", "--ckpt", str(run), "--n", "40", "--utility", "30"]) == 0
    printed = capsys.readouterr().out
    result = json.loads((run / "eval-gan.json").read_text())
    assert result["memorization"]["training_data"]["images"] == 20
    u = result["utility"]
    assert (u["real_images"], u["synthetic_images"], u["test_images"]) == (20, 30, 10000)
    assert {"real", "real_plus_synthetic", "synthetic"} <= set(u) and "points" in printed
    assert main(["eval", "gan", "--ckpt", str(run), "--n", "40", "--utility", "30", "--real-subset", "30"]) == 0
    assert json.loads((run / "eval-gan.json").read_text())["utility"]["real_images"] == 30
    assert main(["eval", "gan", "--ckpt", str(run), "--n", "40", "--real-subset", "30"]) == 2
    assert "--real-subset chooses the real images of --utility" in capsys.readouterr().err
