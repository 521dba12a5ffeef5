"""compress/decompress write only inside the output folder, and never one input's image over another's."""

import os

import pytest
from PIL import Image

from ganvq.cli import main


def _png(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image[0].numpy(), "L").save(path)


@pytest.mark.parametrize("relative", [".", ".."])
def test_dot_inputs_among_several_write_inside_the_output_folder(tmp_path, tiny_prior_run, test_images, relative,
                                                                 monkeypatch, capsys):
    here = tmp_path / "photos" / "day"
    _png(here / "a.png", test_images[0])
    _png(tmp_path / "other" / "b.png", test_images[1])
    monkeypatch.chdir(here)
    out = tmp_path / "out"
    assert main(["compress", relative, str(tmp_path / "other"), "-o", str(out), "--ckpt", str(tiny_prior_run)]) == 0
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.gvq"))
    label = "day" if relative == "." else "photos"
    assert f"{label}/{'a' if relative == '.' else 'day/a'}.gvq" in written and "other/b.gvq" in written
    # nothing escaped: every .gvq under tmp_path lies inside out/
    assert all(out in p.parents for p in tmp_path.rglob("*.gvq"))
    assert not any(p.suffix == ".gvq" for p in tmp_path.parent.iterdir())

    sources = set(tmp_path.rglob("*.png"))
    back = tmp_path / "back"
    monkeypatch.chdir(out)
    assert main(["decompress", ".", "-o", str(back), "--ckpt", str(tiny_prior_run)]) == 0
    assert main(["decompress", label, ".", "-o", str(back / "again"), "--ckpt", str(tiny_prior_run)]) == 0
    new = set(tmp_path.rglob("*.png")) - sources
    assert len(new) == 2 + 3 and all(back in p.parents for p in new)
    assert not any(p.suffix == ".png" for p in tmp_path.parent.iterdir())


def test_compress_refuses_two_inputs_with_one_output(tmp_path, tiny_prior_run, test_images, capsys):
    _png(tmp_path / "a" / "g" / "x.png", test_images[0])
    _png(tmp_path / "b" / "g" / "x.png", test_images[1])
    out = tmp_path / "out"
    capsys.readouterr()
    assert main(["compress", str(tmp_path / "a" / "g" / "x.png"), str(tmp_path / "b" / "g" / "x.png"), "-o", str(out),
                 "--ckpt", str(tiny_prior_run)]) == 2
    err = capsys.readouterr().err.strip()
    assert "would both be written to" in err and len(err.splitlines()) == 1
    assert not out.exists() or not any(out.rglob("*.gvq"))  # refused before anything was written


def test_decompress_refuses_two_files_with_one_output(tmp_path, tiny_prior_run, test_images, capsys):
    for name, image in (("a", test_images[0]), ("b", test_images[1])):
        _png(tmp_path / "src" / f"{name}.png", image)
        assert main(["compress", str(tmp_path / "src" / f"{name}.png"), "-o", str(tmp_path / name / "g" / "x.gvq"),
                     "--ckpt", str(tiny_prior_run)]) == 0
    out = tmp_path / "out"
    capsys.readouterr()
    assert main(["decompress", str(tmp_path / "a" / "g" / "x.gvq"), str(tmp_path / "b" / "g" / "x.gvq"),
                 "-o", str(out), "--ckpt", str(tiny_prior_run)]) == 2
    err = capsys.readouterr().err.strip()
    assert "would both be written to" in err and str(out / "x.png") in err and len(err.splitlines()) == 1
    assert not out.exists() or not any(out.rglob("*.png"))


def test_a_file_of_several_images_may_not_collide_with_a_file_in_its_folder(tmp_path, tiny_prior_run, test_images,
                                                                           capsys):
    """x.gvq holding 3 images decodes to x/00000.png..x/00002.png, where x/00000.gvq's image would go too."""
    gvq = tmp_path / "gvq"
    for i in range(3):
        _png(tmp_path / "three" / f"{i}.png", test_images[i])
    assert main(["compress", str(tmp_path / "three"), "-o", str(gvq / "x.gvq"), "--ckpt", str(tiny_prior_run)]) == 0
    _png(tmp_path / "one" / "00000.png", test_images[5])
    assert main(["compress", str(tmp_path / "one"), "-o", str(gvq / "x"), "--ckpt", str(tiny_prior_run)]) == 0
    out = tmp_path / "out"
    capsys.readouterr()
    assert main(["decompress", str(gvq), "-o", str(out), "--ckpt", str(tiny_prior_run)]) == 2
    err = capsys.readouterr().err.strip()
    assert "would both be written to" in err and str(out / "x" / "00000.png") in err, err
    assert not out.exists() or not any(out.rglob("*.png"))  # every output is claimed before any is written


def test_a_file_output_may_not_be_another_inputs_folder(tmp_path, tiny_prior_run, test_images, capsys):
    """in/x.png -> OUT/x.gvq, while in/x.gvq/y.png -> OUT/x.gvq/y.gvq needs OUT/x.gvq to be a folder."""
    _png(tmp_path / "in" / "x.png", test_images[0])
    _png(tmp_path / "in" / "x.gvq" / "y.png", test_images[1])
    out = tmp_path / "out"
    capsys.readouterr()
    assert main(["compress", str(tmp_path / "in"), "-o", str(out), "--ckpt", str(tiny_prior_run)]) == 2
    err = capsys.readouterr().err.strip()
    assert "would both be written to" in err and len(err.splitlines()) == 1, err
    assert not out.exists() or not any(out.rglob("*.gvq"))


def test_an_output_name_may_not_step_out_of_its_folder(tmp_path, tiny_prior_run, test_images, capsys):
    for i in range(2):
        _png(tmp_path / "two" / f"{i}.png", test_images[i])
    gvq = tmp_path / "gvq" / "sub" / "...gvq"  # its stem is ".."
    assert main(["compress", str(tmp_path / "two"), "-o", str(gvq), "--ckpt", str(tiny_prior_run)]) == 0
    capsys.readouterr()
    assert main(["decompress", str(tmp_path / "gvq"), "-o", str(tmp_path / "out"), "--ckpt", str(tiny_prior_run)]) == 2
    assert "steps out of its folder" in capsys.readouterr().err


def test_an_output_folder_symlinked_elsewhere_is_not_written_through(tmp_path, tiny_prior_run, test_images, capsys):
    _png(tmp_path / "in" / "sub" / "a.png", test_images[0])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(elsewhere, out / "sub")
    capsys.readouterr()
    assert main(["compress", str(tmp_path / "in"), "-o", str(out), "--ckpt", str(tiny_prior_run)]) == 2
    assert "outside" in capsys.readouterr().err
    assert not any(elsewhere.iterdir())


def test_compress_skips_and_lists_a_folders_unreadable_files_in_both_output_forms(tmp_path, tiny_prior_run,
                                                                                  test_images, capsys):
    import numpy as np

    folder = tmp_path / "photos"
    for i in range(300):  # more than one 256-image chunk of a one-file output
        _png(folder / f"{i:03d}.png", test_images[i % len(test_images)])
    (folder / "000a.png").write_text("not an image")  # sorted early: the first batch comes up short
    (folder / "001a.png").write_bytes((folder / "001.png").read_bytes()[:40])  # truncated
    capsys.readouterr()
    assert main(["compress", str(folder), "-o", str(tmp_path / "each"), "--ckpt", str(tiny_prior_run)]) == 0
    err = capsys.readouterr().err
    assert "skipped 2 unreadable file(s) of 302: " in err and "000a.png" in err and "001a.png" in err
    assert len(list((tmp_path / "each").glob("*.gvq"))) == 300
    one = tmp_path / "all.gvq"
    assert main(["compress", str(folder), "-o", str(one), "--batch", "256", "--ckpt", str(tiny_prior_run)]) == 0
    assert "skipped 2 unreadable file(s) of 302" in capsys.readouterr().err
    assert main(["decompress", str(one), "-o", str(tmp_path / "back"), "--ckpt", str(tiny_prior_run)]) == 0
    assert main(["decompress", str(tmp_path / "each"), "-o", str(tmp_path / "back-each"),
                 "--ckpt", str(tiny_prior_run)]) == 0
    back = sorted((tmp_path / "back").rglob("*.png"))
    each = sorted((tmp_path / "back-each").rglob("*.png"))
    assert len(back) == len(each) == 300  # the chunks stay whole: every image comes back, in order
    assert all(np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b))) for a, b in zip(back, each))
    (folder / "lone.png").write_text("not an image")  # named on its own, an unreadable file is still an error
    lone = ["compress", str(folder / "lone.png"), "-o", str(tmp_path / "lone"), "--ckpt", str(tiny_prior_run)]
    assert main(lone) == 2
    assert "lone.png: cannot read image" in capsys.readouterr().err
