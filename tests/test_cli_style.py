"""The command line as a user meets it: --version, global options anywhere, "did you mean", help with defaults and
an example, one flag style across commands, input names kept, progress lines in a log and none with --quiet."""

import argparse
import contextlib
import io
import re
import shlex
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganvq.cli import build_parser, main
from ganvq.cli.parser import subcommands
from ganvq.errors import GanvqError

FILE_COMMANDS = ["compress", "decompress", "reconstruct", "encode", "decode"]


def _usage_error(capsys, argv) -> str:
    """The one stderr line of a usage error (exit 2)."""
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err.strip()


def test_version_comes_from_the_package_metadata(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"ganvq {metadata.version('ganvq')}"


def test_global_options_work_before_and_after_the_command():
    parser = build_parser()
    after = parser.parse_args(["eval", "vqvae", "--ckpt", "X", "--quiet"])
    before = parser.parse_args(["--quiet", "eval", "vqvae", "--ckpt", "X"])
    neither = parser.parse_args(["eval", "vqvae", "--ckpt", "X"])
    assert after.quiet and before.quiet and not neither.quiet
    assert not after.debug and not before.debug  # a flag given before is not reset by the command's copy
    assert parser.parse_args(["--debug", "train", "vqvae", "--quiet"]).debug


def test_debug_after_the_command_shows_the_traceback(tmp_path, capsys):
    assert main(["eval", "vqvae", "--ckpt", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.startswith("ganvq: error:")
    with pytest.raises(GanvqError):
        main(["eval", "vqvae", "--ckpt", str(tmp_path / "missing"), "--debug"])


@pytest.mark.parametrize(("argv", "line"), [
    (["trian"], "ganvq: error: unknown command 'trian'; did you mean 'train'?"),
    (["train", "vqvea"], "ganvq train: error: unknown model 'vqvea'; did you mean 'vqvae'?"),
    (["train", "vqvae", "--preset", "fmnist-7x8"],
     "ganvq train vqvae: error: argument --preset: invalid choice 'fmnist-7x8'; did you mean 'fmnist-7x7'?"),
    (["train", "vqvae", "--stpes", "5"], "ganvq train vqvae: error: unknown option '--stpes'; did you mean '--steps'?"),
    (["eval", "vqvae", "--ckpt", "X", "--qiuet"],
     "ganvq eval vqvae: error: unknown option '--qiuet'; did you mean '--quiet'?"),
    (["eval", "gan", "--ckpt", "X", "--features", "incepton"],
     "ganvq eval gan: error: argument --features: invalid choice 'incepton'; did you mean 'inception'?"),
    # a mistyped required option: the typo is named, not the option it left missing
    (["sample", "--ckpt", "X", "--outdir", "out"], "ganvq sample: error: unknown option '--outdir'; did you mean "
                                                   "'--out-dir'?"),
    (["report", "X", "--output", "r.html"], "ganvq report: error: unknown option '--output'; did you mean '--out'?"),
    # a prefix is not taken for the option (it would change meaning once a longer option starts alike)
    (["train", "vqvae", "--dat", "x", "--out", "y"],
     "ganvq train vqvae: error: unknown option '--dat'; did you mean '--data'?"),
    (["eval", "gan", "--ckpt", "X", "--util"], "ganvq eval gan: error: unknown option '--util'; did you mean '--utility'?"),
])
def test_a_mistyped_word_names_the_closest_one_on_one_line(capsys, argv, line):
    assert _usage_error(capsys, argv) == line


def test_an_unknown_word_with_no_close_match_points_to_the_commands_help(capsys):
    err = _usage_error(capsys, ["sample", "--ckpt", "X", "-o", "g.png", "--zzzzzz"])
    assert err == "ganvq sample: error: unrecognized arguments: --zzzzzz (see ganvq sample --help)"
    assert "choose from" in _usage_error(capsys, ["xyzzy"])


def _commands():
    return [(path, p) for path, p in subcommands(build_parser())]


def test_every_option_has_help_and_every_command_an_example():
    for path, parser in _commands():
        assert "example:\n  ganvq " in parser.format_help(), path
        for action in parser._actions:
            if not isinstance(action, argparse._SubParsersAction):
                assert action.help, (path, action.option_strings or action.dest)


def test_help_shows_defaults():
    commands = {path: " ".join(p.format_help().split()) for path, p in _commands()}  # unwrapped
    sample = commands[("sample",)]
    assert "(default: 64)" in sample and "(default: auto)" in sample
    assert "(default: None)" not in sample and "(default: False)" not in sample
    assert "images coded at a time, which bounds memory (default: 1000)" in commands[("compress",)]


def test_every_device_option_defaults_to_auto():
    devices = {path: a.default for path, p in _commands() for a in p._actions if a.dest == "device"}
    assert {("compress",), ("decompress",), ("reconstruct",), ("encode",), ("decode",), ("eval", "vqvae"),
            ("sample",), ("interpolate",)} <= set(devices)
    # training leaves it to the run config, whose default is auto too
    assert all(d == "auto" for path, d in devices.items() if path[0] != "train"), devices


@pytest.mark.parametrize("command", FILE_COMMANDS)
def test_file_commands_share_one_flag_style(command):
    parser = build_parser()
    short = parser.parse_args([command, "-i", "a", "-o", "b", "--ckpt", "c"])
    long = parser.parse_args([command, "--input", "a", "--out", "b", "--ckpt", "c"])
    positional = parser.parse_args([command, "a", "-o", "b", "--ckpt", "c"])
    for args in (short, long, positional):
        assert args.out == "b"
        assert [*([args.inputs] if isinstance(args.inputs, str) else args.inputs or []), *args.input_options] == ["a"]


def test_older_spellings_still_parse():
    parser = build_parser()
    assert parser.parse_args(["decode", "--codes", "c.npy", "--out", "d", "--ckpt", "r"]).codes == "c.npy"
    assert parser.parse_args(["compress", "a", "b", "-o", "o", "--ckpt", "r"]).inputs == ["a", "b"]
    assert parser.parse_args(["report", "--ckpt", "r", "--out", "x.html"]).ckpt == ["r"]


def test_sample_counts_take_n_short_and_long_and_keep_their_bounds():
    parser = build_parser()
    for argv in (["sample", "--ckpt", "r", "-o", "s.png"], ["eval", "gan", "--ckpt", "r"],
                 ["audit", "membership", "--ckpt", "r"]):
        assert parser.parse_args([*argv, "-n", "7"]).n == parser.parse_args([*argv, "--n", "7"]).n == 7
        with pytest.raises(SystemExit), contextlib.redirect_stderr(io.StringIO()):
            parser.parse_args([*argv, "-n", "0"])


def _photos(folder, names):
    rng = np.random.default_rng(0)
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (28, 28), dtype=np.uint8)).save(folder / name)


def test_reconstruct_keeps_the_input_file_names(tmp_path, tiny_vqvae_run, capsys):
    photos = tmp_path / "photos"
    _photos(photos, ["shirt.png", "tops/a.png", "tops/a.jpg", "grid.png"])
    out = tmp_path / "rec"
    assert main(["--quiet", "reconstruct", str(photos), "-o", str(out), "--ckpt", str(tiny_vqvae_run)]) == 0
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    # a.png and a.jpg keep apart; an input called grid keeps its name and the grid moves aside
    assert written == ["ganvq-grid.png", "grid.png", "shirt.png", "tops/a_jpg.png", "tops/a_png.png"]
    assert main(["--quiet", "reconstruct", "-i", str(photos / "shirt.png"), "-o", str(tmp_path / "one"),
                 "--ckpt", str(tiny_vqvae_run)]) == 0
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == ["grid.png", "shirt.png"]
    assert main(["--quiet", "reconstruct", "-i", "fashion-mnist", "--limit", "3", "-o", str(tmp_path / "ds"),
                 "--ckpt", str(tiny_vqvae_run)]) == 0  # a dataset's images are numbered
    assert sorted(p.name for p in (tmp_path / "ds").iterdir()) == ["00000.png", "00001.png", "00002.png", "grid.png"]
    err = _usage_free_error(capsys, ["reconstruct", "a", "-i", "b", "-o", "x", "--ckpt", str(tiny_vqvae_run)])
    assert "takes one input" in err


def _usage_free_error(capsys, argv) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    return capsys.readouterr().err


def test_long_commands_print_progress_lines_in_a_log_and_nothing_when_quiet(tmp_path, tiny_vqvae_run, capsys,
                                                                           monkeypatch):
    monkeypatch.setenv("GANVQ_PROGRESS_SECONDS", "0")
    run = str(tiny_vqvae_run)
    commands = {
        "encode": ["encode", "-i", "fashion-mnist", "--limit", "40", "-o", str(tmp_path / "c.npy"), "--ckpt", run],
        "decode": ["decode", str(tmp_path / "c.npy"), "-o", str(tmp_path / "d"), "--ckpt", run],
        "reconstruct": ["reconstruct", "fashion-mnist", "--limit", "40", "-o", str(tmp_path / "r"), "--ckpt", run],
        "eval vqvae": ["eval", "vqvae", "--ckpt", run, "--limit", "40", "-o", str(tmp_path / "e.json")],
        "report": ["report", run, "-o", str(tmp_path / "r.html")],
    }
    for desc, argv in commands.items():
        capsys.readouterr()
        assert main(argv) == 0, desc
        lines = capsys.readouterr().err.splitlines()
        assert any(line.startswith(f"{desc}: ") and "took" in line for line in lines), (desc, lines)
        if desc != "report":
            assert any("image 40/40 (100%)" in line for line in lines), (desc, lines)
        assert main([*argv, "--quiet"]) == 0
        assert capsys.readouterr().err == "", desc


def test_compress_and_decompress_report_progress(tmp_path, tiny_prior_run, capsys, monkeypatch):
    monkeypatch.setenv("GANVQ_PROGRESS_SECONDS", "0")
    run = str(tiny_prior_run)
    assert main(["compress", "-i", "fashion-mnist", "--limit", "20", "-o", str(tmp_path / "g"), "--ckpt", run,
                 "--batch", "8"]) == 0
    err = capsys.readouterr().err
    assert "compress: image 8/20 (40%)" in err and "psnr_db" in err and "compress: image 20/20 (100%)" in err
    assert main(["decompress", str(tmp_path / "g"), "-o", str(tmp_path / "png"), "--ckpt", run, "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    assert main(["decompress", str(tmp_path / "g"), "-o", str(tmp_path / "png2"), "--ckpt", run]) == 0
    assert "decompress: image 20/20 (100%)" in capsys.readouterr().err


def test_every_command_in_the_guide_and_readme_parses():
    root = Path(__file__).resolve().parents[1]
    parser = build_parser()
    lines = [line.split(" #")[0].strip()
             for doc in ("docs/guide.md", "README.md")
             for block in re.findall(r"```sh\n(.*?)```", (root / doc).read_text(encoding="utf-8"), re.DOTALL)
             for line in block.splitlines()]
    commands = [line for line in lines if line.startswith("ganvq ") and line != "ganvq --version"]
    assert len(commands) > 20
    for command in commands:
        with contextlib.redirect_stderr(io.StringIO()) as err:
            try:
                parser.parse_args(shlex.split(command)[1:])
            except SystemExit:
                pytest.fail(f"{command}: {err.getvalue().strip()}")
