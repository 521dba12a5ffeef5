import json

import numpy as np
import torch
from PIL import Image

from ganvq.cli import main


def _write_pngs(folder, images):
    for i, img in enumerate(images):
        sub = folder / ("shoes" if i % 2 else "shirts")
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img[0].numpy(), "L").save(sub / f"{i:02d}.png")


def test_compress_and_decompress_a_folder(tmp_path, prior_run, codec, test_images, capsys):
    _write_pngs(tmp_path / "in", test_images[:9])
    capsys.readouterr()
    assert main(["compress", str(tmp_path / "in"), "-o", str(tmp_path / "gvq"), "--ckpt", str(prior_run),
                 "--batch", "4"]) == 0
    summary = json.loads(capsys.readouterr().out)
    files = sorted(p.relative_to(tmp_path / "gvq").as_posix() for p in (tmp_path / "gvq").rglob("*.gvq"))
    assert files == sorted(f"{'shoes' if i % 2 else 'shirts'}/{i:02d}.gvq" for i in range(9))
    assert summary["images"] == 9 and summary["bytes"] == sum(p.stat().st_size for p in (tmp_path / "gvq").rglob("*.gvq"))

    assert main(["decompress", str(tmp_path / "gvq"), "-o", str(tmp_path / "out"), "--ckpt", str(prior_run),
                 "--batch", "5"]) == 0
    expected = codec.decode_images(codec.encode_images(test_images[:9]))
    for i in range(9):
        png = tmp_path / "out" / ("shoes" if i % 2 else "shirts") / f"{i:02d}.png"
        assert np.array_equal(np.asarray(Image.open(png)), expected[i, 0].numpy())


def test_one_file_for_many_images_and_one_png_for_one(tmp_path, prior_run, codec, test_images, capsys):
    assert main(["compress", "fashion-mnist", "--limit", "12", "-o", str(tmp_path / "all.gvq"),
                 "--ckpt", str(prior_run)]) == 0
    assert torch.equal(codec.decompress((tmp_path / "all.gvq").read_bytes()),
                       codec.decode_images(codec.encode_images(test_images[:12])))
    assert main(["decompress", str(tmp_path / "all.gvq"), "-o", str(tmp_path / "many"), "--ckpt",
                 str(prior_run)]) == 0
    assert len(list((tmp_path / "many" / "all").glob("*.png"))) == 12

    Image.fromarray(test_images[0, 0].numpy(), "L").save(tmp_path / "one.png")
    assert main(["compress", str(tmp_path / "one.png"), "-o", str(tmp_path / "one.gvq"), "--ckpt", str(prior_run)]) == 0
    assert main(["decompress", str(tmp_path / "one.gvq"), "-o", str(tmp_path / "back.png"), "--ckpt",
                 str(prior_run)]) == 0
    assert np.asarray(Image.open(tmp_path / "back.png")).shape == (28, 28)


def test_bad_codec_inputs_exit_2_with_one_line(tmp_path, tiny_prior_run, tiny_vqvae_run, capsys):
    Image.new("L", (32, 32)).save(tmp_path / "big.png")
    Image.new("RGB", (28, 28)).save(tmp_path / "colour.png")
    (tmp_path / "fake.gvq").write_bytes(b"hello, world")
    (tmp_path / "cut.gvq").write_bytes(b"GQ\x10")
    cases = {
        "32x32": ["compress", str(tmp_path / "big.png"), "-o", str(tmp_path / "o1")],
        "colour": ["compress", str(tmp_path / "colour.png"), "-o", str(tmp_path / "o2")],
        "not a .gvq file": ["decompress", str(tmp_path / "fake.gvq"), "-o", str(tmp_path / "o3")],
        "truncated": ["decompress", str(tmp_path / "cut.gvq"), "-o", str(tmp_path / "o4")],
        "no such file": ["decompress", str(tmp_path / "none.gvq"), "-o", str(tmp_path / "o5")],
    }
    for message, argv in cases.items():
        capsys.readouterr()
        assert main([*argv, "--ckpt", str(tiny_prior_run)]) == 2, message
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    assert main(["compress", str(tmp_path / "big.png"), "-o", str(tmp_path / "o6"), "--ckpt", str(tiny_vqvae_run)]) == 2
    assert "not a prior" in capsys.readouterr().err


def test_compress_reports_quality_and_picks_a_rate_among_models(tmp_path, tiny_prior_run, tiny_local_prior_run,
                                                                test_images, capsys):
    from ganvq.codec import Codec
    from ganvq.metrics.recon import mean_psnr_ssim

    capsys.readouterr()
    assert main(["compress", "fashion-mnist", "--limit", "8", "-o", str(tmp_path / "a.gvq"),
                 "--ckpt", str(tiny_prior_run)]) == 0
    summary = json.loads(capsys.readouterr().out)
    codec = Codec.from_checkpoint(tiny_prior_run)
    decoded = codec.decode_images(codec.encode_images(test_images[:8]))
    psnr, ssim = mean_psnr_ssim(test_images[:8].double() / 255, decoded.double() / 255)
    assert summary["psnr_db"] == round(psnr, 3) and summary["ssim"] == round(ssim, 4)
    assert summary["bits_per_pixel"] == round(8 * summary["bytes"] / 8 / 784, 4)  # per pixel position

    two = ["--ckpt", str(tiny_prior_run), "--ckpt", str(tiny_local_prior_run)]
    assert main(["compress", "fashion-mnist", "--limit", "2", "-o", str(tmp_path / "b.gvq"), *two]) == 2
    assert "choose one with --quality" in capsys.readouterr().err
    assert main(["compress", "fashion-mnist", "--limit", "2", "-o", str(tmp_path / "c.gvq"), *two,
                 "--quality", "high"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] in (str(tiny_prior_run), str(tiny_local_prior_run))
