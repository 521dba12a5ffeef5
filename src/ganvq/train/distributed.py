"""Training on several processes, as launched by torchrun: the process group, DDP wrappers, agreement.

`torchrun --nproc-per-node N -m ganvq train ...` starts N copies of the command with RANK, WORLD_SIZE and
LOCAL_RANK set (and MASTER_ADDR/PORT from its rendezvous, across machines with --nnodes/--rdzv-endpoint).
Each copy joins one process group: NCCL when it trains on CUDA (one GPU per process, cuda:LOCAL_RANK),
gloo on CPU. Every process builds the same model from the same seed and draws the same random numbers;
data, latents and augmentations are drawn for the global batch and each process keeps its slice, so N
processes compute what one process would at the same global batch size. Without those variables nothing
here does anything: one process trains as it always has.
"""

from __future__ import annotations

import contextlib
import datetime
import inspect
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

from ganvq.device import check_device_name, resolve_device
from ganvq.errors import GanvqError

# A collective waits this long for a slow peer (rank 0 scoring or saving) before the run fails.
TIMEOUT = datetime.timedelta(minutes=30)


@dataclass(frozen=True)
class Processes:
    """Where this process stands among those training together."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))  # collectives' tensors (CUDA: NCCL)

    @property
    def main(self) -> bool:
        """Rank 0: the one process that logs, writes samples and checkpoints."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


SINGLE = Processes()
_current = SINGLE
_joined = False  # whether this process joined torchrun's process group (cli.main then leaves with os._exit)


def joined_a_group() -> bool:
    """Whether this process joined torchrun's process group (a session) at some point."""
    return _joined


def current() -> Processes:
    """The processes of the run being trained (SINGLE outside torchrun)."""
    return _current


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise GanvqError(f"environment variable {name}={value!r} is not an integer (is torchrun starting ganvq?)") from None


def launched() -> Processes:
    """This process's place as torchrun's environment gives it (SINGLE without torchrun)."""
    world = _env_int("WORLD_SIZE", 1)
    if world <= 1:
        return SINGLE
    rank, local = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    if not 0 <= rank < world:
        raise GanvqError(f"RANK={rank} is outside WORLD_SIZE={world}")
    return Processes(rank, world, local)


def _device(name: str, local_rank: int) -> torch.device:
    """The device of process `local_rank` on its machine: cuda:LOCAL_RANK when training on CUDA, else CPU."""
    device = check_device_name(name)
    if device is not None and device.type == "cuda" and device.index is not None:
        raise GanvqError(f"--device {name}: under torchrun each process takes cuda:LOCAL_RANK; give --device cuda "
                         "or auto (choose the GPUs with CUDA_VISIBLE_DEVICES)")
    device = resolve_device(name)
    if device.type == "mps":
        raise GanvqError("training on several processes needs CPU (gloo) or CUDA (NCCL), not mps")
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise GanvqError(f"LOCAL_RANK {local_rank} has no GPU: this machine has {torch.cuda.device_count()}; "
                             "start at most that many processes per node (--nproc-per-node)")
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


@contextlib.contextmanager
def session(device_name: str) -> Iterator[Processes]:
    """Join torchrun's process group for one run (gloo on CPU, NCCL on CUDA) and leave it afterwards.

    On CUDA the process's current device becomes cuda:LOCAL_RANK, so "cuda" means its own GPU everywhere.
    Without torchrun (or inside a process group the caller made) it yields the processes as they are.
    """
    global _current, _joined
    import torch.distributed as dist

    procs = launched()
    if not procs.enabled or not dist.is_available() or dist.is_initialized():
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            device = _device(device_name, procs.local_rank)
            procs = Processes(dist.get_rank(), dist.get_world_size(), procs.local_rank,
                              device if dist.get_backend() == "nccl" else torch.device("cpu"))
            _current = procs
            try:
                yield procs
            finally:
                _current = SINGLE
        else:
            yield SINGLE
        return
    device = _device(device_name, procs.local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        # device_id (torch >= 2.3) binds the group to this GPU at once; older versions find it on first use
        bind = {"device_id": device} if "device_id" in inspect.signature(dist.init_process_group).parameters else {}
        dist.init_process_group("nccl", timeout=TIMEOUT, **bind)
    else:
        dist.init_process_group("gloo", timeout=TIMEOUT)
    procs = Processes(procs.rank, procs.world, procs.local_rank, device)
    _current = procs
    _joined = True
    try:
        yield procs
        # Every process leaves together, so none tears gloo down while a peer's last transfer is in flight. It made
        # torch's abort at exit ("terminate called without an active exception", -6) rarer, not gone
        # (tests/distributed: 9 of 25 loops of four runs before, 8 of 53 after). Not reached after an error: a
        # failed peer would never reach it either.
        dist.barrier()
    finally:
        _current = SINGLE
        dist.destroy_process_group()


def wrap(module: nn.Module) -> nn.Module:
    """`module` under DistributedDataParallel when several processes train (gradients averaged over them in
    the backward pass), else `module` itself. Buffers are not broadcast: every process keeps them equal
    (the same updates from the same global statistics; see quantize.vq and models.sync_norm)."""
    procs = current()
    if not procs.enabled:
        return module
    from torch.nn.parallel import DistributedDataParallel

    ids = [procs.device.index] if procs.device.type == "cuda" else None
    # A channels_last convolution over 1-channel images has ambiguous strides, so DDP copies its (small) gradient
    # and says so at every start: expected here, and not worth a line.
    warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
    # rank 0's weights and buffers are copied to all at the start, none during training
    newer = "forward_sync_buffers" in inspect.signature(DistributedDataParallel.__init__).parameters
    sync = {"forward_sync_buffers": False} if newer else {"broadcast_buffers": False}
    return DistributedDataParallel(module, device_ids=ids, **sync)


def agree(values: list[float]) -> list[float]:
    """`values` summed over every process, in one collective (the values themselves in a single process)."""
    procs = current()
    if not procs.enabled:
        return values
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=procs.device)
    dist.all_reduce(t)
    return t.tolist()


def shard(t: torch.Tensor) -> torch.Tensor:
    """This process's consecutive slice of a tensor drawn for the global batch (dim 0)."""
    procs = current()
    if not procs.enabled:
        return t
    share = len(t) // procs.world
    return t[procs.rank * share : (procs.rank + 1) * share]


def unshard(t: torch.Tensor) -> torch.Tensor:
    """This process's slice `t` placed in a zero tensor of the global batch's size (differentiably), so a
    per-image random transform drawn for the global batch gives each image what it gets in one process."""
    procs = current()
    if not procs.enabled:
        return t
    before = t.new_zeros((procs.rank * len(t), *t.shape[1:]))
    after = t.new_zeros(((procs.world - procs.rank - 1) * len(t), *t.shape[1:]))
    return torch.cat([before, t, after])
