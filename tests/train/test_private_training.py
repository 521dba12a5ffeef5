import dataclasses
import json

import pytest
import torch
import torch.nn.functional as F

from ganvq.errors import GanvqError
from ganvq.losses.gan import discriminator_loss
from ganvq.metrics.privacy import epsilon_of
from ganvq.models.gan import GANConfig, build_discriminator
from ganvq.runs import GANOptions, GANRunConfig, TrainConfig, open_run, read_metrics
from ganvq.runs.privacy import PrivacyOptions
from ganvq.train.gan import train_gan
from ganvq.train.private import PrivateDiscriminator

pytest.importorskip("opacus")


@pytest.fixture
def private_config():
    """A private conditional GAN without D normalisation: 4 G steps of n_D = 2 on 256 images, about a second."""
    model = GANConfig(arch="dcgan", d_norm="none", z_dim=16, g_width=8, d_width=8)
    train = TrainConfig(steps=4, batch_size=32, lr=2e-4, precision="fp32", log_every=1, ckpt_every=10**6,
                        eval_images=0, threads=1)
    gan = GANOptions(loss="non-saturating", n_d=2, sample_every=0)
    privacy = PrivacyOptions(epsilon=1e3, noise_multiplier=1.0)
    return GANRunConfig(model=model, train=train, gan=gan, data="fashion-mnist", limit=256, privacy=privacy)


def _history(run) -> list:
    from ganvq.io import unflatten_state

    return unflatten_state(run.meta["extra"], run.tensors)["privacy"]["history"]


def _pair_loss(D, x, y, fake, y_fake, class_loss: bool) -> torch.Tensor:
    """D's loss on real and fake images, with the cross-entropy of its class scores on the real ones if asked."""
    if not class_loss:
        return discriminator_loss("non-saturating", D(x, y), D(fake, y_fake))
    logits, scores = D(x, y, classes=True)
    return discriminator_loss("non-saturating", logits, D(fake, y_fake)) + F.cross_entropy(scores, y)


@pytest.mark.parametrize("class_loss", [False, True])  # the class scores call D's embedding on (B, K) labels
def test_each_images_gradient_is_clipped_to_c_before_summing(private_config, class_loss):
    torch.manual_seed(0)
    D = build_discriminator(dataclasses.replace(private_config.model, num_classes=10))
    C = 1e-3  # below every per-image gradient norm: every image is clipped
    options = dataclasses.replace(private_config.privacy, max_grad_norm=C)
    private = PrivateDiscriminator(D, torch.optim.SGD(D.parameters(), lr=0.0), options, 256, 8, seed=0)
    x, fake = torch.rand(5, 1, 28, 28) * 2 - 1, torch.rand(5, 1, 28, 28) * 2 - 1
    y, y_fake = torch.randint(10, (5,)), torch.randint(10, (5,))
    private.zero_grad()
    with private.recording() as M:
        _pair_loss(M, x, y, fake, y_fake, class_loss).backward()
    private.optimizer.clip_and_accumulate()
    expected = [torch.zeros_like(p) for p in D.parameters()]
    for i in range(5):  # each pair (real i, fake i) on its own, by plain autograd
        D.zero_grad()
        _pair_loss(D, x[i : i + 1], y[i : i + 1], fake[i : i + 1], y_fake[i : i + 1], class_loss).backward()
        grads = [p.grad.clone() for p in D.parameters()]
        norm = torch.sqrt(sum(g.square().sum() for g in grads))
        assert norm > C
        for e, g in zip(expected, grads):
            e += g * (C / (norm + 1e-6))  # clipped to norm C
    for p, e in zip(D.parameters(), expected):
        assert torch.allclose(p.summed_grad, e, rtol=1e-4, atol=1e-9)
    total = torch.sqrt(sum(p.summed_grad.square().sum() for p in D.parameters()))
    assert total <= 5 * C + 1e-9


def test_training_stops_when_the_budget_is_spent(tmp_path, private_config):
    # sigma 1 at q = 32/256: ε = 4 allows 9 D steps (4 G steps of n_D = 2), far fewer than 20 G steps
    config = dataclasses.replace(private_config, train=dataclasses.replace(private_config.train, steps=20),
                                 privacy=PrivacyOptions(epsilon=4.0, noise_multiplier=1.0))
    summary = train_gan(config, tmp_path / "run", quiet=True)
    assert 0 < summary["step"] < 20
    d_steps, q = summary["privacy/d_steps"], 32 / 256
    assert d_steps == 2 * summary["step"]
    assert summary["step"] == 4
    assert summary["privacy/epsilon"] <= 4.0 < epsilon_of("rdp", [(1.0, q, d_steps + 2)], 1e-5)
    assert read_metrics(tmp_path / "run")[-1]["privacy/epsilon"] == summary["privacy/epsilon"]
    # Asked to train on, the spent run says why it cannot, and changes nothing (no second final metrics line).
    before = (tmp_path / "run" / "metrics.jsonl").read_text(), (tmp_path / "run" / "config.json").read_text()
    for extension in ({"steps": 30}, {"minutes": 1.0}):
        spent = r"spent its privacy budget \(ε = .* of 4 at δ = 1e-05 after 8 D steps\)"
        with pytest.raises(GanvqError, match=spent):
            train_gan(None, tmp_path / "run", resume=True, quiet=True, **extension)
    assert ((tmp_path / "run" / "metrics.jsonl").read_text(), (tmp_path / "run" / "config.json").read_text()) == before


def test_noise_is_calibrated_to_the_steps_and_stored_in_the_run(tmp_path, private_config):
    config = dataclasses.replace(private_config, privacy=PrivacyOptions(epsilon=5.0))
    summary = train_gan(config, tmp_path / "run", quiet=True)
    stored = json.loads((tmp_path / "run" / "config.json").read_text())["privacy"]
    assert stored["noise_multiplier"] == summary["privacy/noise_multiplier"] > 0
    assert summary["step"] == 4 and 5.0 - 0.01 <= summary["privacy/epsilon"] <= 5.0  # 8 D steps spend ε


def test_a_resumed_private_run_keeps_spending_from_its_accountant_state(tmp_path, private_config):
    out = tmp_path / "run"
    first = train_gan(private_config, out, quiet=True)
    assert len(_history(open_run(out, "gan"))) == 1 and first["privacy/d_steps"] == 8
    resumed = train_gan(None, out, resume=True, quiet=True, steps=6)
    assert resumed["privacy/d_steps"] == 12
    assert resumed["privacy/epsilon"] > first["privacy/epsilon"] > 0
    assert resumed["privacy/epsilon"] == pytest.approx(epsilon_of("rdp", [(1.0, 32 / 256, 12)], 1e-5))
    assert _history(open_run(out, "gan")) == [[1.0, 32 / 256, 12]]


@pytest.mark.parametrize("change, message", [
    ({"model": {"d_norm": "bn"}}, "dp-fmnist"),
    ({"model": {"d_norm": "sn"}}, "spectral"),
    ({"gan": {"r1_gamma": 1.0}}, "penalties"),
    ({"gan": {"diffaugment": "translation", "diffaugment_target": 0.6}}, "ADA"),
])
def test_a_private_recipe_refuses_parts_dp_sgd_cannot_account_for(private_config, change, message):
    parts = {k: dataclasses.replace(getattr(private_config, k), **v) for k, v in change.items()}
    with pytest.raises(GanvqError, match=message):
        dataclasses.replace(private_config, **parts)


def test_a_calibrated_private_run_needs_a_step_count(tmp_path, private_config):
    train = dataclasses.replace(private_config.train, steps=None, minutes=1.0)
    config = dataclasses.replace(private_config, train=train, privacy=PrivacyOptions(epsilon=5.0))
    with pytest.raises(GanvqError, match="--steps"):
        train_gan(config, tmp_path / "run", quiet=True)


@pytest.mark.parametrize("clipping, drawn, class_loss", [
    ("pair", 5, False), ("pair", 5, True), ("separate", 5, False), ("separate", 5, True), ("separate", 0, False),
])
def test_the_private_d_step_clips_each_images_own_gradient(private_config, clipping, drawn, class_loss):
    """GANTask's DP-SGD step, as training runs it (channels_last G and data): the clipped sum equals that of each
    sample's loss gradient by plain autograd, clipped to C. A sample: real image i with fake i ("pair"), or each
    real image and each fake alone ("separate", whose fakes are the expected batch, 32, even for an empty draw)."""
    from ganvq.train.gan import GANTask

    privacy = dataclasses.replace(private_config.privacy, max_grad_norm=1e-3, clipping=clipping)
    gan = dataclasses.replace(private_config.gan, class_loss=1.0 if class_loss else 0.0)
    task = GANTask(dataclasses.replace(private_config, privacy=privacy, gan=gan))
    idx = torch.arange(3, 3 + drawn)
    task.private.sample = lambda: idx
    task.private.step = task.private.optimizer.clip_and_accumulate  # the clipped sum, before noise and update
    made = []
    generator = task.G
    task.G = lambda z, y: made.append((generator(z, y), y)) or made[-1][0]
    task._private_d_step()
    (fake, y_fake), = made
    assert len(fake) == (32 if clipping == "separate" else drawn)
    images, labels = task._private_data
    x, y = images[idx].float() / 127.5 - 1, labels[idx]
    D, C = task.D, 1e-3

    def real(i):
        if not class_loss:
            return F.softplus(-D(x[i:i + 1], y[i:i + 1])).sum()
        logits, scores = D(x[i:i + 1], y[i:i + 1], classes=True)
        return F.softplus(-logits).sum() + F.cross_entropy(scores, y[i:i + 1])

    def fake_row(j):
        return F.softplus(D(fake[j:j + 1], y_fake[j:j + 1])).sum()

    if clipping == "pair":
        rows = [lambda i=i: real(i) + fake_row(i) for i in range(drawn)]
    else:
        rows = [lambda i=i: real(i) for i in range(drawn)] + [lambda j=j: fake_row(j) for j in range(32)]
    expected = [torch.zeros_like(p) for p in D.parameters()]
    for row in rows:  # each sample's loss on its own, by plain autograd, clipped to norm C
        D.zero_grad()
        row().backward()
        grads = [p.grad.clone() for p in D.parameters()]
        norm = torch.sqrt(sum(g.square().sum() for g in grads))
        assert norm > C
        for e, g in zip(expected, grads):
            e += g * (C / (norm + 1e-6))
    for p, e in zip(D.parameters(), expected):
        assert torch.allclose(p.summed_grad, e, rtol=1e-4, atol=1e-9)
