"""ganvq: image generation and reconstruction with GANs and VQ-VAEs.

Every CLI command is a function here: `train_vqvae`, `reconstruct`, `encode`, `decode`,
`eval_vqvae`, `vqvae_report`; the building blocks live in the subpackages.
"""

from ganvq.config import TrainConfig, VQVAERunConfig, preset
from ganvq.errors import GanvqError
from ganvq.evaluate import eval_vqvae
from ganvq.models.vqvae import VQVAE, VQVAEConfig
from ganvq.quantize.fsq import FSQ, FSQConfig
from ganvq.quantize.vq import VectorQuantizer, VQConfig
from ganvq.reconstruct import decode, encode, reconstruct
from ganvq.report.html import vqvae_report
from ganvq.train.vqvae import load_vqvae, train_vqvae

__all__ = [
    "FSQ", "FSQConfig", "GanvqError", "TrainConfig", "VQConfig", "VQVAE", "VQVAEConfig", "VQVAERunConfig",
    "VectorQuantizer", "decode", "encode", "eval_vqvae", "load_vqvae", "preset", "reconstruct",
    "train_vqvae", "vqvae_report",
]
