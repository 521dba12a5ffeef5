"""VQ-VAE: convolutional encoder -> quantizer -> decoder (van den Oord et al. 2017)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ganvq.errors import GanvqError
from ganvq.images import to_float
from ganvq.models.blocks import ResBlock
from ganvq.quantize.fsq import FSQ, FSQConfig
from ganvq.quantize.vq import ResidualQuantizer, VectorQuantizer, VQConfig


@dataclass(frozen=True)
class VQVAEConfig:
    image_size: int = 28  # square input size in pixels
    channels: int = 1  # image channels: 1 grayscale, 3 RGB
    hidden: int = 128  # channels of the widest conv layers
    res_blocks: int = 2  # residual blocks at the latent resolution, in encoder and decoder each
    downsamples: int = 2  # stride-2 stages: latent grid = image_size / 2**downsamples
    # a 3x3 convolution at full resolution first in the encoder and last in the decoder; False: the stride-2
    # convolutions meet the pixels directly (van den Oord et al.'s layout; at 64 px 2x faster per step in fp32)
    stem: bool = True
    quantizer: str = "vq"  # "vq" | "fsq"
    vq: VQConfig = field(default_factory=VQConfig)
    fsq: FSQConfig = field(default_factory=FSQConfig)

    def __post_init__(self) -> None:
        for name, lo, hi in (("image_size", 1, 4096), ("hidden", 1, 1 << 16), ("res_blocks", 0, 256),
                             ("downsamples", 0, 12)):
            if not lo <= getattr(self, name) <= hi:  # a damaged config must not allocate without end
                raise GanvqError(f"model.{name} must lie in [{lo}, {hi}], got {getattr(self, name)}")
        if self.channels not in (1, 3):
            raise GanvqError(f"model.channels must be 1 or 3, got {self.channels}")
        if self.image_size % (2**self.downsamples):
            raise GanvqError(
                f"image size {self.image_size} is not divisible by 2**downsamples = {2**self.downsamples}"
            )
        if not self.stem and self.downsamples < 1:
            raise GanvqError("model.stem: false needs at least one downsample (the stride-2 convolutions meet the pixels)")
        if self.quantizer not in ("vq", "fsq"):
            raise GanvqError(f"unknown quantizer {self.quantizer!r}; choose vq or fsq")

    @property
    def latent_size(self) -> int:
        return self.image_size // 2**self.downsamples

    @property
    def code_shape(self) -> tuple[int, int]:
        """(h, w) of an image's code map: the latent grid, its width times the levels of a residual quantizer."""
        levels = self.vq.levels if self.quantizer == "vq" else 1
        return self.latent_size, self.latent_size * levels

    @property
    def embed_dim(self) -> int:
        return self.vq.dim if self.quantizer == "vq" else self.fsq.dim


def _stage_channels(hidden: int, downsamples: int) -> list[int]:
    """Channels at each resolution from full size to latent: widest at the latent grid."""
    return [max(hidden // 2 ** (downsamples - i), 32) for i in range(downsamples + 1)]


class Encoder(nn.Module):
    """x (B, C, H, W) -> z (B, D, H / 2**downsamples, W / 2**downsamples)."""

    def __init__(self, cfg: VQVAEConfig):
        super().__init__()
        chans = _stage_channels(cfg.hidden, cfg.downsamples)
        layers: list[nn.Module] = [nn.Conv2d(cfg.channels, chans[0], 3, padding=1)] if cfg.stem else []
        if not cfg.stem:  # the first stride-2 convolution reads the pixels
            chans = [cfg.channels, *chans[1:]]
        for c_in, c_out in zip(chans, chans[1:]):  # a ReLU before each, but not on the pixels
            layers += [nn.ReLU()] * bool(layers) + [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1)]
        layers += [nn.ReLU(), nn.Conv2d(chans[-1], chans[-1], 3, padding=1)]
        layers += [ResBlock(chans[-1]) for _ in range(cfg.res_blocks)]
        layers += [nn.ReLU(), nn.Conv2d(chans[-1], cfg.embed_dim, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class Decoder(nn.Module):
    """z_q (B, D, h, w) -> x_hat (B, C, h * 2**downsamples, w * 2**downsamples) in [-1, 1]."""

    def __init__(self, cfg: VQVAEConfig):
        super().__init__()
        chans = _stage_channels(cfg.hidden, cfg.downsamples)[::-1]
        layers: list[nn.Module] = [nn.Conv2d(cfg.embed_dim, chans[0], 3, padding=1)]
        layers += [ResBlock(chans[0]) for _ in range(cfg.res_blocks)]
        if not cfg.stem:  # the last transposed convolution writes the pixels
            chans = [*chans[:-1], cfg.channels]
        for c_in, c_out in zip(chans, chans[1:]):
            layers += [nn.ReLU(), nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1)]
        if cfg.stem:
            layers += [nn.ReLU(), nn.Conv2d(chans[-1], cfg.channels, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, z_q):
        return self.net(z_q)


@dataclass
class VQVAEOutput:
    x_hat: torch.Tensor  # (B, C, H, W) reconstruction (unclamped)
    indices: torch.Tensor  # (B, h, w); (B, h, w * levels) with residual quantization
    rec_loss: torch.Tensor  # MSE on [-1, 1] pixels
    vq_loss: torch.Tensor  # codebook + commitment terms
    # the first images decoded again from detached codes (forward's `decoder_only`): a loss on these trains the
    # decoder alone
    x_hat_decoder: torch.Tensor | None = None

    @property
    def loss(self) -> torch.Tensor:
        return self.rec_loss + self.vq_loss


class VQVAE(nn.Module):
    """Encoder, quantizer and decoder; forward(x) returns a VQVAEOutput with the training loss."""

    def __init__(self, config: VQVAEConfig):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        if config.quantizer == "fsq":
            self.quantizer = FSQ(config.fsq)
        else:
            self.quantizer = ResidualQuantizer(config.vq) if config.vq.levels > 1 else VectorQuantizer(config.vq)
        self.decoder = Decoder(config)

    @property
    def codebook_size(self) -> int:
        return self.quantizer.codebook_size

    def forward(self, x: torch.Tensor, target: torch.Tensor | None = None, decoder_only: int = 0) -> VQVAEOutput:
        """Encode, quantize, decode; the reconstruction loss is against `target` (a damaged x's clean image) or x.
        With `decoder_only` n > 0 the first n images are also decoded from detached codes (x_hat_decoder), so a loss
        on them reaches the decoder and not the encoder or codebook; inside forward, so DDP sees one pass."""
        q = self.quantizer(self.encoder(x))
        x_hat = self.decoder(q.z_q)
        rec = F.mse_loss(x_hat.float(), (x if target is None else target).float())
        again = self.decoder(q.z_q[:decoder_only].detach()) if decoder_only > 0 else None
        return VQVAEOutput(x_hat=x_hat, indices=q.indices, rec_loss=rec, vq_loss=q.loss, x_hat_decoder=again)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) in [-1, 1] -> code indices (B, *config.code_shape)."""
        z = self.encoder(x)
        if isinstance(self.quantizer, VectorQuantizer) and not self.training:
            return self.quantizer.encode(z)  # the same indices without the training losses
        return self.quantizer(z).indices

    @torch.no_grad()
    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        """Code indices (B, *config.code_shape) -> images (B, C, H, W) clamped to [-1, 1]."""
        return self.decoder(self.quantizer.indices_to_codes(indices)).clamp(-1, 1)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """decode(encode(x)), clamped to [-1, 1]."""
        return self.decode(self.encode(x))

    @torch.no_grad()
    def encode_images(self, images: torch.Tensor, batch_size: int = 500,
                      progress: Callable[[int], None] | None = None) -> torch.Tensor:
        """uint8 images (N, C, H, W) -> code indices (N, h, w) int64 on the CPU, `batch_size` at a time
        (`progress(n)` told of each batch's n images)."""
        device = next(self.parameters()).device
        out = []
        for i in range(0, len(images), batch_size):
            out.append(self.encode(to_float(images[i : i + batch_size]).to(device)).cpu())
            if progress is not None:
                progress(len(out[-1]))
        return torch.cat(out) if out else torch.empty(0, *self.config.code_shape, dtype=torch.int64)

    @torch.no_grad()
    def decode_codes(self, indices: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """Code indices (N, h, w) -> images (N, C, H, W) float in [-1, 1], after checking they fit this model."""
        h, w = self.config.code_shape
        if indices.ndim != 3 or tuple(indices.shape[1:]) != (h, w):
            raise GanvqError(f"code maps must have shape (N, {h}, {w}) for this model, got {tuple(indices.shape)}")
        if len(indices) == 0:
            raise GanvqError("no code maps to decode")
        if int(indices.min()) < 0 or int(indices.max()) >= self.codebook_size:
            raise GanvqError(f"code indices must lie in [0, {self.codebook_size - 1}] for this model; these run from "
                             f"{int(indices.min())} to {int(indices.max())} (codes of another model?)")
        device = next(self.parameters()).device
        return torch.cat([self.decode(indices[i : i + batch_size].to(device)).cpu()
                          for i in range(0, len(indices), batch_size)])
