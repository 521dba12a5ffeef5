"""A new user's own images, scripted: an `x`/`y` .npz of digits, an unlabelled RGB folder and a labelled folder
each go through train, eval, report and compress (and a GAN through sample and eval), and every score
says what it was compared with: its reference data, its split and its extractor."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from ganvq.cli import main

TINY_VQ = ["--steps", "4", "--batch-size", "16", "--precision", "fp32", "--codebook-size", "16",
           "--log-every", "2"]


def _digits_npz(path, n: int = 120):
    """28x28 gray "digits": a bar at a place that depends on the label, (x, y) keys, floats in [0, 1]."""
    rng = np.random.default_rng(1)
    y = np.arange(n) % 10
    x = rng.uniform(0, 0.2, (n, 28, 28)).astype(np.float32)
    for i, label in enumerate(y):
        x[i, 4:24, 2 + 2 * label : 5 + 2 * label] = 1.0
    np.savez(path, x=x, y=y)
    return path


def _rgb_folder(root, labelled: bool):
    rng = np.random.default_rng(2)
    for i in range(60):
        colour = (200, 60, 40) if i % 2 else (40, 90, 200)
        img = np.clip(np.array(colour) + rng.normal(0, 25, (40, 48, 3)), 0, 255).astype(np.uint8)
        sub = root / (("warm" if i % 2 else "cool") if labelled else "")
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(sub / f"{i:03d}.png")
    return root


def _json_out(capsys) -> dict:
    out = capsys.readouterr().out
    return json.loads(out[out.index("{"):])


@pytest.mark.parametrize("kind", ["npz-digits", "rgb-folder", "labelled-folder"])
def test_own_data_trains_evaluates_reports_and_compresses(tmp_path, capsys, kind, one_thread):
    if kind == "npz-digits":
        data, extra = _digits_npz(tmp_path / "digits.npz"), []
    else:
        data = _rgb_folder(tmp_path / "photos", labelled=kind == "labelled-folder")
        extra = ["--preset", "rgb-32", "--config", str(tmp_path / "small.json")]
        (tmp_path / "small.json").write_text('{"model": {"hidden": 32, "res_blocks": 1}}')
    vq = tmp_path / "vq"
    assert main(["--quiet", "train", "vqvae", "--data", str(data), "--out", str(vq), *TINY_VQ, *extra]) == 0
    config = json.loads((vq / "config.json").read_text())
    assert config["val_fraction"] == 0.1  # stored in the run: no named test split here

    capsys.readouterr()
    assert main(["eval", "vqvae", "--ckpt", str(vq)]) == 0
    scores = _json_out(capsys)
    assert scores["data"] == str(data) and scores["split"] == "test" and scores["notes"] == []
    assert "10% of the images held out from training" in scores["split_note"]
    held = {"npz-digits": 10, "rgb-folder": 6, "labelled-folder": 6}[kind]  # 10% of each class (or of all)
    assert scores["test/images"] == held and np.isfinite(scores["test/psnr"])

    assert main(["report", "--ckpt", str(vq), "--out", str(tmp_path / "report.html")]) == 0
    assert "held out from training" in (tmp_path / "report.html").read_text()

    prior = tmp_path / "prior"
    assert main(["--quiet", "train", "prior", "--vqvae", str(vq), "--out", str(prior), "--steps", "3",
                 "--batch-size", "16", "--dim", "16", "--layers", "1", "--heads", "2"]) == 0
    assert json.loads((prior / "config.json").read_text())["val_fraction"] == 0.1  # the VQ-VAE's held-out images
    capsys.readouterr()
    assert main(["compress", str(data), "-o", str(tmp_path / "all.gvq"), "--ckpt", str(prior), "--resize"]) == 0
    packed = _json_out(capsys)
    assert packed["images"] in (60, 120) and np.isfinite(packed["psnr_db"]) and 0 < packed["bits_per_pixel"]
    assert "per image pixel position" in packed["bits_per_pixel_definition"]
    if kind != "npz-digits":  # 40x48 photos: the rate and quality are said to be of the model's 32x32 images
        assert packed["resized"] == 60 and "the model's 32x32: 60 of the 60 images were resized" in packed["measured_at"]
    else:
        assert "resized" not in packed and "measured_at" not in packed


def test_gan_scores_name_reference_split_and_extractor(tmp_path, capsys, one_thread):
    data = _digits_npz(tmp_path / "digits.npz", 1100)  # 110 held out: enough for the memorization audit
    gan = tmp_path / "gan"
    (tmp_path / "small.json").write_text('{"model": {"g_width": 8, "d_width": 8}}')
    assert main(["--quiet", "train", "gan", "--data", str(data), "--out", str(gan), "--steps", "3",
                 "--batch-size", "16", "--precision", "fp32", "--config", str(tmp_path / "small.json")]) == 0
    capsys.readouterr()
    assert main(["eval", "gan", "--ckpt", str(gan), "--n", "40"]) == 0
    printed = capsys.readouterr().out
    result = json.loads((gan / "eval-gan.json").read_text())
    assert result["reference"]["data"] == str(data) and result["reference"]["split"] == "test"
    assert "held out" in result["reference"]["split_note"] and result["reference"]["images"] == 110
    assert result["extractor"] == "ganvq-fmnist-cnn-v1"  # auto: 28x28 gray
    assert any("not digits" in note for note in result["notes"])  # the extractor was made for Fashion-MNIST
    assert result["memorization"]["training_data"]["images"] == 990
    assert "note:" in printed and "held out" in printed

    # a folder of its samples carries source.json, so eval folder finds the data without --real
    assert main(["sample", "--ckpt", str(gan), "--n", "30", "--out-dir", str(tmp_path / "lib")]) == 0
    capsys.readouterr()
    assert main(["eval", "folder", "--fake", str(tmp_path / "lib")]) == 0
    folder = json.loads((tmp_path / "lib-eval.json").read_text())
    assert folder["reference"]["data"] == str(data) and folder["reference"]["split"] == "test"
    assert main(["eval", "folder", "--fake", str(tmp_path / "photos-without-source")]) == 2
    (tmp_path / "plain").mkdir()
    Image.new("L", (28, 28)).save(tmp_path / "plain" / "a.png")
    capsys.readouterr()
    assert main(["eval", "folder", "--fake", str(tmp_path / "plain")]) == 2
    assert "give --real" in capsys.readouterr().err


def test_a_sample_folder_of_a_run_on_part_of_its_data_is_audited_against_that_part(tmp_path, capsys, one_thread):
    data = _digits_npz(tmp_path / "digits.npz", 1100)  # 110 held out: enough for the memorization audit
    gan = tmp_path / "gan"
    (tmp_path / "small.json").write_text('{"model": {"g_width": 8, "d_width": 8}}')
    assert main(["--quiet", "train", "gan", "--data", str(data), "--out", str(gan), "--steps", "2", "--limit", "40",
                 "--batch-size", "16", "--precision", "fp32", "--config", str(tmp_path / "small.json")]) == 0
    assert main(["--quiet", "eval", "gan", "--ckpt", str(gan), "--n", "30"]) == 0
    by_run = json.loads((gan / "eval-gan.json").read_text())["memorization"]
    assert main(["sample", "--ckpt", str(gan), "--n", "30", "--out-dir", str(tmp_path / "lib")]) == 0
    source = json.loads((tmp_path / "lib" / "source.json").read_text())
    assert source["train_part"]["limit"] == 40 and source["train_part"]["subset"] is None
    capsys.readouterr()
    assert main(["eval", "folder", "--fake", str(tmp_path / "lib")]) == 0
    by_folder = json.loads((tmp_path / "lib-eval.json").read_text())["memorization"]
    # the 40 images the run saw, not all 990 of the train split: the same audit as eval gan's on the same samples
    assert by_folder["training_data"]["images"] == by_run["training_data"]["images"] == 40
    assert by_folder["sample_nn_median"] == pytest.approx(by_run["sample_nn_median"], abs=1e-4)
    source["train_part"]["limit"] = "40"  # a hand-edited source.json: one line, not a traceback
    (tmp_path / "lib" / "source.json").write_text(json.dumps(source))
    capsys.readouterr()
    assert main(["eval", "folder", "--fake", str(tmp_path / "lib")]) == 2
    assert "train_part must hold whole numbers" in capsys.readouterr().err


def test_colour_samples_on_the_fashion_cnn_are_flagged_out_of_domain(tmp_path, capsys):
    from ganvq.metrics.score import domain_note

    assert "out of domain" in domain_note("ganvq-fmnist-cnn-v1", "photos", (3, 32, 32))
    assert domain_note("ganvq-fmnist-cnn-v1", "fashion-mnist", (1, 28, 28)) is None
    assert domain_note("inception-v3-fid-tf", "photos", (3, 32, 32)) is None
