"""ganvq: image generation and reconstruction with GANs and VQ-VAEs.

Every CLI command is a function here: `train_vqvae`, `reconstruct`, `encode`, `decode`,
`eval_vqvae`, `eval_gan`, `eval_folder` (`score_samples` for tensors), `vqvae_report`, `train_gan`, `write_samples` (sample), `interpolate`,
`train_prior`, `write_prior_samples` (sample from a prior), `compress_paths` / `decompress_paths`
(`Codec.compress` / `Codec.decompress` for bytes); the building blocks live in the subpackages.
"""

from ganvq.codec import Codec
from ganvq.codec.files import compress_paths, decompress_paths
from ganvq.config import GANOptions, GANRunConfig, PriorRunConfig, TrainConfig, VQVAERunConfig, gan_preset, preset
from ganvq.errors import GanvqError
from ganvq.evaluate import eval_folder, eval_gan, eval_vqvae
from ganvq.metrics.score import score_samples
from ganvq.models.gan import GANConfig
from ganvq.models.vqvae import VQVAE, VQVAEConfig
from ganvq.prior import CodePrior, LocalPrior, PriorConfig
from ganvq.prior.sample import sample_prior, write_prior_samples
from ganvq.quantize.fsq import FSQ, FSQConfig
from ganvq.quantize.vq import VectorQuantizer, VQConfig
from ganvq.reconstruct import decode, encode, reconstruct
from ganvq.report.html import vqvae_report
from ganvq.sample import interpolate, sample, write_samples
from ganvq.train.gan import load_gan, train_gan
from ganvq.train.prior import load_prior, train_prior
from ganvq.train.vqvae import load_vqvae, train_vqvae

__all__ = [
    "FSQ", "FSQConfig", "GanvqError", "TrainConfig", "VQConfig", "VQVAE", "VQVAEConfig", "VQVAERunConfig",
    "VectorQuantizer", "decode", "encode", "eval_vqvae", "load_vqvae", "preset", "reconstruct",
    "train_vqvae", "vqvae_report",
    "GANConfig", "GANOptions", "GANRunConfig", "gan_preset", "interpolate", "load_gan", "sample", "train_gan",
    "write_samples", "eval_gan", "eval_folder", "score_samples",
    "Codec", "CodePrior", "LocalPrior", "PriorConfig", "PriorRunConfig", "compress_paths", "decompress_paths", "load_prior",
    "sample_prior", "train_prior", "write_prior_samples",
]
