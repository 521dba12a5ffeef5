"""Runs: their configs and presets, and a run folder read once (kind, config, weights) or locked for writing."""

from ganvq.runs.configs import GANOptions, GANRunConfig, PriorRunConfig, TrainConfig, VQVAERunConfig
from ganvq.runs.lock import RunLock
from ganvq.runs.presets import GAN_PRESETS, VQGAN_PRESETS, VQVAE_PRESETS, build_run_config, gan_preset, preset
from ganvq.runs.run import (
    CHECKPOINT,
    CONFIG,
    METRICS,
    Run,
    checkpoint_path,
    load_discriminator,
    load_gan,
    load_prior,
    load_vqvae,
    module_weights,
    open_run,
    read_metrics,
    run_folder,
    trim_metrics,
)
from ganvq.runs.vqgan import VQGANOptions

__all__ = [
    "CHECKPOINT", "CONFIG", "GANOptions", "GANRunConfig", "GAN_PRESETS", "METRICS", "PriorRunConfig", "Run",
    "RunLock", "TrainConfig", "VQGANOptions", "VQGAN_PRESETS", "VQVAERunConfig", "VQVAE_PRESETS", "build_run_config",
    "checkpoint_path", "gan_preset", "load_discriminator", "load_gan", "load_prior", "load_vqvae", "module_weights",
    "open_run", "preset", "read_metrics", "run_folder", "trim_metrics",
]
