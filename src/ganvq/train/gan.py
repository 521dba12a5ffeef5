"""Training a GAN: the Task the shared loop runs (n_D discriminator steps per generator step, TTUR,
EMA of G, conditional training, DiffAugment with a fixed or adaptive p, penalties, divergence guard).

Under torchrun both networks train under DistributedDataParallel; batch norm (the DCGAN generator's, and D's
with d_norm "bn") normalises over the global batch (models.sync_norm), so every preset trains as it does in
one process; latents, labels and DiffAugment draws are made for the global batch and sliced; ADA's p follows
the fraction of positive D logits over all processes, and the divergence guard the loss averaged over them.

With a privacy budget (the config's `privacy`, one process) D's updates are DP-SGD on Poisson batches
(train.private) and the run stops when the next generator step would spend more than its ε."""

from __future__ import annotations

import copy
import dataclasses
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganvq.config import to_dict
from ganvq.data import (
    BatchStream,
    ImageDataset,
    describe_enlarged,
    describe_skipped,
    has_named_splits,
    held_out_fraction,
    load_dataset,
)
from ganvq.data.augment import diff_augment, rand_translation
from ganvq.device import autocast, grad_scaler, resolve_device
from ganvq.errors import GanvqError, warn
from ganvq.images import save_grid, to_float
from ganvq.io import unflatten_state
from ganvq.losses.gan import (
    consistency_penalty,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
    lecam_penalty,
    r1_penalty,
)
from ganvq.models.gan import build_discriminator, build_generator
from ganvq.models.sync_norm import globalize_batch_norm
from ganvq.runs import GANRunConfig
from ganvq.train import distributed, loop
from ganvq.train.private import PrivateDiscriminator, with_noise

SNAPSHOT_EVERY = 200  # on_diverge="rollback": steps between in-memory snapshots to roll back to
ADA_INTERVAL = 4  # adaptive DiffAugment: D steps between adjustments of p (ADA's ada_interval)
ADA_IMAGES = 500_000  # ... and p can move from 0 to 1 in this many real images (ADA's ada_kimg = 500)
ADA_FRESH = {"signs": 0.0, "images": 0, "steps": 0}  # sign(D(real)) summed over real images in D steps, so far
LECAM_FRESH = {"real": 0.0, "fake": 0.0, "updates": 0}  # LeCam's anchors (D's mean logits, averaged) before any step
GRID_SIZE = 64  # images in a sample grid (100 for 10-class models: one column per class)
# channels_last lets oneDNN pick faster convolution kernels on CPU.
MEMORY_FORMAT = torch.channels_last


def _held_out_estimate(config: GANRunConfig, n_train: int) -> int | None:
    """About how many images a run on data without a test split holds out (None for data with one)."""
    f = config.val_fraction or 0.0
    if has_named_splits(config.data) or f <= 0 or f >= 1 or config.limit is not None:
        return None
    return round(n_train * f / (1 - f))


def _few_held_out_note(held: int | None) -> str | None:
    """A warning at the start of a run whose held-out images will be too few for `eval gan` (more than
    NEAREST_K to score at all, AUDIT_MIN_HELD_OUT for the memorization audit): said now, not after training."""
    from ganvq.metrics.score import AUDIT_MIN_HELD_OUT, NEAREST_K

    if held is None or held >= AUDIT_MIN_HELD_OUT:
        return None
    if held <= NEAREST_K:
        return (f"about {held} image(s) are held out (--val-fraction): eval gan needs more than {NEAREST_K} to score "
                "the samples against, so score them against other images (--real) or hold out more")
    return (f"about {held} images are held out (--val-fraction): eval gan will score against them, but its "
            f"memorization audit needs {AUDIT_MIN_HELD_OUT} and will be skipped")


def load_gan_data(config: GANRunConfig) -> tuple[ImageDataset, GANRunConfig]:
    """Training images (and labels), less the held-out ones; the model's channels and classes follow the data,
    and the held-out fraction in force is stored in the config."""
    m = config.model
    config = dataclasses.replace(config, val_fraction=held_out_fraction(config.data, config.val_fraction))
    train = load_dataset(config.data, "train", size=m.image_size, channels=config.channels,
                         on_bad=config.on_bad, limit=config.limit, val_fraction=config.val_fraction)
    held = _held_out_estimate(config, len(train))
    if config.subset is not None:
        train = train.balanced(config.subset, config.subset_seed)
    for line in (describe_skipped(train, role="training"), describe_enlarged(train, m.image_size),
                 _few_held_out_note(held)):
        if line:
            warn(line)
    conditional = config.gan.conditional and train.labels is not None and (train.num_classes or 0) > 1
    num_classes = train.num_classes if conditional else 0
    model = dataclasses.replace(m, channels=train.shape[0], num_classes=num_classes)
    names = train.class_names if conditional else None
    if config.gan.class_loss and not conditional:
        raise GanvqError("--class-loss needs a class-conditional run: labelled data (a class per sub-folder, or an "
                         "array of labels) and conditional training")
    return train, dataclasses.replace(config, model=model, class_names=names, 
                                         privacy=with_noise(config, len(train.images)))


def ada_adjust(p: float, r_t: float, target: float, images: int) -> float:
    """ADA's update of the augmentation probability (Karras et al. 2020), clamped to [0, 1].

    r_t = E[sign(D(real))] over the last `images` real images: near 1 when D scores its training images
    confidently real, the sign of overfitting. p rises by images / ADA_IMAGES when r_t exceeds the
    target and falls by as much otherwise.
    """
    step = images / ADA_IMAGES
    return min(1.0, max(0.0, p + (step if r_t > target else -step)))


def ema_decay_at(decay: float, step: int) -> float:
    """The EMA decay used after G update `step` (0-based): min(decay, (1 + t) / (10 + t)).

    The warm-up (as in TensorFlow's ExponentialMovingAverage with num_updates) stops the average
    from dwelling on the random initial weights early in short runs.
    """
    return min(decay, (1 + step) / (10 + step))


def power_ema_decay(power: float, n: int) -> float:
    """The decay of a power-function average after G update n (1-based; Karras et al. 2024): (1 - 1/n)^(power + 1),
    0 at n = 1, so that update s of n weighs as s^power (to O(1/n))."""
    return (1.0 - 1.0 / n) ** (power + 1.0)


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * model, over weights and BN statistics; integer buffers are copied.

    Averaging BN running statistics too (as BigGAN does) keeps them matched to the averaged weights.
    """
    for e, m in zip(ema.state_dict().values(), model.state_dict().values()):
        if e.dtype.is_floating_point:
            e.lerp_(m, 1.0 - decay)  # e + (1 - decay) (m - e)
        else:
            e.copy_(m)


def _grad_scaled(t: torch.Tensor, scale: float) -> torch.Tensor:
    """t itself, whose gradient is multiplied by `scale` on the way back."""
    return t * scale + (t * (1 - scale)).detach()


def _tiled(labels: torch.Tensor | None, draws: int) -> torch.Tensor | None:
    """The labels of `draws` stacked draws of a batch: the tensor itself for one draw (no copy); None stays None."""
    return labels if labels is None or draws == 1 else labels.repeat(draws)


class GANTask:
    """One GAN training run: G, D, EMA of G, their optimizers, batches, and the per-step update."""

    kind = "gan"

    def __init__(self, config: GANRunConfig, device: torch.device | None = None, out: str | Path | None = None):
        train, config = load_gan_data(config)
        self.config = config
        self.device = device or resolve_device(config.train.device)
        g = config.gan
        self.G = build_generator(config.model).to(self.device, memory_format=MEMORY_FORMAT)
        self.D = build_discriminator(config.model).to(self.device, memory_format=MEMORY_FORMAT)
        procs = distributed.current()
        if procs.enabled:  # batch norm over the global batch, as in one process
            globalize_batch_norm(self.G)
            globalize_batch_norm(self.D)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.G_ddp, self.D_ddp = distributed.wrap(self.G), distributed.wrap(self.D)  # G and D in one process
        # fp16 only (else a plain step): one scaler per player, as each steps its own optimizer
        self.scalers = {name: grad_scaler(self.device, config.train.precision) for name in ("G", "D")}
        betas = (g.beta1, g.beta2)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=config.train.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=g.lr_d or config.train.lr, betas=betas)
        labels = train.labels if config.model.conditional else None
        self.batches = BatchStream(train.images, labels, config.train.batch_size, config.train.seed,
                                   rank=procs.rank, world=procs.world)
        self.private = None  # DP-SGD on D (train.private) when the run has a privacy budget
        if config.privacy.private:
            if procs.enabled:
                raise GanvqError("private training runs in one process: start it without torchrun")
            self.private = PrivateDiscriminator(self.D, self.opt_d, config.privacy, len(train.images),
                                                config.train.batch_size, config.train.seed)
            self._private_data = (train.images, labels)
        self.sample_dir = Path(out) / "samples" if out is not None and procs.main else None
        self.rollbacks = 0
        self._snapshot: dict | None = None
        # DiffAugment's p: fixed, or adapted (ADA) from the signs of D's real logits, summed over real images.
        self.aug_p = 0.0 if g.diffaugment_target else g.diffaugment_p
        self._ada = dict(ADA_FRESH)
        self._lecam = dict(LECAM_FRESH)  # LeCam's anchors: moving averages of D's mean logits, and their count
        # Fixed latents for the sample grids, from their own generator so the run's RNG is untouched.
        gen = torch.Generator().manual_seed(config.train.seed)
        k = config.model.num_classes
        n = 100 if k == 10 else GRID_SIZE
        self._grid_z = torch.randn(n, config.model.z_dim, generator=gen).to(self.device)
        self._grid_y = (torch.arange(n) % k).to(self.device) if k else None
        self._grid_nrow = 10 if k == 10 else 8

    # --- the loop's Task interface ---------------------------------------------------------------

    def modules(self):
        return {"G": self.G, "D": self.D, "G_ema": self.G_ema}

    def optimizers(self):
        return {"G": self.opt_g, "D": self.opt_d}

    def config_dict(self) -> dict:
        return to_dict(self.config)

    def lr_scale(self) -> float:
        """Each roll-back after a divergence halves both players' learning rates."""
        return 0.5**self.rollbacks

    def extra_state(self) -> dict:
        state = {"batches": self.batches.state_dict(), "rollbacks": self.rollbacks, "aug_p": self.aug_p,
                 "ada": dict(self._ada), "lecam": dict(self._lecam)}
        if self.scalers["G"].is_enabled():
            state["scalers"] = {name: s.state_dict() for name, s in self.scalers.items()}
        if self.private is not None:
            state["privacy"] = self.private.state_dict()
        return state

    def load_extra_state(self, state: dict) -> None:
        self.batches.load_state_dict(state["batches"])
        self.rollbacks = state["rollbacks"]
        # Checkpoints from before adaptive p keep the fixed p they were trained with.
        self.aug_p = state.get("aug_p", self.aug_p)
        self._ada = dict(state.get("ada", self._ada))
        self._lecam = dict(state.get("lecam", self._lecam))
        if "scalers" in state and self.scalers["G"].is_enabled():
            for name, scaler in self.scalers.items():
                scaler.load_state_dict(state["scalers"][name])
        if self.private is not None:
            self.private.load_state_dict(state["privacy"])

    def cannot_extend(self, previous) -> str | None:
        """Why the resumed run `previous` cannot train longer: a private run whose next G step would exceed its ε
        (the loop would stop before its first step, having trained nothing)."""
        if self.private is None:
            return None
        state = unflatten_state(previous.meta["extra"], previous.tensors)["privacy"]
        return self.private.cannot_extend(state, self.config.gan.n_d)

    def budget_spent(self) -> bool:
        """Whether a private run's next G step (n_D D steps) would exceed its ε: the loop stops there."""
        return self.private is not None and self.private.spent_after(self.config.gan.n_d)

    def train_step(self, step: int) -> dict[str, float]:
        """n_D discriminator updates, then one generator update and the EMA update."""
        g = self.config.gan
        # Snapshots live in memory only (one would double a checkpoint's size): a resumed run takes its first at the
        # step it resumes from, a state as good as any (checkpoints hold finite weights), so a roll-back soon after
        # a resume returns there rather than to the uninterrupted run's last multiple of SNAPSHOT_EVERY.
        if g.on_diverge == "rollback" and (self._snapshot is None or step % SNAPSHOT_EVERY == 0):
            self._snapshot = self._take_snapshot()
        records = []
        for _ in range(g.n_d):
            record = self._d_step() if self.private is None else self._private_d_step()
            if record is None:
                return self._roll_back("discriminator")
            records.append(record)
        metrics = {k: sum(r[k] for r in records if k in r) / sum(k in r for r in records)
                   for k in dict.fromkeys(k for r in records for k in r)}  # an empty Poisson batch logs nothing
        g_loss = self._g_step(metrics)
        if g_loss is None:
            return self._roll_back("generator")
        metrics["train/g_loss"] = g_loss
        decay = ema_decay_at(g.ema_decay, step) if g.ema_power is None else power_ema_decay(g.ema_power, step + 1)
        ema_update(self.G_ema, self.G, decay)
        if self.sample_dir is not None and g.sample_every and (step + 1) % g.sample_every == 0:
            self.write_grid(self.sample_dir / f"step-{step + 1:07d}.png")
        return metrics

    def summarize(self, window: list[dict]) -> dict[str, float]:
        """Mean of each metric over the window's steps (a rolled-back step reports fewer keys)."""
        keys = dict.fromkeys(k for m in window for k in m)
        record = {k: sum(m[k] for m in window if k in m) / sum(k in m for m in window) for k in keys}
        if self.rollbacks:
            record["train/rollbacks"] = self.rollbacks
        if self.private is not None:
            record.update(self.private.summary())
        return record

    def evaluate(self) -> dict[str, float]:
        """Writes RUN/samples/latest.png from the EMA generator; the sample-quality suite is `ganvq eval`.
        A private run reports the privacy spent so far."""
        if self.sample_dir is not None:
            self.write_grid(self.sample_dir / "latest.png")
        return {} if self.private is None else self.private.summary()

    # --- the two players -------------------------------------------------------------------------

    def _latents(self, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """z ~ N(0, I) and, for a conditional model, labels drawn uniformly, for a global batch of n: this
        process's slice of them (n, z_dim) under torchrun, all of them in one process."""
        z = torch.randn(n, self.config.model.z_dim, device=self.device)
        k = self.config.model.num_classes
        y = torch.randint(k, (n,), device=self.device) if k else None
        return distributed.shard(z), (None if y is None else distributed.shard(y))

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        """DiffAugment of x; under torchrun drawn for the global batch, so each image gets its one-process draw."""
        g = self.config.gan
        if not g.diffaugment:
            return x
        x_all = distributed.unshard(x)  # zeros around this process's slice: a few elementwise passes, small next to D
        return distributed.shard(diff_augment(x_all, g.diffaugment, self.aug_p, g.diffaugment_shift,
                                              g.diffaugment_fill))

    def _shift_real(self, x: torch.Tensor) -> torch.Tensor:
        """gan.real_shift's classic augmentation of real images (B, C, H, W); under torchrun drawn for the global batch
        too. The result has the default layout: callers restore MEMORY_FORMAT."""
        shift = self.config.gan.real_shift
        if not shift:
            return x
        return distributed.shard(rand_translation(distributed.unshard(x), shift, "edge"))

    def _adapt_p(self, logits_real: torch.Tensor) -> None:
        """Adaptive DiffAugment: gather sign(D(real)); every ADA_INTERVAL D steps move p toward the target."""
        ada = self._ada
        signs, images = distributed.agree([logits_real.detach().float().sign().sum().item(), len(logits_real)])
        ada["signs"] += signs  # over the global batch: every process moves p alike
        ada["images"] += int(images)
        ada["steps"] += 1
        if ada["steps"] == ADA_INTERVAL:
            target = self.config.gan.diffaugment_target
            self.aug_p = ada_adjust(self.aug_p, ada["signs"] / ada["images"], target, ada["images"])
            self._ada = dict(ADA_FRESH)

    def _judge(self, D: nn.Module, x: torch.Tensor, y: torch.Tensor | None):
        """D's logits on x (B,), and with a class loss its scores of every class (B, K), else None."""
        return D(x, y, classes=True) if self.config.gan.class_loss else (D(x, y), None)

    def _score(self, x: torch.Tensor, y: torch.Tensor | None, fake: torch.Tensor, y_fake: torch.Tensor | None,
               D: nn.Module | None = None, draws: int = 1):
        """D's logits on (augmented) real and fake images, and its class scores of the real ones (None without a
        class loss): one batch unless D's batch norm would mix them. D: the (wrapped) discriminator to call, by
        default the run's. draws: augmentations drawn of each image, all scored in the same pass (so spectral norm's
        power iteration steps once), their logits stacked draw after draw (draws x B)."""
        D = self.D_ddp if D is None else D  # not `or`: a module with __len__ (Sequential) of length 0 is falsy
        reals, fakes = self._drawn(x, draws), self._drawn(fake, draws)
        y_reals, y_fakes = _tiled(y, draws), _tiled(y_fake, draws)
        if self.D.uses_batch_stats:
            logits_real, scores = self._judge(D, reals, y_reals)
            return logits_real, D(fakes, y_fakes), None if scores is None else scores[:len(x)]  # fakes' unused
        labels = None if y is None else torch.cat([y_reals, y_fakes])
        logits, scores = self._judge(D, torch.cat([reals, fakes]), labels)
        return *logits.split([len(reals), len(fakes)]), None if scores is None else scores[:len(x)]

    def _drawn(self, x: torch.Tensor, draws: int) -> torch.Tensor:
        """`draws` independent DiffAugment draws of x, stacked."""
        return self._augment(x) if draws == 1 else torch.cat([self._augment(x) for _ in range(draws)])

    def _class_term(self, scores: torch.Tensor | None, y: torch.Tensor | None, metrics: dict, name: str):
        """class_loss x the cross-entropy of D's class scores against labels y (0 without a class loss); logged."""
        if scores is None:
            return 0.0
        ce = F.cross_entropy(scores.float(), y)
        metrics[name] = ce.item()
        return self.config.gan.class_loss * ce

    def _lecam_term(self, logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
        """LeCam's penalty against anchors that first take in this step's mean logits (over the global batch, so
        every process holds the same anchors; the first step sets them, later ones move them at lecam_decay)."""
        state = self._lecam
        sums = distributed.agree([logits_real.detach().float().sum().item(), len(logits_real),
                                  logits_fake.detach().float().sum().item(), len(logits_fake)])
        decay = self.config.gan.lecam_decay if state["updates"] else 0.0
        for key, total, count in (("real", sums[0], sums[1]), ("fake", sums[2], sums[3])):
            state[key] = decay * state[key] + (1 - decay) * total / count
        state["updates"] += 1
        return lecam_penalty(logits_real, logits_fake, state["real"], state["fake"])

    def _d_step(self) -> dict[str, float] | None:
        """One discriminator update; None (and no update) when its loss is not finite or explodes."""
        cfg, g = self.config, self.config.gan
        x, y = self.batches.next_batch()
        x = self._shift_real(x.to(self.device)).contiguous(memory_format=MEMORY_FORMAT)
        y = None if y is None else y.to(self.device)
        z, y_fake = self._latents(len(x) * distributed.current().world)
        with torch.no_grad(), autocast(self.device, cfg.train.precision):
            fake = self.G(z, y_fake)
        fake = fake.float()
        if g.r1_gamma:
            x.requires_grad_(True)  # R1 differentiates D's score of the real images (through DiffAugment)
        with autocast(self.device, cfg.train.precision):  # with consistency regularisation, two draws of each image
            logits_real, logits_fake, scores = self._score(x, y, fake, y_fake, draws=2 if g.consistency_weight else 1)
        if g.consistency_weight:
            (logits_real, again_real), (logits_fake, again_fake) = logits_real.chunk(2), logits_fake.chunk(2)
        loss = discriminator_loss(g.loss, logits_real, logits_fake)
        metrics = {"train/d_loss": loss.item(), "train/logits_real": logits_real.float().mean().item(),
                   "train/logits_fake": logits_fake.float().mean().item()}
        loss = loss + self._class_term(scores, y, metrics, "train/d_class_loss")
        if g.loss == "wgan-gp":
            # fp32, outside autocast: the penalty is a gradient norm, sensitive to bf16 rounding.
            gp = gradient_penalty(lambda t: self.D(t, y), x.detach(), fake, None)
            loss = loss + g.gp_weight * gp
            metrics["train/gp"] = gp.item()
        if g.lecam_weight:
            lecam = self._lecam_term(logits_real, logits_fake)
            loss = loss + g.lecam_weight * lecam
            metrics["train/lecam"] = lecam.item()
        if g.consistency_weight:
            consistency = (consistency_penalty(logits_real, again_real)
                           + consistency_penalty(logits_fake, again_fake))
            loss = loss + g.consistency_weight * consistency
            metrics["train/consistency"] = consistency.item()
        if g.r1_gamma:
            r1 = r1_penalty(logits_real, x)
            loss = loss + g.r1_gamma / 2 * r1
            metrics["train/r1"] = r1.item()
        if not self._sane(loss):
            return None
        self.opt_d.zero_grad(set_to_none=True)
        scaler = self.scalers["D"]
        scaler.scale(loss).backward()
        scaler.step(self.opt_d)
        scaler.update()
        if g.diffaugment_target:
            self._adapt_p(logits_real)
            metrics["train/aug_p"] = self.aug_p
        return metrics

    def _private_d_step(self) -> dict[str, float] | None:
        """One DP-SGD discriminator update on a Poisson batch. Clipping "pair": real image i and fake i form one
        clipped sample (two forward passes, one backward: opacus sums their per-sample gradients row by row).
        "separate": the expected batch's worth of fakes, however many images were drawn, and one pass over
        images and fakes together, each row its own clipped sample."""
        cfg, g = self.config, self.config.gan
        separate = cfg.privacy.clipping == "separate"
        images, labels = self._private_data
        idx = self.private.sample()
        self.private.zero_grad()
        if len(idx) == 0 and not separate:  # no image drawn: the noise step still happens, and is accounted for
            self.private.step()
            return {}
        x = self._shift_real(to_float(images[idx]).to(self.device)).contiguous(memory_format=MEMORY_FORMAT)
        y = None if labels is None else labels[idx].to(self.device)
        z, y_fake = self._latents(self.private.expected_batch if separate else len(x))
        with torch.no_grad(), autocast(self.device, cfg.train.precision):
            fake = self.G(z, y_fake).float()
        with self.private.recording() as D:
            with autocast(self.device, cfg.train.precision):
                if separate:  # one batch (D has no batch norm); each row a sample of its own
                    logits_real, logits_fake, scores = self._score(x, y, fake, y_fake, D)
                    # opacus' "mean" reduction multiplies the gradients by the rows (real and fake); the losses
                    # average the real rows and the fake rows apart: scaled so that each row's gradient is its own
                    rows = len(x) + len(fake)
                    real, fake_share = len(x) / rows, len(fake) / rows
                    logits_real, logits_fake = _grad_scaled(logits_real, real), _grad_scaled(logits_fake, fake_share)
                    scores = None if scores is None else _grad_scaled(scores, real)
                else:
                    logits_real, scores = self._judge(D, self._augment(x), y)
                    logits_fake = D(self._augment(fake), y_fake)
            if len(x) == 0:  # separate, no image drawn: the fakes' rows still count (their number is fixed)
                loss = discriminator_loss(g.loss, torch.zeros(1, device=self.device), logits_fake)
                metrics = {}
            else:
                loss = discriminator_loss(g.loss, logits_real, logits_fake)
                metrics = {"train/d_loss": loss.item(), "train/logits_real": logits_real.float().mean().item(),
                           "train/logits_fake": logits_fake.float().mean().item()}
                loss = loss + self._class_term(scores, y, metrics, "train/d_class_loss")  # clipped with the image
            if not self._sane(loss):
                return None
            loss.backward()
        self.private.step()
        return metrics

    def _g_step(self, metrics: dict | None = None) -> float | None:
        """One generator update through a frozen D; None (and no update) when the loss is not sane. Its class
        loss, if any, goes into `metrics`."""
        cfg, g = self.config, self.config.gan
        metrics = {} if metrics is None else metrics
        z, y_fake = self._latents(cfg.train.batch_size)
        self.D.requires_grad_(False)  # no weight gradients for D: a third less work in its backward
        try:
            with autocast(self.device, cfg.train.precision):
                logits_fake, scores = self._judge(self.D, self._augment(self.G_ddp(z, y_fake)), y_fake)
            adversarial = generator_loss(g.loss, logits_fake)  # logged as g_loss, like d_loss without the class term
            loss = adversarial + self._class_term(scores, y_fake, metrics, "train/g_class_loss")
            if not self._sane(loss):
                return None
            self.opt_g.zero_grad(set_to_none=True)
            self.scalers["G"].scale(loss).backward()
        finally:
            self.D.requires_grad_(True)
        self.scalers["G"].step(self.opt_g)
        self.scalers["G"].update()
        return adversarial.item()

    def _sane(self, loss: torch.Tensor) -> bool:
        """Whether the loss (averaged over the processes under torchrun, so all of them decide alike) is finite
        and within bounds."""
        (value,) = distributed.agree([loss.item()])
        value /= distributed.current().world
        return math.isfinite(value) and abs(value) <= self.config.gan.diverge_loss

    # --- divergence: stop, or roll back with lower learning rates ----------------------------------

    def _take_snapshot(self) -> dict:
        def opt_state(opt):
            return {p: {k: v.clone() if torch.is_tensor(v) else v for k, v in s.items()} for p, s in opt.state.items()}

        return {
            "modules": {n: copy.deepcopy(m.state_dict()) for n, m in self.modules().items()},
            "optim": {n: opt_state(o) for n, o in self.optimizers().items()},
            "aug": (self.aug_p, dict(self._ada)),
            "lecam": dict(self._lecam),
        }

    def _roll_back(self, player: str) -> dict[str, float]:
        """Restore the last snapshot and halve both learning rates, or raise TrainingDiverged."""
        g = self.config.gan
        what = f"the {player} loss is not finite or exceeds {g.diverge_loss:g}"
        if g.on_diverge != "rollback":
            raise loop.TrainingDiverged(f"{what}; try lower --lr/--lr-d, or --on-diverge rollback")
        if self.rollbacks >= g.max_rollbacks:
            raise loop.TrainingDiverged(f"{what} after {self.rollbacks} roll-backs with halved learning rates")
        for name, module in self.modules().items():
            module.load_state_dict(self._snapshot["modules"][name])
        self.aug_p, ada = self._snapshot["aug"]
        self._ada = dict(ada)
        self._lecam = dict(self._snapshot["lecam"])
        for name, opt in self.optimizers().items():
            # Only the per-parameter state: param_groups stay the same dicts the loop schedules.
            opt.state.clear()
            for p, s in self._snapshot["optim"][name].items():
                opt.state[p] = {k: v.clone() if torch.is_tensor(v) else v for k, v in s.items()}
        self.rollbacks += 1  # halves the learning rates from the next step on (lr_scale)
        warn(f"{what}: rolled back to the last snapshot and halved the learning rates ({self.rollbacks}/"
             f"{g.max_rollbacks})")
        return {"train/rollbacks": float(self.rollbacks)}

    # --- samples ---------------------------------------------------------------------------------

    @torch.no_grad()
    def write_grid(self, path: Path) -> None:
        """A grid of the EMA generator's images for the run's fixed latents (one column per class for K = 10)."""
        images = self.G_ema(self._grid_z, self._grid_y)
        save_grid(path, images, nrow=self._grid_nrow, upscale=2)


def train_gan(config: GANRunConfig | None, out: str | Path, resume: bool = False, quiet: bool = False,
              steps: int | None = None, minutes: float | None = None, machine: dict | None = None) -> dict:
    """Train a GAN into run folder `out` (or continue the run there); returns the final summary.

    With `resume`, `steps` (the total to reach) or `minutes` (more minutes) give the run a new length, which
    also extends a finished run; `machine` moves it to another device, thread count or precision (loop.run)."""
    summary = loop.run("gan", config, out, lambda cfg, _: GANTask(cfg, out=out), resume=resume, quiet=quiet,
                       steps=steps, minutes=minutes, machine=machine)
    summary["samples"] = str(Path(out) / "samples" / "latest.png")
    return summary
