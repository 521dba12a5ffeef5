"""Where and in what precision tensors are computed: --device and --precision, and CPU feature probes."""

from __future__ import annotations

import torch

from ganvq.errors import GanvqError


_DEVICE_TYPES = ("cpu", "cuda", "mps")


def check_device_name(name: str) -> torch.device | None:
    """The torch device a --device value names (None for "auto"), or a GanvqError when it names none we run on."""
    if name == "auto":
        return None
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise GanvqError(f"unknown device {name!r}; use auto, cpu or cuda[:N]") from None
    if device.type not in _DEVICE_TYPES:
        raise GanvqError(f"unsupported device {name!r}; use auto, cpu or cuda[:N]")
    return device


def resolve_device(name: str | torch.device) -> torch.device:
    """--device auto: CUDA when present, else CPU; an explicit device is checked to exist."""
    if isinstance(name, torch.device):
        return name
    device = check_device_name(name)
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise GanvqError("--device cuda was asked for, but no CUDA device is available")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise GanvqError(f"--device {name}: there are only {torch.cuda.device_count()} CUDA device(s)")
    if device.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise GanvqError("--device mps was asked for, but Apple's MPS backend is not available here")
    return device


def cpu_supports(*probes: str) -> bool:
    """Whether any of torch.cpu's feature probes (e.g. "_is_vnni_supported") says yes; a probe this
    torch lacks counts as no."""
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes in bfloat16 natively: a CUDA GPU that supports it, or a CPU with
    AVX-512-BF16 or AMX. Elsewhere bf16 is emulated: measured on an AVX2-only CPU, a bf16-autocast
    convolution ran 40x slower than fp32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return cpu_supports("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return False


def resolve_precision(device: torch.device, precision: str) -> str:
    """"auto" becomes "bf16" where `device` runs it natively, else "fp32"; an explicit choice stays."""
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return precision


def autocast(device: torch.device, precision: str):
    """bf16 autocast when `precision` resolves to bf16 (about 1.8x faster with AMX), fp16 autocast for "fp16" (CUDA
    only, with a gradient scaler: see grad_scaler), else a no-op."""
    resolved = resolve_precision(device, precision)
    dtype = torch.float16 if resolved == "fp16" else torch.bfloat16
    return torch.autocast(device.type, dtype=dtype, enabled=resolved in ("bf16", "fp16"))


def grad_scaler(device: torch.device, precision: str) -> torch.amp.GradScaler:
    """The gradient scaler fp16 training needs (Micikevicius et al. 2018, loss scaling); disabled, and so a plain
    `optimizer.step()`, for every other precision. fp16 runs on CUDA only: a CPU computes bf16 instead."""
    if precision == "fp16" and device.type != "cuda":
        raise GanvqError(f"--precision fp16 needs a CUDA device, not {device.type}; use bf16 or fp32 there")
    return torch.amp.GradScaler(device.type, enabled=precision == "fp16")


# --- several processes (torchrun): the collectives the layers below the training loop need ---------------
# Each is a no-op in a single process, so code that calls them runs unchanged (and as fast) without torchrun.


def world_size() -> int:
    """Processes training together (torch.distributed's world size); 1 without a process group."""
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This process's rank among world_size() processes; 0 without a process group."""
    import torch.distributed as dist

    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def all_reduce_sum_(t: torch.Tensor) -> torch.Tensor:
    """Sum `t` over every process, in place (and return it)."""
    if world_size() > 1:
        import torch.distributed as dist

        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def broadcast_(t: torch.Tensor, src: int = 0) -> torch.Tensor:
    """Overwrite `t` on every process with rank `src`'s values, in place (and return it)."""
    if world_size() > 1:
        import torch.distributed as dist

        dist.broadcast(t, src)
    return t


def all_gather_cat(t: torch.Tensor) -> torch.Tensor:
    """Every process's `t` (same shape everywhere) concatenated along dim 0 in rank order: the global batch
    when each rank holds its consecutive slice of it."""
    n = world_size()
    if n == 1:
        return t
    import torch.distributed as dist

    parts = [torch.empty_like(t) for _ in range(n)]
    dist.all_gather(parts, t.contiguous())
    return torch.cat(parts)
