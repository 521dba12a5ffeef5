"""GAN generators and discriminators: DCGAN (Radford et al. 2016) and SN-ResNet (Miyato et al. 2018).

Both are sized by `GANConfig.image_size` (28 for Fashion-MNIST, 32 or 64 for RGB folders) and take
an optional class label: a conditional generator reads the one-hot label beside z (Mirza &
Osindero 2014) and uses class-conditional batch norm (de Vries et al. 2017), a conditional
discriminator adds the projection term <embed(y), phi(x)> (Miyato & Koyama 2018). Generators map z (B, z_dim) [+ y (B,)] to images (B, C, H, W) in [-1, 1];
discriminators map images [+ y] to logits (B,), and with `classes=True` also give the projection's score of every
class (B, K), which GANOptions.class_loss trains as a classifier.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ganvq.errors import GanvqError

ARCHS = ("dcgan", "resnet")
D_NORMS = ("bn", "sn", "none")
D_PROJECTIONS = ("flat", "pooled")


@dataclass(frozen=True)
class GANConfig:
    arch: str = "dcgan"  # "dcgan" (conv + batch norm, Radford et al. 2016) | "resnet" (SN-ResNet, Miyato et al. 2018)
    image_size: int = 28  # square size in pixels: 28, 32, 64 (any s0 * 2**k with 4 <= s0 <= 7)
    channels: int = 1  # 1 grayscale, 3 RGB (set from the data at training time)
    z_dim: int = 100  # latent size; z ~ N(0, I)
    g_width: int = 64  # generator channels at full resolution (DCGAN's ngf); doubles per stage for DCGAN
    d_width: int = 64  # discriminator channels at full resolution (DCGAN's ndf)
    d_norm: str = "bn"  # discriminator normalisation: "bn" (the article), "sn" (spectral), "none" (for WGAN-GP)
    num_classes: int = 0  # 0: unconditional; K > 0: conditional G (one-hot input, conditional BN), projection D
    # What the DCGAN D's class embedding meets: "flat", the s0 x s0 feature map its last layer reads (C * s0²
    # numbers per class), or "pooled", that map summed over space (C numbers: Miyato & Koyama 2018, as the
    # SN-ResNet D always does); pooled has s0² times fewer embedding weights, which DP-SGD's noise grows with.
    d_projection: str = "flat"
    dcgan_init: bool = True  # weights ~ N(0, 0.02), BN gains ~ N(1, 0.02), as the DCGAN paper prescribes

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise GanvqError(f"unknown GAN architecture {self.arch!r}; choose {' or '.join(ARCHS)}")
        if self.d_norm not in D_NORMS:
            raise GanvqError(f"unknown discriminator norm {self.d_norm!r}; choose from {', '.join(D_NORMS)}")
        if self.d_projection not in D_PROJECTIONS:
            raise GanvqError(f"unknown discriminator projection {self.d_projection!r}; choose from "
                             f"{', '.join(D_PROJECTIONS)}")
        if self.arch == "resnet" and self.d_norm == "bn":
            raise GanvqError("the SN-ResNet discriminator takes d_norm 'sn' or 'none', not batch norm")
        if self.channels not in (1, 3):
            raise GanvqError(f"channels must be 1 or 3, got {self.channels}")
        if self.num_classes < 0 or self.z_dim < 1 or self.g_width < 1 or self.d_width < 1:
            raise GanvqError("z_dim, g_width, d_width must be positive and num_classes non-negative")
        base_and_stages(self.image_size)  # validates the size

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0


def base_and_stages(image_size: int) -> tuple[int, int]:
    """(s0, k) with image_size = s0 * 2**k: the generator starts at s0 x s0 and doubles k times."""
    s, k = image_size, 0
    while s % 2 == 0 and s // 2 >= 4:
        s, k = s // 2, k + 1
    if k == 0 or s > 8:
        raise GanvqError(
            f"image size {image_size} is not supported; use s0 * 2**k with 4 <= s0 <= 8, k >= 1 (28, 32, 64, ...)"
        )
    return s, k


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm whose gain and bias are looked up per class (de Vries et al. 2017); plain BN when K = 0."""

    def __init__(self, channels: int, num_classes: int = 0):
        super().__init__()
        self.num_classes = num_classes
        self.bn = nn.BatchNorm2d(channels, affine=num_classes == 0)
        if num_classes:
            self.gain = nn.Embedding(num_classes, channels)
            self.bias = nn.Embedding(num_classes, channels)
            nn.init.ones_(self.gain.weight)
            nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.bn(x)
        if not self.num_classes:
            return h
        return h * self.gain(y)[:, :, None, None] + self.bias(y)[:, :, None, None]


def _sn(module: nn.Module, use: bool) -> nn.Module:
    return spectral_norm(module) if use else module


def _check_labels(y: torch.Tensor | None, num_classes: int, who: str) -> None:
    if num_classes and y is None:
        raise GanvqError(f"this {who} is class-conditional: pass labels y")
    if not num_classes and y is not None:
        raise GanvqError(f"this {who} is unconditional: it takes no labels")


def _with_one_hot(z: torch.Tensor, y: torch.Tensor | None, num_classes: int) -> torch.Tensor:
    """z (B, z_dim) with the one-hot label appended (B, z_dim + K); z itself when unconditional."""
    if y is None:
        return z
    return torch.cat([z, F.one_hot(y, num_classes).to(z.dtype)], dim=1)


def _dcgan_init(module: nn.Module) -> None:
    """N(0, 0.02) conv weights and N(1, 0.02) BN gains, as in Radford et al. 2016 and pytorch/examples."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            w = m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight
            nn.init.normal_(w, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d) and m.affine:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def _projected(logits: torch.Tensor, embed: nn.Embedding | None, phi: torch.Tensor | None, y: torch.Tensor | None,
               classes: bool):
    """A projection discriminator's output: logits + <embed(y), phi> (Miyato & Koyama 2018), or without labels the
    logits. With `classes`, (that, scores (B, K)) where scores[:, k] = <embed(k), phi>: the projection read as a
    K-way classifier with no weights of its own (the dual projection GAN's label matching, Han et al. 2021), for
    GANOptions.class_loss. embed is called on (B, K) indices, so opacus records its per-sample gradients."""
    if embed is None:
        if classes:
            raise GanvqError("class scores need a class-conditional discriminator and labels")
        return logits
    if not classes:
        return logits + (embed(y) * phi).sum(1)
    every = torch.arange(embed.num_embeddings, device=phi.device).expand(len(phi), -1)  # (B, K)
    scores = (embed(every) * phi[:, None]).sum(2)  # (B, K)
    return logits + scores.gather(1, y[:, None])[:, 0], scores


# --- DCGAN ---------------------------------------------------------------------------------------


class DCGANGenerator(nn.Module):
    """z -> ConvT(s0 x s0) -> [ConvT 4x4 stride 2, BN, ReLU] * (k - 1) -> ConvT 4x4 stride 2 -> tanh."""

    def __init__(self, cfg: GANConfig):
        super().__init__()
        self.config = cfg
        s0, k = base_and_stages(cfg.image_size)
        chans = [cfg.g_width * 2 ** (k - 1 - i) for i in range(k)]  # widest at s0, like pytorch/examples
        # A conditional G also reads the one-hot label with z (Mirza & Osindero 2014): conditional BN
        # alone starts from class-blind gains and takes thousands of steps to separate the classes.
        self.first = nn.ConvTranspose2d(cfg.z_dim + cfg.num_classes, chans[0], s0, 1, 0, bias=False)
        self.norms = nn.ModuleList([ConditionalBatchNorm2d(c, cfg.num_classes) for c in chans])
        self.ups = nn.ModuleList(
            [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False) for a, b in zip(chans, chans[1:])]
        )
        self.last = nn.ConvTranspose2d(chans[-1], cfg.channels, 4, 2, 1, bias=False)
        if cfg.dcgan_init:
            _dcgan_init(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        _check_labels(y, self.config.num_classes, "generator")
        z = _with_one_hot(z, y, self.config.num_classes)  # (B, z_dim + K)
        h = self.first(z[:, :, None, None])  # (B, C0, s0, s0)
        h = F.relu(self.norms[0](h, y))
        for up, norm in zip(self.ups, self.norms[1:]):
            h = F.relu(norm(up(h), y))  # (B, C_i, 2 H, 2 W)
        return torch.tanh(self.last(h))  # (B, C, H, W)


class DCGANDiscriminator(nn.Module):
    """x -> Conv 4x4 stride 2, LeakyReLU -> [Conv 4x4 stride 2, norm, LeakyReLU] * (k - 1) -> Conv s0 x s0 -> logit."""

    def __init__(self, cfg: GANConfig):
        super().__init__()
        self.config = cfg
        s0, k = base_and_stages(cfg.image_size)
        chans = [cfg.d_width * 2**i for i in range(k)]
        sn = cfg.d_norm == "sn"
        bias = cfg.d_norm != "bn"  # pytorch/examples has no biases: BN's shift makes them redundant
        self.convs = nn.ModuleList([_sn(nn.Conv2d(cfg.channels, chans[0], 4, 2, 1, bias=bias), sn)])
        self.norms = nn.ModuleList([nn.Identity()])  # no norm on the first layer (Radford et al. 2016)
        for a, b in zip(chans, chans[1:]):
            self.convs.append(_sn(nn.Conv2d(a, b, 4, 2, 1, bias=bias), sn))
            self.norms.append(nn.BatchNorm2d(b) if cfg.d_norm == "bn" else nn.Identity())
        self.last = _sn(nn.Conv2d(chans[-1], 1, s0, 1, 0, bias=bias), sn)  # a linear layer on the s0 x s0 map
        if cfg.num_classes:
            # Projection D: the class embedding meets the flattened features the last layer reads, or their sum
            self.pooled = cfg.d_projection == "pooled"
            self.embed = _sn(nn.Embedding(cfg.num_classes, chans[-1] * (1 if self.pooled else s0 * s0)), sn)
            nn.init.normal_(self.embed.parametrizations.weight.original if sn else self.embed.weight, 0.0, 0.02)
        if cfg.dcgan_init:
            _dcgan_init(self)

    @property
    def uses_batch_stats(self) -> bool:
        """True when real and fake must be scored in separate batches (BN would mix their statistics)."""
        return self.config.d_norm == "bn"

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, classes: bool = False):
        """Logits (B,); with `classes`, also the projection's scores of every class (B, K) (see _projected)."""
        _check_labels(y, self.config.num_classes, "discriminator")
        h = x
        for conv, norm in zip(self.convs, self.norms):
            h = F.leaky_relu(norm(conv(h)), 0.2)  # (B, C_i, H / 2**(i+1), W / 2**(i+1))
        logits = self.last(h).flatten()  # (B,)
        if y is None:
            return _projected(logits, None, None, None, classes)
        phi = h.sum((2, 3)) if self.pooled else h.flatten(1)
        return _projected(logits, self.embed, phi, y, classes)


class PatchDiscriminator(DCGANDiscriminator):
    """DCGAN's strided convolutions ending in a 3x3 conv: one logit per patch (B, h, w), as pix2pix's PatchGAN
    (Isola et al. 2017) and VQGAN's discriminator (Esser et al. 2021); unconditional."""

    def __init__(self, cfg: GANConfig):
        if cfg.num_classes:
            raise GanvqError("the patch discriminator is unconditional: num_classes must be 0")
        super().__init__(cfg)
        _, k = base_and_stages(cfg.image_size)
        self.last = _sn(nn.Conv2d(cfg.d_width * 2 ** (k - 1), 1, 3, 1, 1), cfg.d_norm == "sn")
        if cfg.dcgan_init:
            _dcgan_init(self.last)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The activations after each strided block, (B, C_i, H / 2**(i+1), W / 2**(i+1)): for feature matching."""
        feats, h = [], x
        for conv, norm in zip(self.convs, self.norms):
            h = F.leaky_relu(norm(conv(h)), 0.2)
            feats.append(h)
        return feats

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        _check_labels(y, 0, "discriminator")
        return self.last(self.features(x)[-1])[:, 0]  # (B, h, w) patch logits


# --- SN-ResNet -----------------------------------------------------------------------------------


class GBlock(nn.Module):
    """Pre-activation residual block that doubles resolution: (C)BN, ReLU, up, conv3, (C)BN, ReLU, conv3."""

    def __init__(self, c_in: int, c_out: int, num_classes: int):
        super().__init__()
        self.bn1 = ConditionalBatchNorm2d(c_in, num_classes)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.bn2 = ConditionalBatchNorm2d(c_out, num_classes)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x, y)), scale_factor=2.0, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h), y)))
        return h + self.skip(F.interpolate(x, scale_factor=2.0, mode="nearest"))  # (B, c_out, 2 H, 2 W)


class DBlock(nn.Module):
    """Residual discriminator block, optionally halving resolution; `first` skips the leading ReLU."""

    def __init__(self, c_in: int, c_out: int, down: bool, first: bool, sn: bool):
        super().__init__()
        self.down, self.first = down, first
        self.conv1 = _sn(nn.Conv2d(c_in, c_out, 3, padding=1), sn)
        self.conv2 = _sn(nn.Conv2d(c_out, c_out, 3, padding=1), sn)
        self.skip = _sn(nn.Conv2d(c_in, c_out, 1), sn) if (c_in != c_out or down) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.first else F.relu(x)
        h = self.conv2(F.relu(self.conv1(h)))
        if self.down:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.skip is not None:
            # The first block pools before its 1x1 conv (Miyato et al.'s "optimized block"): cheaper, same map.
            s = self.skip(F.avg_pool2d(s, 2)) if (self.first and self.down) else self.skip(s)
            if self.down and not self.first:
                s = F.avg_pool2d(s, 2)
        return h + s


class ResNetGenerator(nn.Module):
    """z -> linear to (width, s0, s0) -> k up-sampling GBlocks -> BN, ReLU, conv3 -> tanh (Miyato et al. 2018)."""

    def __init__(self, cfg: GANConfig):
        super().__init__()
        self.config = cfg
        s0, k = base_and_stages(cfg.image_size)
        w = cfg.g_width
        self.s0 = s0
        self.linear = nn.Linear(cfg.z_dim + cfg.num_classes, w * s0 * s0)
        self.blocks = nn.ModuleList([GBlock(w, w, cfg.num_classes) for _ in range(k)])
        self.bn = nn.BatchNorm2d(w)
        self.out = nn.Conv2d(w, cfg.channels, 3, padding=1)
        if cfg.dcgan_init:
            _dcgan_init(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        _check_labels(y, self.config.num_classes, "generator")
        h = self.linear(_with_one_hot(z, y, self.config.num_classes)).view(len(z), -1, self.s0, self.s0)  # (B, W, s0, s0)
        for block in self.blocks:
            h = block(h, y)
        return torch.tanh(self.out(F.relu(self.bn(h))))  # (B, C, H, W)


class ResNetDiscriminator(nn.Module):
    """x -> k down-sampling DBlocks -> one more DBlock -> ReLU, sum-pool -> linear + projection."""

    def __init__(self, cfg: GANConfig):
        super().__init__()
        self.config = cfg
        _, k = base_and_stages(cfg.image_size)
        w, sn = cfg.d_width, cfg.d_norm == "sn"
        blocks = [DBlock(cfg.channels, w, down=True, first=True, sn=sn)]
        blocks += [DBlock(w, w, down=True, first=False, sn=sn) for _ in range(k - 1)]
        blocks += [DBlock(w, w, down=False, first=False, sn=sn)]
        self.blocks = nn.Sequential(*blocks)
        self.linear = _sn(nn.Linear(w, 1), sn)
        if cfg.num_classes:
            self.embed = _sn(nn.Embedding(cfg.num_classes, w), sn)
        if cfg.dcgan_init:
            _dcgan_init(self)

    uses_batch_stats = False

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, classes: bool = False):
        """Logits (B,); with `classes`, also the projection's scores of every class (B, K) (see _projected)."""
        _check_labels(y, self.config.num_classes, "discriminator")
        phi = F.relu(self.blocks(x)).sum((2, 3))  # (B, W): sum-pooled features
        logits = self.linear(phi).flatten()  # (B,)
        return _projected(logits, self.embed if y is not None else None, phi, y, classes)


def build_generator(cfg: GANConfig) -> nn.Module:
    """The generator of `cfg.arch`."""
    return DCGANGenerator(cfg) if cfg.arch == "dcgan" else ResNetGenerator(cfg)


def build_discriminator(cfg: GANConfig) -> nn.Module:
    """The discriminator of `cfg.arch`."""
    return DCGANDiscriminator(cfg) if cfg.arch == "dcgan" else ResNetDiscriminator(cfg)
