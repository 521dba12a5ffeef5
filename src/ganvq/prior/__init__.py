"""Priors over VQ-VAE code maps: the autoregressive models and their bit-exact integer inference, and the
bidirectional masked-code prior for inpainting."""

from torch import nn

from ganvq.prior.config import PriorConfig
from ganvq.prior.exact import ExactPrior
from ganvq.prior.exact_local import ExactLocalPrior
from ganvq.prior.local import LocalPrior
from ganvq.prior.maskgit import MaskGITPrior
from ganvq.prior.model import CodePrior

__all__ = ["CodePrior", "ExactLocalPrior", "ExactPrior", "LocalPrior", "MaskGITPrior", "PriorConfig", "build_prior",
           "exact_prior"]


def build_prior(config: PriorConfig) -> nn.Module:
    """The prior a config describes: CodePrior (transformer), LocalPrior or MaskGITPrior."""
    return {"local": LocalPrior, "maskgit": MaskGITPrior}.get(config.arch, CodePrior)(config)


def exact_prior(model: CodePrior | LocalPrior) -> ExactPrior | ExactLocalPrior:
    """The bit-exact version of a trained prior: ExactPrior (transformer) or ExactLocalPrior."""
    return ExactLocalPrior(model) if model.config.arch == "local" else ExactPrior(model)
