import csv
import json

from PIL import Image

from ganvq.cli import main


def test_cli_trains_a_gan_then_samples_exports_and_interpolates(tmp_path, capsys, monkeypatch):
    tiny = tmp_path / "tiny.json"
    tiny.write_text(json.dumps({"model": {"z_dim": 16, "g_width": 8, "d_width": 8}}))
    run = tmp_path / "run"
    assert main(["--quiet", "train", "gan", "--out", str(run), "--preset", "fmnist-best", "--config", str(tiny),
                 "--steps", "4", "--batch-size", "16", "--limit", "128", "--precision", "fp32",
                 "--diffaugment", "translation,cutout", "--sample-every", "2", "--seed", "3"]) == 0
    assert (run / "checkpoint.safetensors").exists() and (run / "samples" / "step-0000004.png").exists()
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["g_width"] == 8 and config["gan"]["diffaugment"] == "translation,cutout"
    assert config["train"]["seed"] == 3 and config["model"]["num_classes"] == 10  # resolved from the data

    assert main(["sample", "--ckpt", str(run), "--n", "16", "--out", str(tmp_path / "grid.png")]) == 0
    assert Image.open(tmp_path / "grid.png").size[0] > 28
    monkeypatch.setenv("GANVQ_PROGRESS_SECONDS", "0")
    capsys.readouterr()
    assert main(["sample", "--ckpt", str(run), "--n", "7", "--class", "8", "--out-dir", str(tmp_path / "lib")]) == 0
    assert len(list((tmp_path / "lib").glob("*.png"))) == 7
    err = capsys.readouterr().err  # a log (not a terminal): plain progress lines
    assert "sample gan: image 7/7 (100%)" in err and "sample: writing: image 7/7 (100%)" in err
    with open(tmp_path / "lib" / "labels.csv", newline="") as f:
        assert {r["class_name"] for r in csv.DictReader(f)} == {"Bag"}
    assert main(["interpolate", "--ckpt", str(run), "--rows", "2", "--steps", "4",
                 "--out", str(tmp_path / "walk.png")]) == 0
    assert (tmp_path / "walk.png").exists()

    capsys.readouterr()
    assert main(["eval", "gan", "--ckpt", str(run), "--n", "40", "-o", str(tmp_path / "e.json")]) == 0
    err = capsys.readouterr().err  # each scoring stage is one line
    for stage in ("reference features", "features of 40 samples", "FID, KID, precision/recall",
                  "memorization audit"):
        assert f"eval gan: scoring: {stage}" in err, err
    assert "eval gan: scoring: image 40/40 (100%)" in err  # the samples' features, counted
    assert main(["eval", "gan", "--ckpt", str(run), "--n", "40", "-o", str(tmp_path / "e.json"), "--quiet"]) == 0
    assert "scoring" not in capsys.readouterr().err
    assert main(["sample", "--ckpt", str(run), "--class", "12", "--out", str(tmp_path / "g2.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganvq: error:") and "--class" in err and "\n" not in err
    # a class by its name, in any letter case, as labels.csv names it
    assert main(["sample", "--ckpt", str(run), "--n", "3", "--class", "ankle BOOT", "--out-dir",
                 str(tmp_path / "boots"), "--quiet"]) == 0
    with open(tmp_path / "boots" / "labels.csv", newline="") as f:
        assert {(r["label"], r["class_name"]) for r in csv.DictReader(f)} == {("9", "Ankle boot")}
    assert main(["interpolate", "--ckpt", str(run), "--rows", "1", "--steps", "2", "--class", "sneaker",
                 "--out", str(tmp_path / "walk2.png")]) == 0
    capsys.readouterr()
    assert main(["sample", "--ckpt", str(run), "--class", "Sandals", "--out", str(tmp_path / "g3.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert "--class 'Sandals' is not a class of this GAN" in err and "Sandal, Shirt" in err and "\n" not in err


def test_cli_resume_and_divergence_options_reach_the_run(tmp_path, capsys):
    run = tmp_path / "run"
    tiny = tmp_path / "tiny.json"
    tiny.write_text(json.dumps({"model": {"z_dim": 8, "g_width": 4, "d_width": 4}}))
    args = ["--quiet", "train", "gan", "--out", str(run), "--preset", "dcgan-textbook", "--config", str(tiny),
            "--steps", "2", "--batch-size", "8", "--limit", "64", "--on-diverge", "rollback", "--lr-d", "1e-4"]
    assert main(args) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["gan"]["on_diverge"] == "rollback" and config["gan"]["lr_d"] == 1e-4
    assert config["model"]["num_classes"] == 0  # the textbook recipe is unconditional, although the data has labels
    capsys.readouterr()
    assert main(args) == 2  # the folder already holds a run
    assert "--resume" in capsys.readouterr().err
    assert main(["sample", "--ckpt", str(run), "--class", "1", "--out", str(tmp_path / "g.png")]) == 2
    assert "without labels" in capsys.readouterr().err
    other = [a if a != str(run) else str(tmp_path / "other") for a in args]
    assert main([*other, "--class-loss", "1"]) == 2  # the textbook recipe is unconditional
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--class-loss needs a class-conditional run" in err
