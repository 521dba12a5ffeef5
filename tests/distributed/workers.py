"""What each process of a test's process group runs (importable by spawned processes)."""

from __future__ import annotations


def train_vqvae(config, out) -> None:
    from ganvq.train.vqvae import train_vqvae

    train_vqvae(config, out, quiet=True)


def train_gan(config, out) -> None:
    from ganvq.train.gan import train_gan

    train_gan(config, out, quiet=True)


def train_prior(config, out) -> None:
    from ganvq.train.prior import train_prior

    train_prior(config, out, quiet=True)
