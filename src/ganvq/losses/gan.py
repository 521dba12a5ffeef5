"""GAN objectives as pure functions of discriminator logits, plus the gradient penalties.

Notation: `logits_real` = D(x), `logits_fake` = D(G(z)), raw scores before any sigmoid; for the
probabilistic losses D's probability is sigmoid(logit). Every function returns a scalar that its
player *minimises*. log(sigmoid(t)) = -softplus(-t) and log(1 - sigmoid(t)) = -softplus(t) keep
the logs finite for any logit.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ganvq.errors import GanvqError

LOSSES = ("minimax", "non-saturating", "hinge", "wgan-gp")


def d_loss_bce(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    """-E[log D(x)] - E[log(1 - D(G(z)))]: D's side of the minimax game (Goodfellow et al. 2014, eq. 1)."""
    return F.softplus(-logits_real).mean() + F.softplus(logits_fake).mean()


def g_loss_minimax(logits_fake: torch.Tensor) -> torch.Tensor:
    """E[log(1 - D(G(z)))]: the article's saturating generator loss (Goodfellow et al. 2014, eq. 1).

    Its gradient vanishes when D confidently rejects the fakes, which is why it stalls early on.
    """
    return -F.softplus(logits_fake).mean()


def g_loss_nonsaturating(logits_fake: torch.Tensor) -> torch.Tensor:
    """-E[log D(G(z))]: the non-saturating generator loss (Goodfellow et al. 2014, section 3)."""
    return F.softplus(-logits_fake).mean()


def d_loss_hinge(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    """E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))] (Lim & Ye 2017; Miyato et al. 2018, eq. 16)."""
    return F.relu(1 - logits_real).mean() + F.relu(1 + logits_fake).mean()


def g_loss_hinge(logits_fake: torch.Tensor) -> torch.Tensor:
    """-E[D(G(z))]: the generator side of the hinge loss (Miyato et al. 2018, eq. 17)."""
    return -logits_fake.mean()


def d_loss_wasserstein(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    """E[D(G(z))] - E[D(x)]: the critic loss of WGAN (Arjovsky et al. 2017); add gradient_penalty."""
    return logits_fake.mean() - logits_real.mean()


def g_loss_wasserstein(logits_fake: torch.Tensor) -> torch.Tensor:
    """-E[D(G(z))]: the WGAN generator loss (Arjovsky et al. 2017)."""
    return -logits_fake.mean()


_D_LOSSES: dict[str, Callable] = {
    "minimax": d_loss_bce, "non-saturating": d_loss_bce, "hinge": d_loss_hinge, "wgan-gp": d_loss_wasserstein,
}
_G_LOSSES: dict[str, Callable] = {
    "minimax": g_loss_minimax, "non-saturating": g_loss_nonsaturating, "hinge": g_loss_hinge,
    "wgan-gp": g_loss_wasserstein,
}


def _check(kind: str) -> None:
    if kind not in LOSSES:
        raise GanvqError(f"unknown GAN loss {kind!r}; choose from {', '.join(LOSSES)}")


def discriminator_loss(kind: str, logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss for loss `kind` (penalties are added separately)."""
    _check(kind)
    return _D_LOSSES[kind](logits_real.float(), logits_fake.float())


def generator_loss(kind: str, logits_fake: torch.Tensor) -> torch.Tensor:
    """The generator's loss for loss `kind`."""
    _check(kind)
    return _G_LOSSES[kind](logits_fake.float())


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    eps: torch.Tensor | None = None,
) -> torch.Tensor:
    """E[(||grad_x D(x_hat)||_2 - 1)^2], x_hat = eps x + (1 - eps) x_fake (Gulrajani et al. 2017, eq. 3).

    Unweighted (multiply by lambda = 10). `eps` (B, 1, 1, 1) defaults to U(0, 1) draws; the graph is
    kept so the penalty trains the critic.
    """
    if eps is None:
        eps = torch.rand(len(real), 1, 1, 1, device=real.device, dtype=real.dtype)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).float().sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def lecam_penalty(logits_real: torch.Tensor, logits_fake: torch.Tensor, ema_real: float,
                  ema_fake: float) -> torch.Tensor:
    """LeCam regularisation (Tseng et al. 2021, eq. 3): E[relu(D(x) - a_F)^2] + E[relu(a_R - D(G(z)))^2], where a_R
    and a_F are moving averages of D's mean logit on real and on fake images. It keeps D's scores of real images
    from drifting above what it gave fakes lately (and the fakes' below the reals'), which bounds how far a
    discriminator that memorises a small training set can push them apart."""
    return (F.relu(logits_real.float() - ema_fake).pow(2).mean()
            + F.relu(ema_real - logits_fake.float()).pow(2).mean())


def consistency_penalty(logits: torch.Tensor, again: torch.Tensor) -> torch.Tensor:
    """E[(D(T1(x)) - D(T2(x)))^2]: how far D's logits on the same images under two augmentation draws lie apart.
    Balanced consistency regularisation (bCR, Zhao et al. 2021) adds it for real and for fake images, so D scores an
    image, not the augmentation it came with; here T1 and T2 are two DiffAugment draws, since D's loss already sees
    augmented images."""
    return (logits.float() - again.float()).pow(2).mean()


def r1_penalty(logits_real: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """E[||grad_x D(x)||^2] on real data (Mescheder et al. 2018, eq. 9); the loss adds gamma / 2 times it.

    `real` must have had requires_grad set before D scored it as `logits_real`.
    """
    (grad,) = torch.autograd.grad(logits_real.float().sum(), real, create_graph=True)
    return grad.flatten(1).pow(2).sum(1).mean()
