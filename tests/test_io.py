import json
import os

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

from ganvq.errors import GanvqError
from ganvq.io import (
    append_jsonl,
    atomic_write_bytes,
    atomic_write_text,
    flatten_state,
    load_checkpoint,
    read_json,
    save_checkpoint,
    unflatten_state,
    write_json,
)


def test_atomic_write_creates_parents_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "a" / "b" / "out.bin"
    atomic_write_bytes(path, b"first")
    atomic_write_bytes(path, b"second")
    assert path.read_bytes() == b"second"
    assert os.listdir(path.parent) == ["out.bin"]


def test_write_json_round_trips_and_text_is_utf8(tmp_path):
    write_json(tmp_path / "c.json", {"b": [1, 2.5, None], "a": "é"})
    assert read_json(tmp_path / "c.json") == {"b": [1, 2.5, None], "a": "é"}
    atomic_write_text(tmp_path / "t.txt", "héllo")
    assert (tmp_path / "t.txt").read_bytes() == "héllo".encode()


def test_write_json_takes_numpy_and_0d_tensor_scalars_and_writes_nothing_it_cannot_serialise(tmp_path):
    import numpy as np

    write_json(tmp_path / "n.json", {"met": np.float64(0.6) < 1, "bpp": np.float32(0.5), "steps": torch.tensor(3)})
    assert read_json(tmp_path / "n.json") == {"met": True, "bpp": 0.5, "steps": 3}
    with pytest.raises(TypeError, match="ndarray is not JSON serializable"):
        write_json(tmp_path / "bad.json", {"array": np.zeros(2)})
    assert not (tmp_path / "bad.json").exists()


def test_unwritable_target_raises_ganvq_error_and_cleans_up(tmp_path):
    (tmp_path / "dir").mkdir()
    with pytest.raises(GanvqError, match="cannot write .*dir"):
        atomic_write_bytes(tmp_path / "dir", b"x")  # target is a directory
    assert os.listdir(tmp_path) == ["dir"]
    (tmp_path / "file").write_text("")
    with pytest.raises(GanvqError, match="cannot write .*sub.json: .*file is a file, not a folder"):
        write_json(tmp_path / "file" / "sub.json", {})  # parent is a file


def test_read_json_errors_name_the_file(tmp_path):
    with pytest.raises(GanvqError, match="not found"):
        read_json(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(GanvqError, match="bad.json is not valid JSON"):
        read_json(tmp_path / "bad.json")


def test_append_jsonl_appends_one_line_per_record(tmp_path):
    path = tmp_path / "run" / "metrics.jsonl"
    append_jsonl(path, {"step": 1, "train/loss": 0.5})
    append_jsonl(path, {"step": 2, "train/loss": 0.25})
    lines = path.read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2]


def test_checkpoint_round_trips_tensors_and_meta(tmp_path):
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    tensors = {
        "w": base,
        "w_tied": base,  # same storage twice: must be cloned, not rejected
        "w_t": base.t(),  # non-contiguous view
        "row": base[1],  # view into a larger storage
        "scalar": torch.tensor(3.0),
        "codes": torch.randint(0, 9, (2, 5), dtype=torch.int64),
        "mask": torch.tensor([True, False]),
        "bf16": torch.ones(2, dtype=torch.bfloat16),
        "rng": torch.get_rng_state(),
    }
    meta = {"step": 7, "config": {"lr": 1e-3, "name": "x"}, "finished": False, "note": None}
    path = tmp_path / "ckpt.safetensors"
    save_checkpoint(path, tensors, meta)
    loaded, loaded_meta = load_checkpoint(path)
    assert loaded_meta == meta
    assert loaded.keys() == tensors.keys()
    for k, v in tensors.items():
        assert loaded[k].dtype == v.dtype and torch.equal(loaded[k], v), k
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.safetensors"]


def test_rng_state_round_trip_reproduces_the_random_stream(tmp_path):
    torch.manual_seed(123)
    save_checkpoint(tmp_path / "c", {"rng": torch.get_rng_state()}, {})
    expected = torch.rand(5)
    torch.manual_seed(0)
    torch.set_rng_state(load_checkpoint(tmp_path / "c")[0]["rng"])
    assert torch.equal(torch.rand(5), expected)


def test_missing_checkpoint_error(tmp_path):
    with pytest.raises(GanvqError, match="checkpoint not found: .*nope.safetensors"):
        load_checkpoint(tmp_path / "nope.safetensors")


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda b: b"",
        lambda b: b"hello world, not a checkpoint",
        lambda b: b[: len(b) // 2],  # truncated data
        lambda b: b[:20],  # truncated header
        lambda b: b"\xff" * 8 + b[8:],  # absurd header length
        lambda b: b[:8] + b"#" + b[9:],  # header JSON broken
    ],
)
def test_corrupt_checkpoint_gives_ganvq_error(tmp_path, corrupt):
    path = tmp_path / "ckpt.safetensors"
    save_checkpoint(path, {"w": torch.randn(64, 64)}, {"step": 1})
    path.write_bytes(corrupt(path.read_bytes()))
    with pytest.raises(GanvqError, match="ckpt.safetensors is not a valid ganvq checkpoint"):
        load_checkpoint(path)


def test_plain_safetensors_without_ganvq_metadata_is_rejected(tmp_path):
    path = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(GanvqError, match="no 'ganvq' metadata"):
        load_checkpoint(path)


def test_flatten_state_preserves_key_types_tuples_and_tags():
    obj = {
        "state": {0: {"step": torch.tensor(2.0)}, 1: {}},
        "groups": [{"betas": (0.9, 0.999), "params": [0, 1], "fused": None, "amsgrad": False}],
        "__tensor__": "looks like a tag",
        "a.b": torch.ones(1),
        "a": {"b": torch.zeros(1)},  # same dotted path as "a.b"
    }
    tensors, skeleton = flatten_state("opt", obj)
    assert len(tensors) == 3 and all(k.startswith("opt.") for k in tensors)
    back = unflatten_state(json.loads(json.dumps(skeleton)), tensors)
    assert back["groups"] == obj["groups"] and isinstance(back["groups"][0]["betas"], tuple)
    assert list(back["state"]) == [0, 1] and torch.equal(back["state"][0]["step"], obj["state"][0]["step"])
    assert back["__tensor__"] == "looks like a tag"
    assert torch.equal(back["a.b"], torch.ones(1)) and torch.equal(back["a"]["b"], torch.zeros(1))


_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False) | st.text(max_size=5)
_keys = st.text(max_size=4) | st.integers(-5, 5)
_nested = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3)
    | st.tuples(inner, inner)
    | st.dictionaries(_keys, inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(_nested)
def test_flatten_state_round_trips_any_json_like_structure(obj):
    tensors, skeleton = flatten_state("p", obj)
    assert not tensors
    back = unflatten_state(json.loads(json.dumps(skeleton)), tensors)
    assert back == obj and repr(back) == repr(obj)  # repr also checks 1 vs 1.0 vs True, tuple vs list


def _adam_steps(model, opt, n, seed):
    g = torch.Generator().manual_seed(seed)
    for _ in range(n):
        x = torch.randn(8, 4, generator=g)
        opt.zero_grad()
        model(x).square().mean().backward()
        opt.step()


def test_adam_state_survives_checkpoint_and_next_step_is_identical(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, amsgrad=True)
    _adam_steps(model, opt, 3, seed=1)

    opt_tensors, opt_skel = flatten_state("optim", opt.state_dict())
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()} | opt_tensors
    save_checkpoint(tmp_path / "c.safetensors", tensors, {"optim": opt_skel})
    loaded, meta = load_checkpoint(tmp_path / "c.safetensors")

    torch.manual_seed(99)
    model2 = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    model2.load_state_dict({k[len("model."):]: v for k, v in loaded.items() if k.startswith("model.")})
    opt2 = torch.optim.Adam(model2.parameters(), lr=0.5)
    opt2.load_state_dict(unflatten_state(meta["optim"], loaded))

    _adam_steps(model, opt, 2, seed=2)
    _adam_steps(model2, opt2, 2, seed=2)
    for p, p2 in zip(model.parameters(), model2.parameters()):
        assert torch.equal(p, p2)


def test_check_writable_refuses_a_folder_or_a_file_in_the_way_before_any_work(tmp_path):
    from ganvq.io import check_writable

    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("")
    with pytest.raises(GanvqError, match="adir: it is a folder; give a file name"):
        check_writable(tmp_path / "adir")
    with pytest.raises(GanvqError, match="afile is a file, not a folder"):
        check_writable(tmp_path / "afile" / "x.json")
    check_writable(tmp_path / "new" / "deeper" / "x.json")  # folders yet to be made are fine


def test_check_folder_writable_refuses_a_file_or_a_file_in_the_way(tmp_path):
    from ganvq.io import check_folder_writable

    (tmp_path / "afile").write_text("")
    with pytest.raises(GanvqError, match="cannot write into .*afile: it is a file, not a folder"):
        check_folder_writable(tmp_path / "afile")
    with pytest.raises(GanvqError, match="afile is a file, not a folder"):
        check_folder_writable(tmp_path / "afile" / "out")
    check_folder_writable(tmp_path / "new" / "out")
    check_folder_writable(tmp_path)
    with pytest.raises(GanvqError, match=r"fixed.png is named like an image file, .* give a folder, e.g. .*fixed$"):
        check_folder_writable(tmp_path / "fixed.png")  # `restore -o fixed.png`: a file was meant, not a folder
    (tmp_path / "shots.png").mkdir()
    check_folder_writable(tmp_path / "shots.png")  # a folder that is there already is taken as it is named


def test_commands_refuse_an_unwritable_output_before_their_work(tmp_path, tiny_vqvae_run, capsys, monkeypatch):
    from ganvq.cli import main
    from ganvq.commands import reconstruct as reconstruct_module
    from ganvq.commands import report as report_module

    def never(*args, **kwargs):
        raise AssertionError("the work began before the output was checked")

    (tmp_path / "afile").write_text("")
    (tmp_path / "adir").mkdir()
    monkeypatch.setattr(reconstruct_module, "load_vqvae", never)
    monkeypatch.setattr(report_module, "open_run", never)
    for argv, message in (
            (["reconstruct", "fashion-mnist", "--limit", "4", "-o", str(tmp_path / "afile"), "--ckpt",
              str(tiny_vqvae_run)], "afile: it is a file, not a folder"),
            (["report", str(tiny_vqvae_run), "-o", str(tmp_path / "adir")], "adir: it is a folder; give a file name"),
            (["sample", "--ckpt", str(tiny_vqvae_run), "--n", "4", "--out", str(tmp_path / "adir")],
             "adir: it is a folder; give a file name"),
            (["interpolate", "--ckpt", str(tiny_vqvae_run), "--out", str(tmp_path / "adir")],
             "adir: it is a folder; give a file name"),
            (["train", "gan", "--steps", "2", "--out", str(tmp_path / "afile")],
             "cannot write the run folder " + str(tmp_path / "afile") + ": it is a file, not a folder")):
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
