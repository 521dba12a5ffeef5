"""Autoregressive prior over VQ-VAE code maps: the model, its bit-exact integer inference, sampling."""

from ganvq.prior.model import CodePrior, PriorConfig

__all__ = ["CodePrior", "PriorConfig"]
