import copy
import dataclasses
import json
import math

import pytest
import torch

from ganvq.errors import GanvqError
from ganvq.io import load_checkpoint
from ganvq.losses.gan import LOSSES
from ganvq.runs import GANRunConfig, gan_preset, load_discriminator, load_gan
from ganvq.train import gan as gan_train
from ganvq.train import loop
from ganvq.train.gan import (
    ADA_IMAGES,
    ADA_INTERVAL,
    GANTask,
    ada_adjust,
    ema_decay_at,
    ema_update,
    power_ema_decay,
    train_gan,
)


def _weights(run):
    tensors, _ = load_checkpoint(run / loop.CHECKPOINT)
    return {k: v for k, v in tensors.items() if k.split(".")[0] in ("G", "D", "G_ema")}


def _with(config: GANRunConfig, **gan) -> GANRunConfig:
    return dataclasses.replace(config, gan=dataclasses.replace(config.gan, **gan))


def _full_and_resumed(config: GANRunConfig, tmp_path, crash_after_checkpoint):
    """Two runs of `config`: one uninterrupted, one crashed after its periodic checkpoint and resumed; their folders."""
    full, crashed = tmp_path / "full", tmp_path / "crashed"
    train_gan(config, full, quiet=True)
    crash_after_checkpoint(lambda: GANTask(config, out=crashed), config.train, crashed)
    train_gan(config, crashed, resume=True, quiet=True)
    return full, crashed


def test_resume_from_a_periodic_checkpoint_equals_an_uninterrupted_run(tmp_path, tiny_gan_config, crash_after_checkpoint):
    config = _with(tiny_gan_config, n_d=2, r1_gamma=1.0, real_shift=0.1)  # every moving part: DiffAugment, R1, EMA,
    # labels, the real images' shift
    full, crashed = _full_and_resumed(config, tmp_path, crash_after_checkpoint)
    a, b = _weights(full), _weights(crashed)
    assert a.keys() == b.keys() and any(k.startswith("G_ema.") for k in a)
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_resume_keeps_the_adaptive_diffaugment_p_and_its_half_gathered_signs(tmp_path, tiny_gan_config,
                                                                            crash_after_checkpoint):
    # 6 steps with n_D = 2: 12 D steps, so p moves 3 times; the checkpoint at step 3 falls mid-interval (6 D steps).
    config = _with(tiny_gan_config, n_d=2, diffaugment_target=0.01)
    full = tmp_path / "full"
    train_gan(config, full, quiet=True)
    crashed = tmp_path / "crashed"
    crash_after_checkpoint(lambda: GANTask(config, out=crashed), config.train, crashed)
    tensors, meta = load_checkpoint(crashed / loop.CHECKPOINT)
    assert loop.unflatten_state(meta["extra"], tensors)["ada"]["steps"] == 6 % ADA_INTERVAL
    train_gan(config, crashed, resume=True, quiet=True)

    def extra(run):
        tensors, meta = load_checkpoint(run / loop.CHECKPOINT)
        return loop.unflatten_state(meta["extra"], tensors)

    a, b = extra(full), extra(crashed)
    assert (a["aug_p"], a["ada"]) == (b["aug_p"], b["ada"])
    logged = [r["train/aug_p"] for r in map(json.loads, (full / loop.METRICS).read_text().splitlines())
              if "train/aug_p" in r]
    assert logged and a["aug_p"] > 0  # logged (as window means), and a target this low was exceeded: p rose


def test_lecam_anchors_start_at_the_first_means_move_at_their_decay_and_survive_a_resume(tmp_path, tiny_gan_config,
                                                                                   crash_after_checkpoint):
    task = GANTask(_with(tiny_gan_config, lecam_weight=0.3, lecam_decay=0.9))
    term = task._lecam_term(torch.tensor([1.0, 3.0]), torch.tensor([-1.0]))
    assert (task._lecam["real"], task._lecam["fake"]) == (2.0, -1.0)  # the first step sets them
    assert term.item() == pytest.approx((2.0**2 + 4.0**2) / 2 + 3.0**2)
    task._lecam_term(torch.tensor([0.0]), torch.tensor([1.0]))
    assert task._lecam["real"] == pytest.approx(0.9 * 2.0) and task._lecam["fake"] == pytest.approx(-0.9 + 0.1)
    assert "train/lecam" in task._d_step() and "train/lecam" not in GANTask(tiny_gan_config)._d_step()

    full, crashed = _full_and_resumed(_with(tiny_gan_config, lecam_weight=0.3), tmp_path, crash_after_checkpoint)
    a, b = _weights(full), _weights(crashed)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    extras = [loop.unflatten_state(meta["extra"], tensors)["lecam"]
              for tensors, meta in (load_checkpoint(run / loop.CHECKPOINT) for run in (full, crashed))]
    assert extras[0] == extras[1] and extras[0]["updates"] > 0


def test_lecam_is_refused_for_a_private_run(tiny_gan_config):
    from ganvq.runs.privacy import check_private_recipe

    with pytest.raises(GanvqError, match="LeCam"):
        check_private_recipe("none", "non-saturating", 0.0, 0.0, lecam_weight=0.3)
    with pytest.raises(GanvqError, match="lecam_decay"):
        _with(tiny_gan_config, lecam_decay=1.0)


def test_consistency_term_is_the_gap_between_two_augmentation_draws_and_is_refused_where_it_cannot_apply(
        tiny_gan_config):
    from ganvq.runs.privacy import check_private_recipe

    torch.manual_seed(0)
    metrics = GANTask(_with(tiny_gan_config, consistency_weight=10.0))._d_step()
    assert metrics["train/consistency"] > 0  # two draws of colour, shifts and cutouts: D's logits differ
    assert "train/consistency" not in GANTask(tiny_gan_config)._d_step()
    # p = 0: both draws leave the images as they are, so D's two scores of each image agree exactly
    assert GANTask(_with(tiny_gan_config, consistency_weight=10.0, diffaugment_p=0.0))._d_step()[
        "train/consistency"] == 0.0
    with pytest.raises(GanvqError, match="--diffaugment"):
        _with(tiny_gan_config, consistency_weight=10.0, diffaugment="")
    with pytest.raises(GanvqError, match="consistency_weight"):
        _with(tiny_gan_config, consistency_weight=-1.0)
    with pytest.raises(GanvqError, match="--consistency"):
        check_private_recipe("none", "non-saturating", 0.0, 0.0, consistency_weight=10.0)


def test_ada_moves_p_by_the_images_seen_toward_the_target_every_interval(tiny_gan_config):
    assert ada_adjust(0.5, 0.7, 0.6, 256) == pytest.approx(0.5 + 256 / ADA_IMAGES)
    assert ada_adjust(0.5, 0.6, 0.6, 256) == pytest.approx(0.5 - 256 / ADA_IMAGES)
    assert ada_adjust(0.0, -1.0, 0.6, 256) == 0.0 and ada_adjust(1.0, 1.0, 0.6, 256) == 1.0
    task = GANTask(_with(tiny_gan_config, diffaugment_target=0.6))
    assert task.aug_p == 0.0  # adaptive p starts with no augmentation
    confident = torch.tensor([2.0, 1.0, 3.0, -1.0])  # r = 0.5: below the target
    for _ in range(ADA_INTERVAL - 1):
        task._adapt_p(torch.ones(4))
        assert task.aug_p == 0.0  # p moves only once per interval
    task._adapt_p(confident)  # signs over the interval: (3 * 4 + 2) / 16 = 0.875 > 0.6
    assert task.aug_p == pytest.approx(16 / ADA_IMAGES)
    for _ in range(ADA_INTERVAL):
        task._adapt_p(-torch.ones(4))
    assert task.aug_p == 0.0
    assert "train/aug_p" in task._d_step() and "train/aug_p" not in GANTask(tiny_gan_config)._d_step()


def test_ema_update_equals_the_formula():
    torch.manual_seed(0)
    model, ema = torch.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    with torch.no_grad():
        model.weight.normal_()
        model.running_mean.normal_()
    model.num_batches_tracked.fill_(7)
    before = copy.deepcopy(ema.state_dict())
    ema_update(ema, model, 0.9)
    torch.testing.assert_close(ema.weight, 0.9 * before["weight"] + 0.1 * model.weight)
    torch.testing.assert_close(ema.running_mean, 0.9 * before["running_mean"] + 0.1 * model.running_mean)
    assert ema.num_batches_tracked.item() == 7  # counters are copied, not averaged
    assert ema_decay_at(0.999, 0) == pytest.approx(0.1) and ema_decay_at(0.999, 90) == pytest.approx(0.91)
    assert ema_decay_at(0.999, 10**6) == 0.999


def test_a_training_step_moves_the_ema_generator_by_the_formula(tiny_gan_config):
    task = GANTask(_with(tiny_gan_config, ema_decay=0.5))
    g0 = {k: v.clone() for k, v in task.G.state_dict().items()}
    task.train_step(0)
    d = ema_decay_at(0.5, 0)  # 0.1 at the first step
    g1, ema = task.G.state_dict(), task.G_ema.state_dict()
    for k, v in ema.items():
        if v.dtype.is_floating_point:
            torch.testing.assert_close(v, d * g0[k] + (1 - d) * g1[k], msg=k)
    assert not torch.equal(g0["first.weight"], g1["first.weight"])  # G did move


@pytest.mark.parametrize("gamma", [0.0, 1.0, 2.0])
def test_power_average_weighs_update_s_as_s_to_the_gamma(gamma):
    model, average = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    seen = []
    for n in range(1, 41):
        with torch.no_grad():
            model.weight.normal_()
        seen.append(model.weight.detach().clone())
        ema_update(average, model, power_ema_decay(gamma, n))
    s = torch.arange(1, 41, dtype=torch.float64) ** gamma
    expected = sum(w.double() * c for w, c in zip(seen, s / s.sum()))
    # gamma 0: the plain mean of every update's weights; the discrete weights match s^gamma to O(1/n)
    tolerance = 1e-6 if gamma == 0 else 0.03
    assert torch.allclose(average.weight.double(), expected, atol=tolerance)
    assert power_ema_decay(gamma, 1) == 0.0  # the first update replaces the random initial weights


def test_a_power_average_follows_its_own_decay_and_resumes_exactly(tmp_path, tiny_gan_config,
                                                                    crash_after_checkpoint):
    config = _with(tiny_gan_config, ema_decay=0.999, ema_power=1.0)  # the power replaces the decay
    task = GANTask(config)
    task.train_step(0)  # power_ema_decay(1, 1) = 0: the average starts at G's first update
    assert all(torch.equal(v, task.G.state_dict()[k]) for k, v in task.G_ema.state_dict().items())
    g1 = {k: v.clone() for k, v in task.G.state_dict().items()}
    task.train_step(1)
    d = power_ema_decay(1.0, 2)
    assert d == pytest.approx(0.25)  # (1 - 1/2)^2: updates 1 and 2 weigh 1 : 3, as s^1 to O(1/n)
    for k, v in task.G_ema.state_dict().items():
        if v.dtype.is_floating_point:
            torch.testing.assert_close(v, d * g1[k] + (1 - d) * task.G.state_dict()[k], msg=k)
    full, crashed = _full_and_resumed(config, tmp_path, crash_after_checkpoint)
    a, b = _weights(full), _weights(crashed)
    assert all(torch.equal(a[k], b[k]) for k in a if k.startswith("G_ema."))
    with pytest.raises(GanvqError, match="--ema-power"):
        _with(tiny_gan_config, ema_power=-1.0)


def test_nan_in_a_loss_stops_training_naming_the_last_good_checkpoint(tmp_path, tiny_gan_config, monkeypatch):
    task = GANTask(tiny_gan_config, out=tmp_path)
    real_loss, calls = gan_train.generator_loss, []

    def nan_at_step_5(kind, logits):
        calls.append(1)
        loss = real_loss(kind, logits)
        return loss * float("nan") if len(calls) == 5 else loss

    monkeypatch.setattr(gan_train, "generator_loss", nan_at_step_5)
    with pytest.raises(GanvqError) as err:
        loop.train(task, tiny_gan_config.train, tmp_path, quiet=True)
    message = str(err.value)
    assert "diverged at step 5" in message and "generator loss is not finite" in message
    assert f"last good checkpoint: {tmp_path / loop.CHECKPOINT} (step 3)" in message
    tensors, meta = load_checkpoint(tmp_path / loop.CHECKPOINT)
    assert meta["step"] == 3 and all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point())


def test_rollback_recovers_from_a_nan_with_halved_learning_rates(tmp_path, tiny_gan_config, monkeypatch):
    config = _with(tiny_gan_config, on_diverge="rollback")
    real_loss, calls = gan_train.discriminator_loss, []

    def nan_once(kind, real, fake):
        calls.append(1)
        loss = real_loss(kind, real, fake)
        return loss * float("inf") if len(calls) == 4 else loss

    monkeypatch.setattr(gan_train, "discriminator_loss", nan_once)
    result = train_gan(config, tmp_path, quiet=True)
    assert result["step"] == 6
    tensors, meta = load_checkpoint(tmp_path / loop.CHECKPOINT)
    assert meta["extra"]["rollbacks"] == 1
    records = [json.loads(line) for line in (tmp_path / loop.METRICS).read_text().splitlines()]
    assert any(r.get("train/rollbacks") == 1 for r in records)
    # the 4th step rolled back: from the 5th on, the scheduled learning rate is halved
    lr = {r["step"]: r["lr"] for r in records if "lr" in r}
    assert lr[2] == pytest.approx(config.train.lr * loop.lr_factor(config.train, 1, 6))
    assert lr[6] == pytest.approx(config.train.lr * loop.lr_factor(config.train, 5, 6) / 2)


@pytest.mark.parametrize("loss", LOSSES)
def test_every_loss_trains_a_few_finite_steps(tmp_path, tiny_gan_config, loss):
    # WGAN-GP needs a critic without batch norm; the textbook D (BN) exercises separate real/fake batches.
    d_norm = "none" if loss == "wgan-gp" else "bn"
    model = dataclasses.replace(tiny_gan_config.model, d_norm=d_norm)
    config = dataclasses.replace(_with(tiny_gan_config, loss=loss, diffaugment=""), model=model)
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, steps=3))
    result = train_gan(config, tmp_path, quiet=True)
    records = [json.loads(line) for line in (tmp_path / loop.METRICS).read_text().splitlines()]
    assert result["step"] == 3 and any("train/d_loss" in r and "train/g_loss" in r for r in records)
    if loss == "wgan-gp":
        assert any("train/gp" in r for r in records)


@pytest.mark.parametrize("d_norm", ["none", "bn"])  # one batch of real and fake, or two (batch norm)
def test_a_class_loss_teaches_d_to_classify_real_images_and_g_to_make_fakes_it_classifies(tmp_path, tiny_gan_config,
                                                                                      d_norm):
    config = dataclasses.replace(_with(tiny_gan_config, class_loss=1.0, diffaugment="", lr_d=4e-3),
                                 model=dataclasses.replace(tiny_gan_config.model, d_norm=d_norm))
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, steps=40, lr=2e-3, log_every=10,
                                                                   ckpt_every=10**6))
    train_gan(config, tmp_path, quiet=True)
    records = [json.loads(line) for line in (tmp_path / loop.METRICS).read_text().splitlines()]
    d_ce = [r["train/d_class_loss"] for r in records if "train/d_class_loss" in r]
    g_ce = [r["train/g_class_loss"] for r in records if "train/g_class_loss" in r]
    assert len(d_ce) == len(g_ce) == 4
    chance = math.log(10)  # the cross-entropy of a uniform guess over 10 classes
    assert g_ce[0] > 0.95 * chance  # G's first fakes are no class in D's eyes ...
    assert d_ce[-1] < 0.6 * chance and g_ce[-1] < 0.8 * chance  # ... after 40 steps D classifies, G's fakes fit


def test_a_class_loss_needs_labels(tiny_gan_config):
    with pytest.raises(GanvqError, match="class-conditional"):
        GANTask(_with(tiny_gan_config, class_loss=1.0, conditional=False))
    with pytest.raises(GanvqError, match="class_loss"):
        _with(tiny_gan_config, class_loss=-1.0)


def test_n_d_discriminator_steps_draw_n_d_real_batches_per_generator_step(tiny_gan_config):
    task = GANTask(_with(tiny_gan_config, n_d=3))
    task.train_step(0)
    assert task.batches.state_dict() == {"epoch": 0, "position": 3 * 16}


def test_separate_learning_rates_for_the_two_players(tiny_gan_config):
    task = GANTask(tiny_gan_config)
    assert task.opt_g.param_groups[0]["lr"] == 2e-4 and task.opt_d.param_groups[0]["lr"] == 4e-4


def test_training_writes_sample_grids_and_a_loadable_conditional_generator(tmp_path, tiny_gan_config):
    result = train_gan(tiny_gan_config, tmp_path, quiet=True)
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["latest.png", "step-0000003.png",
                                                                       "step-0000006.png"]
    assert result["samples"] == str(tmp_path / "samples" / "latest.png")
    G, config = load_gan(tmp_path)
    assert not G.training and config.model.num_classes == 10
    assert config.class_names[0] == "T-shirt/top"
    D, _ = load_discriminator(tmp_path)  # the trained D, e.g. to probe its overfitting
    assert not D.training
    with torch.no_grad():
        assert D(G(torch.randn(4, config.model.z_dim), torch.arange(4)), torch.arange(4)).shape == (4,)


def test_textbook_preset_is_the_pytorch_examples_recipe():
    c = gan_preset("dcgan-textbook")
    assert (c.model.arch, c.model.d_norm, c.model.dcgan_init) == ("dcgan", "bn", True)
    assert (c.train.lr, c.gan.lr_d, c.gan.beta1, c.train.batch_size) == (2e-4, None, 0.5, 128)
    assert (c.gan.loss, c.gan.ema_decay, c.gan.conditional, c.train.precision) == ("non-saturating", 0.0, False, "fp32")


def test_unconditional_training_ignores_labels(tmp_path, tiny_gan_config):
    config = _with(tiny_gan_config, conditional=False)
    task = GANTask(config)
    assert task.config.model.num_classes == 0 and task.batches.labels is None
