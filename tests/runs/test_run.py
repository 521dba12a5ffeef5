"""Reading a run folder once: kind, config and weights, with one-line errors for bad checkpoints."""

import json

import pytest
import torch

from ganvq.cli import main
from ganvq.errors import GanvqError
from ganvq.io import load_checkpoint, save_checkpoint
from ganvq.runs import CHECKPOINT, load_gan, load_prior, load_vqvae, open_run
from ganvq.runs import run as run_module


def test_open_run_reads_kind_config_and_builds_its_models(tiny_vqvae_run, tiny_prior_run):
    run = open_run(tiny_vqvae_run)
    assert run.kind == "vqvae" and run.folder == tiny_vqvae_run and run.checkpoint == tiny_vqvae_run / CHECKPOINT
    model = run.vqvae()
    assert not model.training and model.config == run.config.model
    prior_run = open_run(tiny_prior_run / CHECKPOINT)  # a checkpoint file works as well as its folder
    assert prior_run.kind == "prior" and prior_run.folder == tiny_prior_run
    prior, vqvae, config = load_prior(prior_run)
    assert prior.config == config.model and vqvae.config == config.vqvae_model


def test_loading_a_run_leaves_torch_rng_as_it_was(tiny_vqvae_run):
    state = torch.get_rng_state()
    load_vqvae(tiny_vqvae_run)
    assert torch.equal(state, torch.get_rng_state())


def test_a_run_of_another_kind_is_named_in_one_line(tiny_vqvae_run, tiny_prior_run):
    with pytest.raises(GanvqError, match="is a VQ-VAE checkpoint, not a GAN$"):
        load_gan(tiny_vqvae_run)
    with pytest.raises(GanvqError, match="not a prior .train one with"):
        load_prior(tiny_vqvae_run)
    with pytest.raises(GanvqError, match="is a prior checkpoint, not a VQ-VAE .give the VQ-VAE run the prior was "
                                         "trained on"):
        load_vqvae(tiny_prior_run)


def _damaged_copy(src, dst, change) -> None:
    tensors, meta = load_checkpoint(src / CHECKPOINT)
    change(tensors, meta)
    dst.mkdir()
    save_checkpoint(dst / CHECKPOINT, tensors, meta)


@pytest.mark.parametrize("damage, message", [
    (lambda t, m: t.pop("model.decoder.net.0.weight"), "tensor model.decoder.net.0.weight is missing"),
    (lambda t, m: t.update({"model.decoder.net.0.weight": torch.zeros(3)}), "decoder.net.0.weight has shape .3.; its config"),
    (lambda t, m: m.pop("config"), "holds no config"),
    (lambda t, m: m.update(kind="diffusion"), "not a ganvq run checkpoint"),
    (lambda t, m: m["config"]["model"].update(hidden="abc"), "config option 'model.hidden' must be int, got 'abc'"),
    (lambda t, m: m["config"]["model"]["vq"].update(betta=1), "unknown config option 'model.vq.betta'"),
    (lambda t, m: m["config"].update(model=[1, 2]), "config option 'model' must be VQVAEConfig"),
])
def test_a_damaged_checkpoint_is_a_one_line_error(tmp_path, tiny_vqvae_run, damage, message, capsys):
    bad = tmp_path / "bad"
    _damaged_copy(tiny_vqvae_run, bad, damage)
    with pytest.raises(GanvqError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_vqvae(bad)
    capsys.readouterr()
    assert main(["eval", "vqvae", "--ckpt", str(bad), "--limit", "8"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganvq: error:") and len(err.splitlines()) == 1, err


def test_eval_gan_reads_the_checkpoint_once(tmp_path, tiny_gan_config, monkeypatch):
    from ganvq.train.gan import train_gan

    run = tmp_path / "gan"
    train_gan(tiny_gan_config, run, quiet=True)
    reads = []
    original = run_module.load_checkpoint
    monkeypatch.setattr(run_module, "load_checkpoint", lambda p: reads.append(p) or original(p))
    assert main(["eval", "gan", "--ckpt", str(run), "--n", "20"]) == 0
    assert reads == [run / CHECKPOINT]
    assert json.loads((run / "eval-gan.json").read_text())["samples"] == 20


def test_a_prior_trained_only_for_sampling_samples_but_the_codec_refuses_it(tmp_path, tiny_vqvae_run, capsys):
    """model.exact: false lifts the codec's size limits; a checkpoint from before the option reads the same way."""
    import dataclasses

    from ganvq.codec import Codec
    from ganvq.commands.sample import sample_prior
    from ganvq.prior import PriorConfig
    from ganvq.runs import PriorRunConfig, TrainConfig
    from ganvq.train.prior import train_prior

    with pytest.raises(GanvqError, match="set model.exact: false"):
        PriorConfig(dim=264, heads=8)
    model = PriorConfig(dim=264, heads=8, layers=1, exact=False)
    train = TrainConfig(steps=2, batch_size=16, precision="fp32", log_every=1, eval_images=0)
    run = tmp_path / "wide"
    train_prior(PriorRunConfig(vqvae=str(tiny_vqvae_run), model=model, train=train, limit=64), run, quiet=True)
    assert sample_prior(run, n=3)[0].shape == (3, 1, 28, 28)
    with pytest.raises(GanvqError, match="only for sampling"):
        Codec.from_checkpoint(run)
    capsys.readouterr()
    assert main(["compress", "fashion-mnist", "--limit", "2", "-o", str(tmp_path / "c"), "--ckpt", str(run)]) == 2
    assert "only for sampling" in capsys.readouterr().err

    legacy = tmp_path / "legacy"  # saved before `exact` existed: its size decides
    _damaged_copy(run, legacy, lambda t, m: m["config"]["model"].pop("exact"))
    assert open_run(legacy).config.model == dataclasses.replace(model, codebook_size=16)
    assert open_run(legacy).config.model.exact is False
