"""VQGAN runs: the discriminator's delayed start, exact resumption, and a run every VQ-VAE command takes."""

import dataclasses
import re

import pytest
import torch

from ganvq.cli import main
from ganvq.errors import GanvqError
from ganvq.io import load_checkpoint
from ganvq.models.vqvae import VQVAEConfig
from ganvq.runs import VQGANOptions, build_run_config, load_vqvae, module_weights, open_run, read_metrics
from ganvq.train import loop
from ganvq.train.vqgan import VQGANTask, train_vqgan


@pytest.fixture(scope="module", autouse=True)
def _single_threaded(one_thread):
    yield


@pytest.fixture
def tiny_vqgan_config(tiny_vqvae_config):
    """The tiny VQ-VAE with an 8-wide patch discriminator starting at step 2 and the shipped CNN's perceptual loss."""
    cfg = tiny_vqvae_config
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, log_every=1),
                               vqgan=VQGANOptions(disc_start=2, d_width=8, perceptual_weight=0.1))


def _disc(task) -> dict:
    return {k: v.clone() for k, v in task.disc.state_dict().items()}


def test_the_discriminator_and_the_perceptual_term_start_at_their_start_steps(tiny_vqgan_config):
    options = dataclasses.replace(tiny_vqgan_config.vqgan, disc_start=3, perceptual_start=2)
    config = dataclasses.replace(tiny_vqgan_config, vqgan=options)
    with loop.seeded(config.train):
        task = VQGANTask(config)
        assert loop._command(task) == "vqgan"  # its progress line and resume hints
        before = _disc(task)
        decoder = task.last_layer.detach().clone()
        early = [task.train_step(s) for s in range(3)]
        assert all(torch.equal(before[k], v) for k, v in _disc(task).items())  # D untouched before its start
        assert not torch.equal(decoder, task.last_layer)  # while the VQ-VAE learns
        assert all(m["train/gan_weight"] == m["train/g_loss"] == m["train/d_loss"] == 0 for m in early)
        assert [m["train/perceptual"] > 0 for m in early] == [False, False, True]
        late = task.train_step(3)
    assert any(not torch.equal(before[k], v) for k, v in _disc(task).items())
    assert late["train/gan_weight"] > 0 and late["train/d_loss"] > 0


def test_a_gan_weight_of_zero_leaves_the_discriminator_untrained(tiny_vqgan_config):
    config = dataclasses.replace(tiny_vqgan_config, vqgan=dataclasses.replace(tiny_vqgan_config.vqgan, disc_weight=0))
    with loop.seeded(config.train):
        task = VQGANTask(config)
        before = _disc(task)
        metrics = [task.train_step(s) for s in range(4)]  # past its start step, 2
    assert all(torch.equal(before[k], v) for k, v in _disc(task).items())
    assert all(m["train/g_loss"] == m["train/d_loss"] == 0 for m in metrics)
    assert metrics[-1]["train/perceptual"] > 0  # the rest of the VQGAN still trains
    features = dataclasses.replace(config, vqgan=dataclasses.replace(config.vqgan, perceptual="features"))
    with loop.seeded(features.train):
        task = VQGANTask(features)  # its perceptual term matches D's features, so D still learns
        before = _disc(task)
        metrics = [task.train_step(s) for s in range(4)]
    assert any(not torch.equal(before[k], v) for k, v in _disc(task).items())
    assert metrics[-1]["train/g_loss"] == 0 and metrics[-1]["train/d_loss"] > 0


@pytest.mark.parametrize("clip_spikes", [0.0, 1.0])
def test_a_vqgan_checkpoint_resumes_exactly(tmp_path, tiny_vqgan_config, crash_after_checkpoint, clip_spikes,
                                            monkeypatch):
    import ganvq.train.vqgan as vqgan_training

    monkeypatch.setattr(vqgan_training, "SPIKE_WARMUP", 1)  # 1.0: clipped wherever a norm exceeds the running mean
    tiny_vqgan_config = dataclasses.replace(
        tiny_vqgan_config, vqgan=dataclasses.replace(tiny_vqgan_config.vqgan, clip_spikes=clip_spikes))
    full = tmp_path / "full"
    train_vqgan(tiny_vqgan_config, full, quiet=True)
    crashed = tmp_path / "crashed"  # checkpoint at step 3 (the discriminator trained since step 2), killed at 5
    crash_after_checkpoint(lambda: VQGANTask(tiny_vqgan_config), tiny_vqgan_config.train, crashed)
    train_vqgan(None, crashed, resume=True, quiet=True)
    a, b = (load_checkpoint(r / loop.CHECKPOINT)[0] for r in (full, crashed))
    assert {k.split(".")[0] for k in a} >= {"model", "disc", "optim"}
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a if not k.startswith("rng"))

    def log(run):
        return [{k: v for k, v in r.items() if "seconds" not in k} for r in read_metrics(run)]

    assert log(full) == log(crashed) and any(r.get("train/gan_weight", 0) > 0 for r in log(full))
    assert any(r.get("train/clipped", 0) > 0 for r in log(full)) == (clip_spikes > 0)


def test_clip_spikes_scales_a_spiking_gradient_down_to_its_running_mean(tiny_vqgan_config):
    from ganvq.train.vqgan import SPIKE_WARMUP

    config = dataclasses.replace(tiny_vqgan_config, vqgan=dataclasses.replace(tiny_vqgan_config.vqgan, clip_spikes=3))
    task = VQGANTask(config)
    params = list(task.model.parameters())

    def step_with(norm: float) -> float:
        """_clip_spike on a gradient of total norm `norm`; the norm it leaves."""
        size = sum(p.numel() for p in params)
        for p in params:
            p.grad = torch.full_like(p, norm / size**0.5)
        task._clip_spike()
        return float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params])))

    assert all(step_with(1.0) == pytest.approx(1.0, rel=1e-4) for _ in range(SPIKE_WARMUP))  # the warm-up: never clipped
    assert step_with(2.9) == pytest.approx(2.9, rel=1e-4)  # under 3 times the mean (1.0): left alone
    mean = 1.0 + 0.01 * (2.9 - 1.0)  # the running mean moved by a hundredth towards it
    assert step_with(100.0) == pytest.approx(3 * mean, rel=1e-4)  # a spike: down to 3 times the mean
    assert float(task._grad_norms[0]) == pytest.approx(mean + 0.01 * (3 * mean - mean), rel=1e-4)  # counted as 3x, not 100x
    with pytest.raises(GanvqError, match="clip_spikes must be 0"):
        VQGANOptions(clip_spikes=0.5)


def test_a_vqgan_run_is_a_vqvae_run_to_every_command(tmp_path, tiny_vqgan_config, capsys):
    out = tmp_path / "run"
    train_vqgan(tiny_vqgan_config, out, quiet=True)
    run = open_run(out, "vqvae")
    assert run.kind == "vqvae" and run.config.vqgan == tiny_vqgan_config.vqgan
    assert run.command == "vqgan"  # the report's and the interrupt's resume hints name `ganvq train vqgan`
    model, _ = load_vqvae(out)
    assert set(module_weights(run.tensors, "model")) == set(model.state_dict())  # the discriminator stays apart
    assert main(["--quiet", "eval", "vqvae", "--ckpt", str(out), "--limit", "32"]) == 0
    assert main(["--quiet", "report", str(out), "--out", str(tmp_path / "page.html")]) == 0
    assert "VQGAN (a VQ-VAE trained with a discriminator)" in (tmp_path / "page.html").read_text()
    assert main(["--quiet", "train", "vqvae", "--resume", str(out), "--steps", "8"]) == 0  # keeps its discriminator
    assert open_run(out).meta["step"] == 8 and "train/d_loss" in read_metrics(out)[-3]
    capsys.readouterr()
    # the other way round a plain VQ-VAE run would go on with no GAN term, whatever the command and its options say
    plain = tmp_path / "plain"
    assert main(["--quiet", "train", "vqvae", "--out", str(plain), "--steps", "2", "--limit", "32"]) == 0
    assert main(["train", "vqgan", "--resume", str(plain), "--steps", "4", "--disc-weight", "0.5"]) == 2
    err = capsys.readouterr().err
    assert "--disc-weight ignored: a resumed run keeps its stored config" in err
    assert f"{plain} is a plain VQ-VAE run (no discriminator): continue it with ganvq train vqvae --resume" in err
    assert open_run(plain).meta["step"] == 2
    for argv, message in ((["--disc-weight", "-1"], "vqgan.disc_weight must be a non-negative number"),
                          (["--perceptual", "cnn", "--image-size", "32"], "--perceptual cnn needs 1-channel 28 px")):
        assert main(["train", "vqgan", "--out", str(tmp_path / "bad"), "--steps", "2", "--limit", "32", *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1


def test_the_command_line_takes_start_steps_of_zero_and_refuses_negative_ones():
    from ganvq.cli import build_parser

    args = build_parser().parse_args(["train", "vqgan", "--out", "x", "--disc-start", "0", "--perceptual-start", "0"])
    assert args.disc_start == 0 and args.perceptual_start == 0  # from the first step, as taming-transformers does
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "vqgan", "--out", "x", "--perceptual-start", "-1"])


def test_vqgan_presets_and_options_are_layered_over_a_vqvae_preset():
    config = build_run_config("vqgan", "fmnist-14x14", None, {"vqgan": {"disc_weight": 0.3, "loss": "non-saturating"}})
    assert config.model.latent_size == 14 and config.vqgan.disc_weight == 0.3 and config.vqgan.loss == "non-saturating"
    assert build_run_config("vqvae", "fmnist-7x7").vqgan is None
    assert VQGANOptions().perceptual_kind(VQVAEConfig(image_size=32, channels=3)) == "features"
    with pytest.raises(GanvqError, match="unknown config option 'vqgan.disc_wieght'"):
        build_run_config("vqgan", None, None, {"vqgan": {"disc_wieght": 1.0}})
    with pytest.raises(GanvqError, match="unknown VQGAN loss"):
        VQGANOptions(loss="wgan-gp")


def test_feature_matching_trains_the_decoder_where_the_cnn_does_not_apply(tiny_vqgan_config):
    config = dataclasses.replace(tiny_vqgan_config, vqgan=dataclasses.replace(
        tiny_vqgan_config.vqgan, perceptual="features", disc_start=1, perceptual_weight=1.0))
    with loop.seeded(config.train):
        task = VQGANTask(config)
        assert task.perceptual is None and task.perceptual_kind == "features"
        metrics = [task.train_step(s) for s in range(2)]
    assert all(m["train/perceptual"] > 0 for m in metrics) and metrics[1]["train/gan_weight"] > 0


def test_a_restoration_vqgan_sees_damaged_inputs_and_learns_against_clean_images(tiny_vqgan_config):
    """--corrupt on a VQGAN, as on a VQ-VAE: the encoder gets the damaged batch, the losses the clean one."""
    from ganvq.data.corrupt import HOLE_FILL

    config = dataclasses.replace(tiny_vqgan_config, corrupt="mask:center")
    with loop.seeded(config.train):
        task = VQGANTask(config)
        seen, real = [], []
        task.model.encoder.register_forward_hook(lambda m, args, out: seen.append(args[0].detach().float()))
        task.disc.register_forward_hook(lambda m, args, out: real.append(args[0].detach().float()))
        metrics = [task.train_step(s) for s in range(3)]  # D starts at step 2
    x_in, x_d = seen[-1], real[-1][: len(seen[-1])]  # D's batch: the real images first
    h, w = x_in.shape[-2:]
    centre = (slice(None), slice(None), slice(h // 4, h - h // 4), slice(w // 4, w - w // 4))
    assert bool((x_in[centre] == HOLE_FILL).all())  # the hole reached the encoder
    assert not bool((x_d[centre] == HOLE_FILL).all())  # while D saw the clean images
    assert metrics[-1]["train/d_loss"] > 0
    with pytest.raises(GanvqError, match="damage|corrupt|mask"):
        VQGANTask(dataclasses.replace(tiny_vqgan_config, corrupt="mask:nowhere"))


def test_train_vqgan_says_when_its_discriminator_joins(tmp_path, capsys):
    assert main(["train", "vqgan", "--out", str(tmp_path / "run"), "--steps", "2", "--limit", "32",
                 "--disc-start", "1"]) == 0
    assert "the discriminator joins at step 1 (--disc-start)" in capsys.readouterr().err
    assert main(["train", "vqgan", "--out", str(tmp_path / "short"), "--steps", "1", "--limit", "32",
                 "--disc-start", "1500"]) == 0  # the run ends before D would join: said, not hidden
    err = capsys.readouterr().err
    assert "would join at step 1,500 (--disc-start), but this run stops at step 1" in err
    assert "no GAN term" in err and "joins at step" not in err
    assert main(["--quiet", "train", "vqgan", "--out", str(tmp_path / "quiet"), "--steps", "1", "--limit", "32",
                 "--disc-start", "1500"]) == 0
    assert "discriminator joins" not in capsys.readouterr().err


def test_a_minutes_budget_too_short_for_the_discriminator_is_told_once(tmp_path, tiny_vqgan_config, capsys,
                                                                      monkeypatch):
    monkeypatch.setattr(loop, "CALIBRATION_STEPS", 3)  # fitted within the 5 s even on a busy machine
    cfg = tiny_vqgan_config
    late = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, steps=None, minutes=0.08, log_every=10**6),
                               vqgan=dataclasses.replace(cfg.vqgan, disc_start=10**6))
    train_vqgan(late, tmp_path / "late")  # not quiet: the line is for the user
    err = capsys.readouterr().err
    assert err.count("will not join and the run trains no GAN term") == 1
    assert re.search(r"a budget of 5s makes about [\d,]+ steps here, so the discriminator "
                     r"\(from step 1,000,000,", err)
    task = VQGANTask(late)
    assert task.budget_note(10**6) is not None and task.budget_note(10**6 + 1) is None  # joins at its last step
    no_gan = VQGANTask(dataclasses.replace(late, vqgan=dataclasses.replace(late.vqgan, disc_weight=0)))
    assert no_gan.budget_note(10) is None  # no GAN term was asked for


@pytest.mark.parametrize("pixel_loss", ["mse", "l1"])
def test_the_pixel_term_is_the_chosen_loss(tiny_vqgan_config, pixel_loss):
    import copy

    options = dataclasses.replace(tiny_vqgan_config.vqgan, pixel_loss=pixel_loss, perceptual_weight=0,
                                  disc_start=10**6)
    task = VQGANTask(dataclasses.replace(tiny_vqgan_config, vqgan=options))
    x = task._next_images()
    task._next_images = lambda: x  # the step's batch, known here
    with torch.no_grad():
        out = copy.deepcopy(task.model)(x)
    error = out.x_hat - x
    pixel = error.pow(2).mean() if pixel_loss == "mse" else error.abs().mean()
    metrics = task.train_step(0)
    assert metrics["train/loss"] == pytest.approx(float(pixel + out.vq_loss), rel=1e-5)
    assert metrics["train/rec_loss"] == pytest.approx(float(error.pow(2).mean()), rel=1e-5)  # the MSE, logged as ever


def test_an_unknown_pixel_loss_is_refused():
    with pytest.raises(GanvqError, match="unknown pixel loss 'l2'; choose from mse, l1"):
        VQGANOptions(pixel_loss="l2")
    rgb = VQVAEConfig(channels=3, image_size=32)
    with pytest.raises(GanvqError, match="perceptual_embedding .* needs the cnn perceptual term"):
        VQGANOptions(perceptual_embedding=True).perceptual_kind(rgb)  # RGB: feature matching, no CNN to tap


def test_a_decoder_only_perceptual_term_leaves_the_encoders_first_step_as_without_it(tiny_vqgan_config):
    def first_step(**options):
        config = dataclasses.replace(tiny_vqgan_config, vqgan=dataclasses.replace(
            tiny_vqgan_config.vqgan, disc_start=100, **options))
        with loop.seeded(config.train):
            task = VQGANTask(config)
            metrics = task.train_step(0)
        return metrics, task.model

    (_, plain), (m_dec, dec) = first_step(perceptual_weight=0), first_step(perceptual_decoder_only=True)
    assert m_dec["train/perceptual"] > 0 and m_dec["train/perceptual_weight"] > 0
    for a, b in zip(plain.encoder.parameters(), dec.encoder.parameters()):
        assert torch.equal(a, b)  # the term's gradient never reached the encoder
    assert any(not torch.equal(a, b) for a, b in zip(plain.decoder.parameters(), dec.decoder.parameters()))
