import gzip
import json

import numpy as np
from PIL import Image

from ganvq.cli import main

TINY = ["--preset", "fmnist-7x7", "--steps", "4", "--batch-size", "16", "--limit", "128",
        "--precision", "fp32", "--codebook-size", "16"]


def test_cli_trains_reconstructs_encodes_decodes_and_evaluates(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["--quiet", "train", "vqvae", "--out", str(run), *TINY]) == 0
    assert (run / "checkpoint.safetensors").exists() and (run / "config.json").exists()

    assert main(["reconstruct", "--ckpt", str(run), "--input", "fashion-mnist", "--limit", "10",
                 "--out", str(tmp_path / "rec")]) == 0
    assert len(list((tmp_path / "rec").glob("0*.png"))) == 10
    assert Image.open(tmp_path / "rec" / "grid.png").size[0] > 28

    codes = tmp_path / "codes.npy"
    assert main(["encode", "--ckpt", str(run), "--input", "fashion-mnist", "--limit", "5", "--out", str(codes)]) == 0
    array = np.load(codes)
    assert array.shape == (5, 7, 7) and array.max() < 16
    (tmp_path / "dir.npy").mkdir()
    for out, message in ((tmp_path / "codes.png", "encode writes a NumPy array; give a file name ending in .npy"),
                         (tmp_path / "dir.npy", "is a folder; give a file name ending in .npy")):
        capsys.readouterr()
        assert main(["encode", "--ckpt", str(run), "-i", "fashion-mnist", "--limit", "2", "-o", str(out)]) == 2
        assert message in capsys.readouterr().err
    assert main(["decode", "--ckpt", str(run), "--codes", str(codes), "--out", str(tmp_path / "dec")]) == 0
    assert len(list((tmp_path / "dec").glob("0*.png"))) == 5

    capsys.readouterr()
    assert main(["eval", "vqvae", "--ckpt", str(run), "--limit", "200", "--out", str(tmp_path / "e.json")]) == 0
    printed = json.loads(capsys.readouterr().out)
    written = json.loads((tmp_path / "e.json").read_text())
    assert written["test/images"] == 200 and printed["test/psnr"] == written["test/psnr"]
    assert written["bits_per_pixel_raw"] == 49 * 4 / 784

    assert main(["report", "--ckpt", str(run), "--out", str(tmp_path / "r.html"), "--images", "100"]) == 0
    assert "Codebook atlas" in (tmp_path / "r.html").read_text()


def _error_of(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    return code, err


def test_bad_inputs_give_one_line_errors_and_exit_2(tmp_path, capsys):
    bad_gz = tmp_path / "bad" / "train-images-idx3-ubyte.gz"
    bad_gz.parent.mkdir()
    bad_gz.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + b"\x00" * 100)[:-10])
    wrong_magic = tmp_path / "magic-idx3-ubyte"
    wrong_magic.write_bytes(b"\x12\x34\x08\x03" + b"\x00" * 12)
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = {
        "missing": ["train", "vqvae", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "r1"), *TINY],
        "truncated": ["train", "vqvae", "--data", str(bad_gz), "--out", str(tmp_path / "r2"), *TINY],
        "magic": ["train", "vqvae", "--data", str(wrong_magic), "--out", str(tmp_path / "r3"), *TINY],
        "empty": ["train", "vqvae", "--data", str(empty), "--out", str(tmp_path / "r4"), *TINY],
        "no ckpt": ["eval", "vqvae", "--ckpt", str(tmp_path / "none.safetensors")],
        "not a ckpt": ["eval", "vqvae", "--ckpt", str(wrong_magic)],
        "resume nothing": ["train", "vqvae", "--out", str(tmp_path / "r5"), "--resume"],
    }
    expected = {"missing": "nope", "truncated": "truncated", "magic": "magic", "empty": "empty",
                "no ckpt": "not found", "not a ckpt": "not a valid", "resume nothing": "not found"}
    for name, argv in cases.items():
        code, err = _error_of(capsys, argv)
        assert code == 2, name
        assert err.startswith("ganvq: error:") and len(err.splitlines()) == 1, (name, err)
        assert expected[name] in err.lower(), (name, err)
        assert "Traceback" not in err


def test_decode_rejects_codes_outside_the_codebook(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["--quiet", "train", "vqvae", "--out", str(run), *TINY]) == 0
    np.save(tmp_path / "c.npy", np.full((1, 7, 7), 99))
    code, err = _error_of(capsys, ["decode", "--ckpt", str(run), "--codes", str(tmp_path / "c.npy"),
                                   "--out", str(tmp_path / "d")])
    assert code == 2 and "[0, 15]" in err


def test_cli_minutes_budget_alone_trains(tmp_path):
    argv = [a for a in TINY if a not in ("--steps", "4")]
    assert main(["--quiet", "train", "vqvae", "--out", str(tmp_path), "--minutes", "0.01", *argv]) == 0
    assert json.loads((tmp_path / "config.json").read_text())["train"]["steps"] is None


def test_folder_input_warns_about_skipped_files_and_single_files_work(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["--quiet", "train", "vqvae", "--out", str(run), *TINY]) == 0
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(photos / f"p{i}.png")
    (photos / "broken.jpg").write_bytes(b"not a jpeg at all")
    capsys.readouterr()

    assert main(["reconstruct", "--ckpt", str(run), "--input", str(photos), "--out", str(tmp_path / "rec")]) == 0
    err = capsys.readouterr().err
    assert "skipped 1 unreadable file(s) of 4" in err and "broken.jpg" in err
    assert sorted(p.name for p in (tmp_path / "rec").glob("p*.png")) == ["p0.png", "p1.png", "p2.png"]

    assert main(["reconstruct", "--ckpt", str(run), "--input", str(photos / "p1.png"),
                 "--out", str(tmp_path / "one")]) == 0
    assert Image.open(tmp_path / "one" / "p1.png").size == (28, 28)

    code, err = _error_of(capsys, ["train", "vqvae", "--data", str(photos), "--on-bad", "fail",
                                   "--out", str(tmp_path / "r"), *TINY])
    assert code == 2 and "broken.jpg" in err
