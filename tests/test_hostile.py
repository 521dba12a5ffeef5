"""Every input is untrusted: damaged checkpoints, data files, images, configs and logs end in one error line
(exit 2) or a normal run, never a traceback, and sizes are checked before anything is allocated."""

import gzip
import importlib.util
import json
import struct
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from ganvq.cli import main
from ganvq.errors import GanvqError
from ganvq.io import META_KEY, load_checkpoint, save_checkpoint
from ganvq.runs import CHECKPOINT, open_run

_spec = importlib.util.spec_from_file_location("make_corpus", Path(__file__).parent / "hostile" / "make_corpus.py")
corpus = importlib.util.module_from_spec(_spec)
sys.modules["make_corpus"] = corpus  # dataclasses look their module up while the class is made
_spec.loader.exec_module(corpus)


def run_cli(argv, capsys) -> tuple[int, str]:
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    return rc, capsys.readouterr().err


def assert_one_line_or_success(rc: int, err: str, what: str = "") -> None:
    errors = [line for line in err.splitlines() if not line.startswith("ganvq: warning:")]
    assert "Traceback" not in err, f"{what}: {err}"
    if rc == 0:
        return
    assert rc == 2, f"{what}: exit {rc}: {err}"
    assert len([line for line in errors if line.strip()]) == 1, f"{what}: {err}"
    assert errors[-1].startswith("ganvq") and "error:" in errors[-1], f"{what}: {err}"


@pytest.fixture(scope="module")
def hostile_cases(tmp_path_factory, tiny_vqvae_run):
    folder = tmp_path_factory.mktemp("hostile")
    return corpus.make_corpus(folder, tiny_vqvae_run, seed=0, count=1, bomb_mb=16)


@pytest.mark.parametrize("kind", ["idx", "npz", "image", "checkpoint", "json"])
def test_the_hostile_corpus_never_gives_a_traceback(hostile_cases, kind, capsys, one_thread):
    cases = [c for c in hostile_cases if c.kind == kind]
    assert len(cases) >= 5
    refused = 0
    for case in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image_bomb_warning())  # Pillow's warning must not leak either
            rc, err = run_cli(case.argv, capsys)
        assert_one_line_or_success(rc, err, f"{case.kind}/{case.name}")
        refused += rc == 2
    assert refused >= len(cases) // 2  # most of them are refused, not silently read


def Image_bomb_warning():
    from PIL import Image

    return Image.DecompressionBombWarning


# -- checkpoints ---------------------------------------------------------------------------------------------
def _copy_run(src: Path, dst: Path, change=None, digests: bool = True) -> Path:
    tensors, meta = load_checkpoint(src / CHECKPOINT)
    if change:
        change(tensors, meta)
    dst.mkdir()
    save_checkpoint(dst / CHECKPOINT, tensors, meta)
    if not digests:  # a checkpoint from before the digests existed
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in tensors.items()}, str(dst / CHECKPOINT),
                  metadata={META_KEY: json.dumps(meta)})
    return dst


def test_a_flipped_weight_byte_fails_the_checksum(tmp_path, tiny_vqvae_run):
    run = _copy_run(tiny_vqvae_run, tmp_path / "run")
    raw = bytearray((run / CHECKPOINT).read_bytes())
    (n,) = struct.unpack("<Q", raw[:8])
    raw[8 + n + 1000] ^= 0x55  # somewhere in the tensor data
    (run / CHECKPOINT).write_bytes(bytes(raw))
    with pytest.raises(GanvqError, match="damaged or was altered: tensor .* does not match the checksum"):
        load_checkpoint(run / CHECKPOINT)


def test_checkpoints_without_digests_still_load(tmp_path, tiny_vqvae_run):
    run = _copy_run(tiny_vqvae_run, tmp_path / "old", digests=False)
    assert open_run(run).kind == "vqvae"


@pytest.mark.parametrize("change, message", [
    (lambda t, m: m.pop("step"), "field 'step' is missing"),
    (lambda t, m: m.update(step="abc"), "field 'step' must be a non-negative integer"),
    (lambda t, m: m.update(finished=3), "field 'finished' must be true or false"),
    (lambda t, m: m.pop("optimizers"), "field 'optimizers' is missing"),
    (lambda t, m: m.update(extra=[]), "field 'extra' must be an object"),
    (lambda t, m: t.pop("rng.torch"), "tensor rng.torch .* is missing"),
    (lambda t, m: t.update({"rng.torch": torch.zeros(4, dtype=torch.uint8)}), "tensor rng.torch must be uint8"),
    (lambda t, m: t.update({"model.decoder.net.0.bias": torch.full_like(t["model.decoder.net.0.bias"], float("nan"))}),
     "model.decoder.net.0.bias holds NaN"),
    (lambda t, m: t.update({"optim.adam.state.0.exp_avg": torch.zeros(3)}), "optim.adam.state.0.exp_avg has shape"),
    (lambda t, m: t.pop("optim.adam.state.0.exp_avg"), "names tensor 'optim.adam.state.0.exp_avg'"),
    (lambda t, m: m["extra"]["batches"].update(epoch=-1), "field extra.batches must hold"),
    (lambda t, m: m["optimizers"]["adam"]["param_groups"][0].update(lr="x"), r"param_groups\[0\].lr"),
    (lambda t, m: m["config"]["model"].update(hidden=64), "its config gives"),
])
def test_checkpoint_metadata_is_checked_against_its_schema(tmp_path, tiny_vqvae_run, change, message, capsys):
    # re-saved with fresh digests: the damage is what a tool that writes consistent files could do
    run = _copy_run(tiny_vqvae_run, tmp_path / "bad", change)
    with pytest.raises(GanvqError, match=message):
        open_run(run)
    rc, err = run_cli(["train", "vqvae", "--resume", "--out", run, "--steps", "8"], capsys)
    assert rc == 2 and "not a valid ganvq checkpoint" in err and len(err.strip().splitlines()) == 1, err


# -- data files ----------------------------------------------------------------------------------------------
def test_a_gzip_bomb_is_refused_without_decompressing_it(tmp_path):
    from ganvq.data.idx import read_idx

    bomb = tmp_path / "bomb-idx3-ubyte.gz"
    bomb.write_bytes(gzip.compress(corpus.idx_bytes(np.zeros((2, 28, 28), np.uint8)) + bytes(256 << 20), 9))
    assert bomb.stat().st_size < 1 << 20
    t0 = time.perf_counter()
    with pytest.raises(GanvqError, match="over 65536 unexpected bytes"):
        read_idx(bomb)
    assert time.perf_counter() - t0 < 2  # 256 MB would take several seconds to inflate


def test_sizes_are_checked_against_an_overridable_limit(tmp_path, monkeypatch):
    from ganvq.data.idx import read_idx

    f = tmp_path / "x-idx3-ubyte"
    f.write_bytes(corpus.idx_bytes(np.zeros((4, 28, 28), np.uint8)))
    monkeypatch.setenv("GANVQ_MAX_PIXELS", "1000")
    with pytest.raises(GanvqError, match="3,136 pixel values .* limit of 1,000.*GANVQ_MAX_PIXELS"):
        read_idx(f)
    monkeypatch.setenv("GANVQ_MAX_PIXELS", "4000")
    assert read_idx(f).shape == (4, 28, 28)
    monkeypatch.setenv("GANVQ_MAX_PIXELS", "lots")
    with pytest.raises(GanvqError, match="not a whole number"):
        read_idx(f)


def test_dev_zero_is_not_read_without_end():
    from ganvq.data import load_dataset

    with pytest.raises(GanvqError, match="not a regular file"):
        load_dataset("/dev/zero")


def test_an_npz_declaring_78e9_pixels_is_one_line(tmp_path):
    from ganvq.data.npz import read_npz

    f = tmp_path / "big.npz"
    f.write_bytes(corpus._zip({"x.npy": corpus._npy_header((100_000_000, 28, 28)) + bytes(64)}))
    assert f.stat().st_size < 400
    with pytest.raises(GanvqError, match="declares 78,400,000,000 values"):
        read_npz(f)


def test_an_image_bomb_is_refused_before_decoding_and_pillow_stays_quiet(tmp_path, monkeypatch):
    from ganvq.data.folder import read_image_file

    f = tmp_path / "bomb.png"
    f.write_bytes(corpus.huge_png(10_000, 10_000))  # 100M pixels: above Pillow's warning size
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(GanvqError, match="10000x10000 image .* GANVQ_MAX_IMAGE_PIXELS"):
            read_image_file(f, 28)
    monkeypatch.setenv("GANVQ_MAX_IMAGE_PIXELS", str(200_000_000))
    with pytest.raises(GanvqError, match="cannot read image") as e:  # now decoded: the 64 bytes of data are short
        read_image_file(f, 28)
    assert "limit" not in str(e.value)


def test_hidden_class_folders_are_named_in_a_warning(tmp_path, capsys):
    from PIL import Image

    from ganvq.data import load_dataset

    for name in (".cats/a.png", "dogs/b.png", "dogs/c.png"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / name)
    data = load_dataset(tmp_path, "all", size=8)
    assert len(data) == 2 and data.class_names == ("dogs",)
    assert "skipped 1 image file(s) whose name or folder starts with '.'" in capsys.readouterr().err


def test_decode_refuses_empty_and_oversized_code_arrays(tmp_path, tiny_vqvae_run, capsys):
    empty = tmp_path / "empty.npy"
    np.save(empty, np.zeros((0, 7, 7), np.int64))
    huge = tmp_path / "huge.npy"
    huge.write_bytes(corpus._npy_header((10**9, 7, 7), "<i8") + bytes(64))
    floats = tmp_path / "floats.npy"
    np.save(floats, np.zeros((1, 7, 7), np.float32))
    for codes, message in [(empty, "holds no code maps"), (huge, "49,000,000,000 values"), (floats, "integers")]:
        rc, err = run_cli(["decode", "--ckpt", tiny_vqvae_run, "--codes", codes, "--out", tmp_path / "out"], capsys)
        assert rc == 2 and message in err and len(err.strip().splitlines()) == 1, err


# -- outputs -------------------------------------------------------------------------------------------------
def test_an_output_folder_that_cannot_be_written_is_one_line(tmp_path):
    """A folder that is a file refuses the write and the clean-up alike (as a read-only one does, even for root)."""
    from ganvq.commands.codec_files import _write
    from ganvq.io import atomic_write_bytes

    blocker = tmp_path / "ro"
    blocker.write_bytes(b"a file where the output folder should be")
    for write in (_write, atomic_write_bytes):
        with pytest.raises(GanvqError, match="cannot write"):
            write(blocker / "a.gvq", b"x")
    assert blocker.read_bytes().startswith(b"a file") and sorted(tmp_path.iterdir()) == [blocker]


def test_image_outputs_are_written_in_the_format_their_suffix_names(tmp_path):
    from PIL import Image

    from ganvq.images import save_image

    img = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    for suffix, fmt in [(".jpg", "JPEG"), (".png", "PNG"), (".webp", "WEBP"), (".bmp", "BMP")]:
        save_image(tmp_path / f"x{suffix}", img)
        with Image.open(tmp_path / f"x{suffix}") as f:
            assert f.format == fmt
    with pytest.raises(GanvqError, match="cannot write a .gif image"):
        save_image(tmp_path / "x.gif", img)


# -- options -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, message", [
    ("train vqvae --out R --ckpt-every 0", "--ckpt-every: must be at least 1"),
    ("train gan --out R --log-every 0", "--log-every: must be at least 1"),
    ("train vqvae --out R --lr -1", "--lr: must be positive"),
    ("train vqvae --out R --lr nan", "--lr: must be a finite number"),
    ("train prior --out R --threads -1", "--threads: must be at least 1"),
    ("train vqvae --out R --minutes nan", "--minutes: must be a finite number"),
    ("train vqvae --out R --limit 0", "--limit: must be at least 1"),
    ("reconstruct --ckpt C --input I --out O --limit -5", "--limit: must be at least 1"),
    ("eval vqvae --ckpt C --limit -1", "--limit: must be at least 1"),
    ("sample --ckpt C --out x.png --n 10000000", "--n: must be at most 1,000,000"),
    ("interpolate --ckpt C --out x.png --rows 5000", "--rows: must be at most 1,000"),
    ("sample --ckpt C --out x.png --temperature 0", "--temperature: must be positive"),
    ("sample --ckpt C --out x.png --n 20000", "too many for one grid"),
    ("sample --ckpt C --out x.gif", "cannot write a .gif image"),
    ("compress I -o O --ckpt C --batch 0", "--batch: must be at least 1"),
])
def test_bad_option_values_are_one_line_and_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        rc = main(argv.split())
        raise SystemExit(rc)
    err = capsys.readouterr().err
    assert e.value.code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_every_whole_number_option_accepts_the_default_its_help_names():
    """An option whose help says its default is 0 must take 0 when given (--subset-seed 0 was refused)."""
    import re

    from ganvq.cli import build_parser
    from ganvq.cli.parser import subcommands

    checked = []
    for path, parser in subcommands(build_parser()):
        for action in parser._actions:
            if getattr(action.type, "__name__", "") != "whole number":
                continue
            for default in re.findall(r"default:? (?:[^()]*\belse )?(-?\d[\d,_]*)\)", action.help or ""):
                value = action.type(default.replace(",", ""))  # raises argparse.ArgumentTypeError when refused
                checked.append((" ".join(path), action.option_strings[-1], value))
    assert ("train gan", "--subset-seed", 0) in checked and ("eval gan", "--subset-seed", 0) in checked
    assert len(checked) > 20, checked


def test_device_that_is_not_there_is_one_line(tmp_path, capsys):
    npz = tmp_path / "x.npz"
    np.savez(npz, x=np.zeros((4, 28, 28), np.uint8))
    rc, err = run_cli(["train", "vqvae", "--data", npz, "--out", tmp_path / "r", "--steps", "1", "--device", "mps"],
                      capsys)
    assert rc == 2 and "mps" in err and len(err.strip().splitlines()) == 1, err


def test_wrong_types_in_a_config_file_name_the_option(tmp_path, capsys):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"train": {"lr": "fast"}}))
    rc, err = run_cli(["train", "vqvae", "--config", cfg, "--out", tmp_path / "r"], capsys)
    assert rc == 2 and "'train.lr' must be float" in err, err


def test_a_torn_metrics_line_is_skipped_by_readers(tmp_path, tiny_vqvae_run):
    from ganvq.runs import read_metrics

    log = (tiny_vqvae_run / "metrics.jsonl").read_text()
    (tmp_path / "metrics.jsonl").write_text(log + log.splitlines()[-1][:7])
    assert read_metrics(tmp_path) == read_metrics(tiny_vqvae_run)
