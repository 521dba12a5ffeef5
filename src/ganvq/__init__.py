"""ganvq: image generation and reconstruction with GANs and VQ-VAEs.

Every CLI command is a function here: `train_vqvae`, `reconstruct`, `encode`, `decode`,
`eval_vqvae`, `eval_gan`, `eval_folder` (`score_samples` for tensors), `report` (any runs; `vqvae_report`
for one VQ-VAE), `ImageDB` (an image database on codes), `train_gan`,
`write_samples` (sample a GAN or a prior), `interpolate`, `train_prior`, `compress_paths` /
`decompress_paths` (`Codec.compress` / `Codec.decompress` for bytes), `restore` (`restore_images` for
tensors). A trained run is read with
`open_run` (or `load_vqvae`, `load_gan`, `load_prior`); `build_run_config` layers a preset, a config
file and overrides as the CLI does. The building blocks live in the subpackages.
"""

import importlib

# Names are imported on first use, so `ganvq` (and the CLI, which must catch Ctrl-C from its first moment)
# starts without loading torch.
_SOURCES = {
    "Codec": "ganvq.codec",
    "compress_paths": "ganvq.commands.codec_files",
    "decompress_paths": "ganvq.commands.codec_files",
    "eval_folder": "ganvq.commands.evaluate",
    "eval_gan": "ganvq.commands.evaluate",
    "eval_vqvae": "ganvq.commands.evaluate",
    "decode": "ganvq.commands.reconstruct",
    "encode": "ganvq.commands.reconstruct",
    "reconstruct": "ganvq.commands.reconstruct",
    "restore": "ganvq.commands.restore",
    "restore_images": "ganvq.commands.restore",
    "report": "ganvq.commands.report",
    "vqvae_report": "ganvq.commands.report",
    "ImageDB": "ganvq.db",
    "interpolate": "ganvq.commands.sample",
    "sample": "ganvq.commands.sample",
    "sample_prior": "ganvq.commands.sample",
    "write_prior_samples": "ganvq.commands.sample",
    "write_samples": "ganvq.commands.sample",
    "GanvqError": "ganvq.errors",
    "score_samples": "ganvq.metrics.score",
    "GANConfig": "ganvq.models.gan",
    "VQVAE": "ganvq.models.vqvae",
    "VQVAEConfig": "ganvq.models.vqvae",
    "CodePrior": "ganvq.prior",
    "LocalPrior": "ganvq.prior",
    "PriorConfig": "ganvq.prior",
    "FSQ": "ganvq.quantize.fsq",
    "FSQConfig": "ganvq.quantize.fsq",
    "VectorQuantizer": "ganvq.quantize.vq",
    "VQConfig": "ganvq.quantize.vq",
    "GANOptions": "ganvq.runs",
    "GANRunConfig": "ganvq.runs",
    "PriorRunConfig": "ganvq.runs",
    "Run": "ganvq.runs",
    "TrainConfig": "ganvq.runs",
    "VQVAERunConfig": "ganvq.runs",
    "build_run_config": "ganvq.runs",
    "gan_preset": "ganvq.runs",
    "load_gan": "ganvq.runs",
    "load_prior": "ganvq.runs",
    "load_vqvae": "ganvq.runs",
    "open_run": "ganvq.runs",
    "preset": "ganvq.runs",
    "train_gan": "ganvq.train.gan",
    "train_prior": "ganvq.train.prior",
    "train_vqvae": "ganvq.train.vqvae",
}


__all__ = [
    "FSQ", "FSQConfig", "GanvqError", "TrainConfig", "VQConfig", "VQVAE", "VQVAEConfig", "VQVAERunConfig",
    "VectorQuantizer", "decode", "encode", "eval_vqvae", "load_vqvae", "preset", "reconstruct",
    "train_vqvae", "vqvae_report",
    "GANConfig", "GANOptions", "GANRunConfig", "gan_preset", "interpolate", "load_gan", "sample", "train_gan",
    "write_samples", "eval_gan", "eval_folder", "score_samples",
    "Codec", "CodePrior", "LocalPrior", "PriorConfig", "PriorRunConfig", "compress_paths", "decompress_paths", "load_prior",
    "sample_prior", "train_prior", "write_prior_samples",
    "Run", "build_run_config", "open_run", "report", "ImageDB", "restore", "restore_images",
]


def __getattr__(name: str):
    if name in _SOURCES:
        value = getattr(importlib.import_module(_SOURCES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ganvq' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
