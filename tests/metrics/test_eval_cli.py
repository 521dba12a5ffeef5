import json

import numpy as np
import pytest
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



def test_eval_folder_leaves_out_the_grid_reconstruct_writes_beside_the_images(tmp_path, fmnist_test, capsys):
    fake = tmp_path / "rec"
    fake.mkdir()
    for i, img in enumerate(fmnist_test[:32, 0].numpy()):
        Image.fromarray(np.ascontiguousarray(img)).save(fake / f"{i:03d}.png")
    Image.fromarray(np.zeros((60, 120), np.uint8)).save(fake / "grid.png")  # as ganvq reconstruct -o rec leaves it
    out = tmp_path / "scores.json"
    assert main(["eval", "folder", "--real", "fashion-mnist", "--fake", str(fake), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert json.loads(out.read_text())["samples"] == 32  # the images alone, and the user is told
    assert f"{fake / 'grid.png'} is left out: it looks like the overview picture" in err and "120x60" in err
    Image.fromarray(np.zeros((60, 120), np.uint8)).save(fake / "ganvq-grid.png")  # then grid.png was an input
    assert main(["eval", "folder", "--real", "fashion-mnist", "--fake", str(fake), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert json.loads(out.read_text())["samples"] == 33
    assert f"{fake / 'ganvq-grid.png'} is left out" in err and f"{fake / 'grid.png'} is left out" not in err
    (fake / "ganvq-grid.png").unlink()
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(fake / "grid.png")  # a sample's size: a sample called grid
    assert main(["eval", "folder", "--real", "fashion-mnist", "--fake", str(fake), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["samples"] == 33 and "left out" not in capsys.readouterr().err


def test_eval_gan_samples_a_checkpoint_and_scores_it(tmp_path, tiny_gan_config, capsys):
    run = tmp_path / "gan"
    train_gan(tiny_gan_config, run, quiet=True)
    assert main(["eval", "gan", "--ckpt", str(run), "--n", "50"]) == 0
    result = json.loads((run / "eval-gan.json").read_text())
    assert result["samples"] == 50 and result["reference"]["split"] == "test"
    # An untrained GAN is far from the data.
    assert result["fid"] > 10 and result["class_coverage"] <= 10
    # 50 samples: the output says FID is biased at that count, not comparable with 10,000-sample scores
    assert any(n.startswith("only 50 samples: FID is biased upward") for n in result["notes"])
    assert "note: only 50 samples" in capsys.readouterr().out


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
    captured = capsys.readouterr()
    printed = captured.out
    assert "eval gan: training the utility classifiers (a), (b), (c)" in captured.err  # minutes, not silence
    result = json.loads((run / "eval-gan.json").read_text())
    assert result["memorization"]["training_data"]["images"] == 20
    u = result["utility"]
    assert (u["real_images"], u["synthetic_images"], u["test_images"]) == (20, 30, 10000)
    assert {"real", "real_plus_synthetic", "synthetic"} <= set(u) and "points" in printed
    assert main(["eval", "gan", "--ckpt", str(run), "--n", "40", "--utility", "30", "--real-subset", "30"]) == 0
    result = json.loads((run / "eval-gan.json").read_text())
    assert result["utility"]["real_images"] == 30  # --real-subset draws the utility's real images ...
    assert result["memorization"]["training_data"]["images"] == 20  # ... the audit keeps the run's own
    assert main(["eval", "gan", "--ckpt", str(run), "--n", "40", "--real-subset", "30"]) == 2
    assert "--real-subset chooses the real images of --utility" in capsys.readouterr().err
    # A plain eval gan afterwards keeps the minutes of --utility work done on this very checkpoint state ...
    assert main(["eval", "gan", "--ckpt", str(run / "checkpoint.safetensors"), "--n", "40"]) == 0
    kept = json.loads((run / "eval-gan.json").read_text())
    assert kept["utility"]["real_images"] == 30 and "kept from an earlier" in capsys.readouterr().out
    # ... but not results measured on another state of it (here: as if the run had trained on since).
    (run / "eval-gan.json").write_text(json.dumps({**kept, "checkpoint_step": kept["checkpoint_step"] - 1}))
    assert main(["eval", "gan", "--ckpt", str(run), "--n", "40"]) == 0
    assert "utility" not in json.loads((run / "eval-gan.json").read_text())
    err = capsys.readouterr().err
    assert f"measured on step {kept['checkpoint_step'] - 1} of this checkpoint" in err and "dropped" in err


def test_utility_of_an_unconditional_gan_fails_before_sampling(tmp_path, tiny_gan_config, capsys, monkeypatch):
    import dataclasses

    from ganvq.commands import evaluate

    run = tmp_path / "gan"
    train_gan(dataclasses.replace(tiny_gan_config, gan=dataclasses.replace(tiny_gan_config.gan, conditional=False)),
              run, quiet=True)
    monkeypatch.setattr(evaluate, "generate", lambda *a, **k: pytest.fail("sampled before the check"))
    assert main(["eval", "gan", "--ckpt", str(run), "--n", "40", "--utility", "30"]) == 2
    assert "--utility needs a class-conditional GAN" in capsys.readouterr().err
    assert not (run / "eval-gan.json").exists()


def test_eval_gan_real_split_train_scores_against_the_training_images_and_says_so(tmp_path, tiny_gan_config,
                                                                                   fmnist_test, capsys):
    import dataclasses

    images = fmnist_test[:300, 0].numpy()
    data = tmp_path / "small.npz"
    np.savez(data, x_train=images[:200], y_train=np.arange(200) % 10, x_test=images[200:], y_test=np.arange(100) % 10)
    run = tmp_path / "gan"
    train_gan(dataclasses.replace(tiny_gan_config, data=str(data), limit=None), run, quiet=True)
    assert main(["eval", "gan", "--ckpt", str(run), "--n", "40", "--out", str(tmp_path / "held.json")]) == 0
    held = json.loads((tmp_path / "held.json").read_text())
    assert (held["reference"]["split"], held["reference"]["images"]) == ("test", 100)
    assert not any("training images" in n for n in held.get("notes", []))
    assert main(["eval", "gan", "--ckpt", str(run), "--n", "40", "--real-split", "train",
                 "--out", str(tmp_path / "train.json")]) == 0
    train = json.loads((tmp_path / "train.json").read_text())
    assert (train["reference"]["split"], train["reference"]["images"]) == ("train", 200)
    assert any("scored against the training images" in n for n in train["notes"])
    assert train["fid"] != held["fid"]  # another reference, another score (same samples: same seed)
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main(["eval", "gan", "--ckpt", str(run), "--n", "40", "--real-split", "nope"])
    assert e.value.code == 2 and "argument --real-split: invalid choice: 'nope'" in capsys.readouterr().err


def test_a_folder_changed_since_training_is_said_before_its_held_out_images_are_trusted(tmp_path, tiny_gan_config,
                                                                                          capsys, monkeypatch):
    import dataclasses

    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(80):  # 8 held out: more than the 5 scoring needs
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(folder / f"{i:02d}.png")
    run = tmp_path / "gan"
    monkeypatch.chdir(tmp_path)  # the data named relative to where training runs ...
    train_gan(dataclasses.replace(tiny_gan_config, data="photos", limit=None, val_fraction=0.1), run, quiet=True)
    assert json.loads((run / "data.json").read_text())["image_files"] == 80
    assert json.loads((run / "config.json").read_text())["data"] == str(folder.resolve())  # ... is stored absolute
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # so later commands find it from anywhere
    assert main(["eval", "gan", "--ckpt", str(run), "--n", "20"]) == 0
    assert "has changed since" not in capsys.readouterr().err  # as trained: nothing to say
    Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(folder / "00a.png")  # one file added
    assert main(["eval", "gan", "--ckpt", str(run), "--n", "20"]) == 0
    err = capsys.readouterr().err
    assert f"{folder.resolve()} has changed since this run trained on it (80 image files then, 81 now)" in err
    assert any("has changed since" in n for n in json.loads((run / "eval-gan.json").read_text())["notes"])


def test_a_gan_run_says_at_its_start_when_too_few_images_are_held_out_to_score_it(tmp_path, tiny_gan_config, capsys):
    import dataclasses

    rng = np.random.default_rng(0)
    for n in (20, 300):
        folder = tmp_path / f"photos{n}"
        folder.mkdir()
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(folder / f"{i:03d}.png")
        config = dataclasses.replace(tiny_gan_config, data=str(folder), limit=None, val_fraction=0.1)
        train_gan(config, tmp_path / f"gan{n}", quiet=True)
        err = capsys.readouterr().err
        if n == 20:  # 2 held out: eval gan could not score at all
            assert "about 2 image(s) are held out (--val-fraction): eval gan needs more than 5" in err
        else:  # 30 held out: scored, but no audit
            assert "about 30 images are held out" in err and "memorization audit needs 100" in err
    # the audit is skipped there, but not the copy yardstick, which needs no held-out image
    assert main(["eval", "gan", "--ckpt", str(tmp_path / "gan300"), "--n", "300"]) == 0
    result = json.loads((tmp_path / "gan300" / "eval-gan.json").read_text())
    assert "memorization" not in result and result["copy_fid"] >= 0
    assert "FID, training set copied" in capsys.readouterr().out


def test_eval_folder_says_which_images_it_scores_resized(tmp_path, fmnist_test, capsys):
    fake = tmp_path / "other_tool"
    fake.mkdir()
    for i, img in enumerate(fmnist_test[:40, 0].numpy()):
        Image.fromarray(np.ascontiguousarray(img)).save(fake / f"{i:03d}.png")
    Image.fromarray(np.zeros((64, 48, 3), np.uint8)).save(fake / "big.png")
    assert main(["eval", "folder", "--real", "fashion-mnist", "--fake", str(fake), "--out",
                 str(tmp_path / "s.json")]) == 0
    err = capsys.readouterr().err
    assert "1 of 41 images are not 28x28 grayscale as the reference images are (e.g. big.png, 48x64 colour" in err
