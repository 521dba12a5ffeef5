"""Autoregressive priors over VQ-VAE code maps: the models, and their bit-exact integer inference."""

from torch import nn

from ganvq.prior.config import PriorConfig
from ganvq.prior.exact import ExactPrior
from ganvq.prior.exact_local import ExactLocalPrior
from ganvq.prior.local import LocalPrior
from ganvq.prior.model import CodePrior

__all__ = ["CodePrior", "ExactLocalPrior", "ExactPrior", "LocalPrior", "PriorConfig", "build_prior", "exact_prior"]


def build_prior(config: PriorConfig) -> nn.Module:
    """The prior a config describes: CodePrior (transformer) or LocalPrior."""
    return LocalPrior(config) if config.arch == "local" else CodePrior(config)


def exact_prior(model: CodePrior | LocalPrior) -> ExactPrior | ExactLocalPrior:
    """The bit-exact version of a trained prior: ExactPrior (transformer) or ExactLocalPrior."""
    return ExactLocalPrior(model) if model.config.arch == "local" else ExactPrior(model)
