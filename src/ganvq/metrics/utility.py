"""Downstream utility of generated data: train a fixed small classifier on labelled images, test it on real ones.

The DP generative-model literature reports this accuracy (e.g. Bie et al. 2023, Dockhorn et al. 2023: a CNN
trained on synthetic MNIST, tested on the real test set). The recipe is fixed so that numbers compare across
runs: UtilityCNN, RECIPE's epochs, batch, Adam with a one-cycle schedule, seed, fp32, no augmentation. It takes
any training set, so the same function scores real-only, real+synthetic and synthetic-only training sets.

For a few real images (a GAN trained on a --subset), `few_shot_utility` asks what the synthetic library adds to
them: the Classification Accuracy Score of Ravuri & Vinyals 2019 (synthetic only) beside the real images alone
and the real images plus the library, all three by FEW_SHOT_RECIPE: a fixed number of steps (so the three get
the same training however many images they hold) and classic augmentation (random shifts, horizontal flips).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ganvq.data import BatchStream, iterate_once
from ganvq.data.augment import rand_translation
from ganvq.errors import GanvqError

RECIPE = {"model": "UtilityCNN (3 conv blocks 16-32-64, global average pool, linear)", "epochs": 5,
          "batch_size": 128, "optimizer": "Adam, one-cycle to lr 3e-3", "seed": 0, "precision": "fp32",
          "augmentation": "none"}


# The few-shot protocol: the same network and optimiser, a fixed step count, classic augmentation of every batch,
# and in (b) the real images repeated to match the synthetic count (so about half of each batch is real).
FEW_SHOT_STEPS = 300  # enough for a 10-class 28 px task; chosen for its cost on a 2-core CPU
SHIFT_PIXELS = 2  # largest random shift each way, at 28 px (scaled to the image size)
FEW_SHOT_RECIPE = {**RECIPE, "epochs": None, "steps": FEW_SHOT_STEPS,
                   "augmentation": f"classic, on every training image: a random shift of up to {SHIFT_PIXELS}/28 of "
                                   "the size each way (edge pixels fill), then a horizontal flip with probability 0.5",
                   "real_plus_synthetic": "the real images repeated to the synthetic library's count, then joined "
                                          "to it (about half of each batch real)"}


def classic_augment(x: torch.Tensor) -> torch.Tensor:
    """Random shift (up to SHIFT_PIXELS/28 of the size, edge fill) and horizontal flip (p 0.5) of each image of
    x (B, C, H, W); draws from torch's global generator, so a seeded caller repeats exactly."""
    x = rand_translation(x, ratio=SHIFT_PIXELS / 28, fill="edge")
    flip = torch.rand(x.shape[0], 1, 1, 1) < 0.5  # (B, 1, 1, 1)
    return torch.where(flip, x.flip(3), x)


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
                     epochs: int = RECIPE["epochs"], steps: int | None = None, augment: bool = False,
                     step_done: Callable[[int], None] | None = None) -> UtilityCNN:
    """UtilityCNN trained by RECIPE on uint8 images (N, C, H, W) and int labels (N,); the caller's RNG is untouched.
    `steps` replaces the epochs by a fixed step count, `augment` applies classic_augment to every batch;
    `step_done(1)` is called after each step (a progress display)."""
    if len(images) == 0 or len(images) != len(labels):
        raise GanvqError(f"a classifier needs labelled images: got {len(images)} images and {len(labels)} labels")
    if int(labels.min()) < 0 or int(labels.max()) >= num_classes:
        raise GanvqError(f"labels must lie in [0, {num_classes}), got {int(labels.min())}..{int(labels.max())}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = UtilityCNN(images.shape[1], num_classes)
        stream = BatchStream(images, labels.long(), RECIPE["batch_size"], seed)
        steps = steps or epochs * stream.batches_per_epoch
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
        model.train()
        for _ in range(steps):
            x, y = stream.next_batch()
            if augment:
                x = classic_augment(x)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if step_done is not None:
                step_done(1)
    return model.eval()


@torch.no_grad()
def predictions(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """`model`'s top-1 class (N,) of each uint8 image."""
    model.eval()
    return torch.cat([model(x).argmax(1) for _, x in iterate_once(images, 1000)])


def classifier_accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy of `model` on uint8 images and their labels."""
    return int((predictions(model, images) == labels).sum()) / len(images)


def per_class_accuracy(predicted: torch.Tensor, labels: torch.Tensor, num_classes: int) -> list[float | None]:
    """Accuracy on each class's images (None for a class with none)."""
    return [float((predicted[labels == k] == k).float().mean()) if bool((labels == k).any()) else None
            for k in range(num_classes)]


def downstream_accuracy(train_images: torch.Tensor, train_labels: torch.Tensor, test_images: torch.Tensor,
                        test_labels: torch.Tensor, num_classes: int, seed: int = RECIPE["seed"],
                        step_done: Callable[[int], None] | None = None) -> dict:
    """Accuracy on (test_images, test_labels) of the RECIPE classifier trained on (train_images, train_labels)."""
    t0 = time.perf_counter()
    model = train_classifier(train_images, train_labels, num_classes, seed, step_done=step_done)
    return {"accuracy": classifier_accuracy(model, test_images, test_labels), "train_images": len(train_images),
            "test_images": len(test_images), "train_seconds": round(time.perf_counter() - t0, 1),
            "recipe": {**RECIPE, "seed": seed}}


def few_shot_accuracy(train: tuple[torch.Tensor, torch.Tensor], test: tuple[torch.Tensor, torch.Tensor],
                      num_classes: int, seed: int = RECIPE["seed"], steps: int = FEW_SHOT_STEPS,
                      step_done: Callable[[int], None] | None = None) -> dict:
    """Test accuracy (overall and per class) of FEW_SHOT_RECIPE's classifier trained on one labelled set."""
    (x, y), (xt, yt) = train, test
    t0 = time.perf_counter()
    model = train_classifier(x, y, num_classes, seed, steps=steps, augment=True, step_done=step_done)
    predicted = predictions(model, xt)
    return {"accuracy": int((predicted == yt).sum()) / len(yt), "train_images": len(x),
            "per_class_accuracy": per_class_accuracy(predicted, yt, num_classes),
            "train_seconds": round(time.perf_counter() - t0, 1)}


def real_plus_synthetic(real: tuple[torch.Tensor, torch.Tensor], synthetic: tuple[torch.Tensor, torch.Tensor]
                        ) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(images, labels, repeats) of set (b): the real images repeated to about the synthetic library's count (so
    about half of each batch is real), then the library after them."""
    (xr, yr), (xs, ys) = real, synthetic
    repeat = max(1, round(len(xs) / len(xr)))
    return torch.cat([xr.repeat(repeat, 1, 1, 1), xs]), torch.cat([yr.repeat(repeat), ys]), repeat


def few_shot_utility(real: tuple[torch.Tensor, torch.Tensor], synthetic: tuple[torch.Tensor, torch.Tensor],
                     test: tuple[torch.Tensor, torch.Tensor], num_classes: int, seed: int = RECIPE["seed"],
                     steps: int = FEW_SHOT_STEPS, real_result: dict | None = None,
                     step_done: Callable[[int], None] | None = None) -> dict:
    """Test accuracy of FEW_SHOT_RECIPE's classifier trained on (a) the few real images, (b) those plus the synthetic
    library, (c) the library alone (Ravuri & Vinyals 2019's CAS); each pair is (uint8 images, labels).
    `real_result`: (a) as an earlier call returned it for the same real and test images, seed and steps (it does
    not depend on the library), so that several libraries share one real-only classifier."""
    (xr, yr), (xs, ys), (xt, yt) = real, synthetic, test
    if len(xr) == 0 or len(xs) == 0:
        raise GanvqError(f"--utility needs real and synthetic images: got {len(xr)} real, {len(xs)} synthetic")
    x_both, y_both, repeat = real_plus_synthetic(real, synthetic)
    sets = {"real": (xr, yr), "real_plus_synthetic": (x_both, y_both), "synthetic": (xs, ys)}
    result = {} if real_result is None else {"real": real_result}
    for name, (x, y) in sets.items():
        if name not in result:
            result[name] = few_shot_accuracy((x, y), test, num_classes, seed, steps, step_done)
    result["real_plus_synthetic"]["real_repeats"] = repeat
    gain = result["real_plus_synthetic"]["accuracy"] - result["real"]["accuracy"]
    return {**result, "gain_points": round(100 * gain, 2), "real_images": len(xr), "synthetic_images": len(xs),
            "test_images": len(xt), "recipe": {**FEW_SHOT_RECIPE, "seed": seed, "steps": steps}}
