"""ganvq: image generation and reconstruction with GANs and VQ-VAEs.

Every CLI command is a function here: `train_vqvae`, `reconstruct`, `encode`, `decode`,
`eval_vqvae`, `eval_gan`, `eval_folder` (`score_samples` for tensors), `vqvae_report`, `train_gan`,
`write_samples` (sample a GAN or a prior), `interpolate`, `train_prior`, `compress_paths` /
`decompress_paths` (`Codec.compress` / `Codec.decompress` for bytes). A trained run is read with
`open_run` (or `load_vqvae`, `load_gan`, `load_prior`); `build_run_config` layers a preset, a config
file and overrides as the CLI does. The building blocks live in the subpackages.
"""

from ganvq.codec import Codec
from ganvq.commands.codec_files import compress_paths, decompress_paths
from ganvq.commands.evaluate import eval_folder, eval_gan, eval_vqvae
from ganvq.commands.reconstruct import decode, encode, reconstruct
from ganvq.commands.report import vqvae_report
from ganvq.commands.sample import interpolate, sample, sample_prior, write_prior_samples, write_samples
from ganvq.errors import GanvqError
from ganvq.metrics.score import score_samples
from ganvq.models.gan import GANConfig
from ganvq.models.vqvae import VQVAE, VQVAEConfig
from ganvq.prior import CodePrior, LocalPrior, PriorConfig
from ganvq.quantize.fsq import FSQ, FSQConfig
from ganvq.quantize.vq import VectorQuantizer, VQConfig
from ganvq.runs import (
    GANOptions,
    GANRunConfig,
    PriorRunConfig,
    Run,
    TrainConfig,
    VQVAERunConfig,
    build_run_config,
    gan_preset,
    load_gan,
    load_prior,
    load_vqvae,
    open_run,
    preset,
)
from ganvq.train.gan import train_gan
from ganvq.train.prior import train_prior
from ganvq.train.vqvae import train_vqvae

__all__ = [
    "FSQ", "FSQConfig", "GanvqError", "TrainConfig", "VQConfig", "VQVAE", "VQVAEConfig", "VQVAERunConfig",
    "VectorQuantizer", "decode", "encode", "eval_vqvae", "load_vqvae", "preset", "reconstruct",
    "train_vqvae", "vqvae_report",
    "GANConfig", "GANOptions", "GANRunConfig", "gan_preset", "interpolate", "load_gan", "sample", "train_gan",
    "write_samples", "eval_gan", "eval_folder", "score_samples",
    "Codec", "CodePrior", "LocalPrior", "PriorConfig", "PriorRunConfig", "compress_paths", "decompress_paths", "load_prior",
    "sample_prior", "train_prior", "write_prior_samples",
    "Run", "build_run_config", "open_run",
]
