"""DP-SGD for a GAN's discriminator (Abadi et al. 2016; Xie et al. 2018; Bie et al., TMLR 2023) through opacus.

Only D reads the private images, so only D's updates are privatised; G learns from D alone and is
post-processing, as are its EMA and every sample. Each D step draws a Poisson batch (every training image
independently with rate q = batch size / images), pairs image i with fake i, clips each pair's gradient to
C, adds N(0, σ²C²) to the sum and divides by the expected batch size. opacus computes the per-sample
gradients and the noisy step; its accountant composes the steps into ε at the run's δ. Not covered: the
loss figures logged during training, which are computed on the private images.
"""

from __future__ import annotations

import contextlib
import dataclasses

import torch
from torch import nn

from ganvq.errors import GanvqError
from ganvq.metrics.privacy import (
    MAX_STEPS,
    allowed_steps,
    calibrate_noise,
    epsilon_of,
    make_accountant,
    quiet_opacus,
    require_opacus,
)
from ganvq.runs import GANRunConfig
from ganvq.runs.privacy import PrivacyOptions


def with_noise(config: GANRunConfig, n_images: int) -> PrivacyOptions:
    """The run's privacy section with its noise multiplier: as given, or calibrated so that --steps × n_D D steps
    at rate batch / images spend exactly ε (Bie et al. 2023 fix the steps and calibrate σ the same way)."""
    p = config.privacy
    if not p.private or p.noise_multiplier is not None:
        return p
    if config.train.steps is None:
        raise GanvqError("a private run calibrates its noise to its length: give --steps N (with --minutes too if "
                         "you like), or a fixed --dp-noise-multiplier")
    rate = min(config.train.batch_size / n_images, 1.0)
    noise = calibrate_noise(p.epsilon, p.delta, rate, config.train.steps * config.gan.n_d, p.accountant)
    return dataclasses.replace(p, noise_multiplier=noise)


def _nchw_input(layer: nn.Module, args: tuple) -> tuple:
    """A forward pre-hook: the layer's input in NCHW-contiguous layout (a copy only where it is not)."""
    return tuple(a.contiguous() if torch.is_tensor(a) else a for a in args)


class PrivateDiscriminator:
    """D's private update: per-sample gradients (opacus GradSampleModule), Poisson batches, clipping and noise
    (DPOptimizer), and the accountant's history, which the checkpoint keeps so a resumed run goes on spending."""

    def __init__(self, D: nn.Module, optimizer: torch.optim.Optimizer, options: PrivacyOptions, n_images: int,
                 batch_size: int, seed: int):
        require_opacus()
        from opacus.grad_sample import GradSampleModule
        from opacus.optimizers import DPOptimizer
        from opacus.utils.uniform_sampler import UniformWithReplacementSampler
        from opacus.validators import ModuleValidator

        problems = ModuleValidator.validate(D, strict=False)
        if problems:
            raise GanvqError(f"the discriminator has layers DP-SGD cannot train: {problems[0]}")
        if options.noise_multiplier is None:
            raise GanvqError("the noise multiplier is calibrated before training starts (see GANTask)")
        self.options = options
        self.n_images = n_images
        self.sample_rate = min(batch_size / n_images, 1.0)
        self.expected_batch = batch_size
        self.noise = options.noise_multiplier
        # opacus 1.6's per-sample conv gradients (unfold2d's as_strided) assume NCHW-contiguous activations: for
        # channels_last ones (ganvq's layout) they read the wrong pixels of each image (in dp-fmnist's D, only
        # padding for the middle convolution: zero gradients). Each row still read only its own image, so clipping
        # bounded it and ε held, but D learned from wrong gradients. So every convolution of D takes its input
        # NCHW-contiguous (tests compare the clipped sum with autograd's).
        for layer in D.modules():
            if isinstance(layer, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
                layer.register_forward_pre_hook(_nchw_input)
        self.module = GradSampleModule(D, loss_reduction="mean")
        self.module.disable_hooks()  # on only in D's own steps (recording()), not when G's loss runs through D
        # Noise comes from torch's global RNG, which checkpoints save and restore: resuming continues exactly.
        self.optimizer = DPOptimizer(optimizer, noise_multiplier=self.noise, max_grad_norm=options.max_grad_norm,
                                     expected_batch_size=batch_size, loss_reduction="mean")
        self.generator = torch.Generator().manual_seed(seed * 1_000_003 + 22)
        self._sampler = iter(UniformWithReplacementSampler(num_samples=n_images, sample_rate=self.sample_rate,
                                                           generator=self.generator, steps=MAX_STEPS))
        self.history: list = []  # the accountant's: [(σ, q, steps)]
        self.max_steps = allowed_steps(self.noise, self.sample_rate, options.epsilon, options.delta,
                                       options.accountant)

    @property
    def steps(self) -> int:
        """D steps taken (all of them privatised)."""
        return sum(int(h[2]) for h in self.history)

    def epsilon(self) -> float:
        """ε spent so far at the run's δ."""
        return epsilon_of(self.options.accountant, self.history, self.options.delta)

    def spent_after(self, more: int) -> bool:
        """Whether `more` further D steps would exceed the budget."""
        return self.steps + more > self.max_steps

    def cannot_extend(self, state: dict, more: int) -> str | None:
        """Why a run saved with privacy state `state` (state_dict's) cannot take `more` further D steps, or None."""
        history = state["history"]
        d_steps = sum(int(h[2]) for h in history)
        if d_steps + more <= self.max_steps:
            return None
        o = self.options
        spent = epsilon_of(o.accountant, history, o.delta)
        return (f"this private run has spent its privacy budget (ε = {spent:.3g} of {o.epsilon:g} at δ = {o.delta:g} "
                f"after {d_steps} D steps): one more G step would exceed it, so it cannot train longer and nothing was "
                "changed; a new run with a larger --epsilon can (a weaker guarantee)")

    def sample(self) -> torch.Tensor:
        """The indices of the next Poisson batch: each training image in it with probability q."""
        return torch.as_tensor(next(self._sampler), dtype=torch.long)

    @contextlib.contextmanager
    def recording(self):
        """Per-sample gradients are recorded inside this block (D's private forward and backward passes)."""
        self.module.enable_hooks()
        try:
            with quiet_opacus():
                yield self.module
        finally:
            self.module.disable_hooks()

    def zero_grad(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)

    def step(self) -> None:
        """Clip each sample's gradient to C, add the noise, take the optimizer step and account for it."""
        for p in self.optimizer.params:
            if p.grad_sample is None:  # an empty Poisson batch: the step is noise alone
                p.grad_sample = torch.zeros(0, *p.shape, device=p.device, dtype=p.dtype)
        self.optimizer.step()
        accountant = make_accountant(self.options.accountant, self.history)
        accountant.step(noise_multiplier=self.noise, sample_rate=self.sample_rate)
        self.history = [list(h) for h in accountant.history]

    def summary(self) -> dict:
        """The privacy figures a run logs and an evaluation shows."""
        o = self.options
        return {"privacy/epsilon": self.epsilon(), "privacy/delta": o.delta, "privacy/target_epsilon": o.epsilon,
                "privacy/noise_multiplier": self.noise, "privacy/max_grad_norm": o.max_grad_norm,
                "privacy/sample_rate": self.sample_rate, "privacy/d_steps": self.steps}

    def state_dict(self) -> dict:
        return {"history": [list(h) for h in self.history], "sampler": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.history = [list(h) for h in state["history"]]
        self.generator.set_state(state["sampler"])
