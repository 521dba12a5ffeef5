"""Autoregressive prior over VQ-VAE code maps: the model, its bit-exact integer inference, sampling."""

from ganvq.prior.local import LocalPrior
from ganvq.prior.model import CodePrior, PriorConfig, build_prior

__all__ = ["CodePrior", "LocalPrior", "PriorConfig", "build_prior"]
