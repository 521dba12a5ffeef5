"""Downstream utility of generated data: train a fixed small classifier on labelled images, test it on real ones.

The DP generative-model literature reports this accuracy (e.g. Bie et al. 2023, Dockhorn et al. 2023: a CNN
trained on synthetic MNIST, tested on the real test set). The recipe is fixed so that numbers compare across
runs: UtilityCNN, RECIPE's epochs, batch, Adam with a one-cycle schedule, seed, fp32, no augmentation. It takes
any training set, so the same function scores real-only, real+synthetic and synthetic-only training sets.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn

from ganvq.data import BatchStream, iterate_once
from ganvq.errors import GanvqError

RECIPE = {"model": "UtilityCNN (3 conv blocks 16-32-64, global average pool, linear)", "epochs": 5,
          "batch_size": 128, "optimizer": "Adam, one-cycle to lr 3e-3", "seed": 0, "precision": "fp32",
          "augmentation": "none"}


class UtilityCNN(nn.Module):
    """Three 3x3 conv blocks (16, 32, 64 channels; BN, ReLU, 2x2 max pool after the first two), global average
    pooling and a linear layer: ~24 k parameters, ~2 M multiply-adds per 28x28 image, any size and channel count."""

    def __init__(self, channels: int, num_classes: int):
        super().__init__()

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]

        self.body = nn.Sequential(*block(channels, 16), nn.MaxPool2d(2), *block(16, 32), nn.MaxPool2d(2),
                                  *block(32, 64), nn.AdaptiveAvgPool2d(1), nn.Flatten())  # (B, 64)
        self.head = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) in [-1, 1] -> logits (B, classes)."""
        return self.head(self.body(x))


def train_classifier(images: torch.Tensor, labels: torch.Tensor, num_classes: int, seed: int = RECIPE["seed"],
                     epochs: int = RECIPE["epochs"]) -> UtilityCNN:
    """UtilityCNN trained by RECIPE on uint8 images (N, C, H, W) and int labels (N,); the caller's RNG is untouched."""
    if len(images) == 0 or len(images) != len(labels):
        raise GanvqError(f"a classifier needs labelled images: got {len(images)} images and {len(labels)} labels")
    if int(labels.min()) < 0 or int(labels.max()) >= num_classes:
        raise GanvqError(f"labels must lie in [0, {num_classes}), got {int(labels.min())}..{int(labels.max())}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = UtilityCNN(images.shape[1], num_classes)
        stream = BatchStream(images, labels.long(), RECIPE["batch_size"], seed)
        steps = epochs * stream.batches_per_epoch
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
        model.train()
        for _ in range(steps):
            x, y = stream.next_batch()
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return model.eval()


@torch.no_grad()
def classifier_accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy of `model` on uint8 images and their labels."""
    model.eval()
    correct = 0
    for start, x in iterate_once(images, 1000):
        correct += int((model(x).argmax(1) == labels[start : start + len(x)]).sum())
    return correct / len(images)


def downstream_accuracy(train_images: torch.Tensor, train_labels: torch.Tensor, test_images: torch.Tensor,
                        test_labels: torch.Tensor, num_classes: int, seed: int = RECIPE["seed"]) -> dict:
    """Accuracy on (test_images, test_labels) of the RECIPE classifier trained on (train_images, train_labels)."""
    t0 = time.perf_counter()
    model = train_classifier(train_images, train_labels, num_classes, seed)
    return {"accuracy": classifier_accuracy(model, test_images, test_labels), "train_images": len(train_images),
            "test_images": len(test_images), "train_seconds": round(time.perf_counter() - t0, 1),
            "recipe": {**RECIPE, "seed": seed}}
