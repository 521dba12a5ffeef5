"""Deterministic, resumable batches: uint8 images in memory → float batches in [-1, 1]."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch

from ganvq.errors import GanvqError
from ganvq.images import to_float

if TYPE_CHECKING:
    from ganvq.data.datasets import ImageDataset

_EPOCH_SEED_STRIDE = 1_000_003  # prime, so (seed, epoch) pairs do not collide for epochs < stride


class BatchStream:
    """Endless shuffled batches; epoch e visits torch.randperm(n) seeded with seed * 1_000_003 + e.

    With `world` processes (torchrun), `batch_size` stays the global batch: every process walks the same
    permutation and takes its consecutive slice of each global batch (rank r: the r-th of `world` equal parts),
    so the processes together read each epoch once, and the state (epoch, position in the permutation) is the
    same on all of them and independent of their number: a run resumes on any number of processes.
    """

    def __init__(
        self,
        images: torch.Tensor,  # uint8 (N, C, H, W)
        labels: torch.Tensor | None,  # (N,)
        batch_size: int,
        seed: int,
        drop_last: bool = True,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        if len(images) == 0:
            raise GanvqError("cannot draw batches from an empty dataset")
        if batch_size < 1:
            raise GanvqError(f"batch size must be positive, got {batch_size}")
        if labels is not None and len(labels) != len(images):
            raise GanvqError(f"{len(labels)} labels for {len(images)} images")
        self.images, self.labels = images, labels
        self.batch_size = min(batch_size, len(images))  # a tiny dataset still yields full batches
        if self.batch_size % world:
            raise GanvqError(f"batch size {self.batch_size} does not split evenly over {world} processes; give a "
                             f"--batch-size divisible by {world} (it is the global batch, shared by the processes)")
        self.rank, self.world = rank, world
        self.seed, self.drop_last = seed, drop_last
        self.epoch, self.position = 0, 0  # next batch starts at perm(epoch)[position]
        self._perm: tuple[int, torch.Tensor] | None = None  # (epoch, permutation) cache

    @classmethod
    def from_dataset(
        cls, dataset: ImageDataset, batch_size: int, seed: int, drop_last: bool = True
    ) -> BatchStream:
        """A stream over an ImageDataset's images and labels."""
        return cls(dataset.images, dataset.labels, batch_size, seed, drop_last)

    @property
    def batches_per_epoch(self) -> int:
        """Number of batches in one pass over the data."""
        n, b = len(self.images), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The next (x, y): x float32 (B, C, H, W) in [-1, 1], y (B,) or None; B is this process's share."""
        idx = self._permutation()[self.position : self.position + self.batch_size]
        self.position += len(idx)
        self._roll_over()
        if self.world > 1:
            share = len(idx) // self.world  # drop_last=False: a short last batch loses its remainder here
            idx = idx[self.rank * share : (self.rank + 1) * share]
        x = to_float(self.images[idx])
        y = None if self.labels is None else self.labels[idx]
        return x, y

    def _roll_over(self) -> None:
        """Start the next epoch once too few samples remain for another batch."""
        # Eager, so state_dict() after an epoch's last batch already names the next epoch.
        if len(self.images) - self.position < (self.batch_size if self.drop_last else 1):
            self.epoch, self.position = self.epoch + 1, 0

    def _permutation(self) -> torch.Tensor:
        """This epoch's sample order, computed once per epoch."""
        if self._perm is None or self._perm[0] != self.epoch:
            # Modulo 2**64: torch seeds are unsigned 64-bit; equal to the plain formula for usual seeds.
            seed = (self.seed * _EPOCH_SEED_STRIDE + self.epoch) % 2**64
            g = torch.Generator().manual_seed(seed)
            self._perm = (self.epoch, torch.randperm(len(self.images), generator=g))
        return self._perm[1]

    def state_dict(self) -> dict[str, int]:
        """Where the stream stands; `load_state_dict` of it replays the same batches from here."""
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue from a `state_dict()` taken on a stream with the same data, batch size and seed."""
        try:
            epoch, position = int(state["epoch"]), int(state["position"])
        except (KeyError, TypeError, ValueError) as e:
            raise GanvqError(
                f"batch stream state must hold integer 'epoch' and 'position', got {state!r}"
            ) from e
        if epoch < 0 or not 0 <= position <= len(self.images):
            raise GanvqError(
                f"batch stream state {state!r} does not fit a dataset of {len(self.images)} images "
                "(was the checkpoint made with other data?)"
            )
        self.epoch, self.position = epoch, position
        self._roll_over()

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.next_batch()


def iterate_once(images: torch.Tensor, batch_size: int) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield (start, x) over all images in order, x float32 in [-1, 1]; for evaluation."""
    if batch_size < 1:
        raise GanvqError(f"batch size must be positive, got {batch_size}")
    for start in range(0, len(images), batch_size):
        yield start, to_float(images[start : start + batch_size])
