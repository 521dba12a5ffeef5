"""Batch norm over the global batch when several processes train together (torchrun).

`GlobalBatchNorm2d` is nn.BatchNorm2d (same parameters, buffers and state dict) whose training-mode statistics
are summed over every process with a differentiable all-reduce, so N processes holding slices of a batch
normalise exactly as one process holding all of it (what nn.SyncBatchNorm does, which runs on GPUs only; this
one runs on CPU with gloo as well as on CUDA with NCCL). In eval mode, or in a single process, it is plain BN.
"""

from __future__ import annotations

import torch
from torch import nn

from ganvq.device import world_size


class _SumOverProcesses(torch.autograd.Function):
    """y = sum of x over the processes; the gradient of each x is the sum of y's gradients over them."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        import torch.distributed as dist

        y = x.clone()
        dist.all_reduce(y)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        # itself differentiable, so a double backward (R1, WGAN-GP through batch norm) is summed alike
        return _SumOverProcesses.apply(grad)


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """nn.BatchNorm2d with statistics over the global batch (Ioffe & Szegedy 2015, summed over processes)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or world_size() == 1:
            return super().forward(x)
        c = x.shape[1]
        xf = x.float()
        count = torch.full((1,), xf.numel() / c, device=x.device, dtype=torch.float32)
        # one collective: per-channel sum and sum of squares, and the count: (2C + 1,)
        stats = _SumOverProcesses.apply(torch.cat([xf.sum((0, 2, 3)), (xf * xf).sum((0, 2, 3)), count]))
        n = stats[-1]
        mean = stats[:c] / n
        var = (stats[c : 2 * c] / n - mean * mean).clamp_min(0)  # biased, as BN normalises with
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                self.running_mean.lerp_(mean.detach(), momentum)
                self.running_var.lerp_((var * n / (n - 1).clamp_min(1)).detach(), momentum)
        shape = (1, c, 1, 1)
        y = (xf - mean.reshape(shape)) * torch.rsqrt(var.reshape(shape) + self.eps)
        if self.affine:
            y = y * self.weight.reshape(shape) + self.bias.reshape(shape)
        return y.to(x.dtype)


def globalize_batch_norm(module: nn.Module) -> nn.Module:
    """`module` with every nn.BatchNorm2d turned into a GlobalBatchNorm2d in place (weights kept); returned."""
    for m in module.modules():
        if type(m) is nn.BatchNorm2d:
            m.__class__ = GlobalBatchNorm2d  # the same attributes: parameters, buffers and state dict stay
    return module


__all__ = ["GlobalBatchNorm2d", "globalize_batch_norm"]
