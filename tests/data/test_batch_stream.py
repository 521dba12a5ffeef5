"""BatchStream and iterate_once: determinism, epoch coverage, resume, value range."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ganvq.data import BatchStream, iterate_once
from ganvq.errors import GanvqError


def numbered(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n distinct 1×2×2 images whose label is their own index, to track samples through batches."""
    images = torch.arange(n * 4).remainder(256).to(torch.uint8).view(n, 1, 2, 2)
    return images, torch.arange(n)


def take(stream: BatchStream, k: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [stream.next_batch() for _ in range(k)]


def test_same_seed_gives_same_batches_and_other_seeds_differ():
    images, labels = numbered(50)
    a, b, c = (BatchStream(images, labels, 8, seed) for seed in (3, 3, 4))
    ya, yb, yc = ([y for _, y in take(s, 10)] for s in (a, b, c))
    assert all(torch.equal(p, q) for p, q in zip(ya, yb))
    assert not all(torch.equal(p, q) for p, q in zip(ya, yc))


def test_epoch_order_follows_the_documented_seed_formula():
    images, labels = numbered(20)
    stream = BatchStream(images, labels, 5, seed=7)
    order = torch.cat([y for _, y in take(stream, 8)])  # two epochs of 4 batches
    for epoch in (0, 1):
        g = torch.Generator().manual_seed(7 * 1_000_003 + epoch)
        assert torch.equal(order[20 * epoch : 20 * (epoch + 1)], torch.randperm(20, generator=g))


def test_batches_are_float_in_minus_one_to_one_matching_labels():
    images = torch.tensor([0, 255, 51, 204], dtype=torch.uint8).view(4, 1, 1, 1)
    stream = BatchStream(images, torch.arange(4), 4, seed=0)
    x, y = stream.next_batch()
    assert x.dtype == torch.float32 and x.shape == (4, 1, 1, 1)
    torch.testing.assert_close(x.view(-1), images.view(-1)[y].float() / 127.5 - 1)
    assert x.min() == -1 and x.max() == 1


def test_every_sample_appears_once_per_epoch_with_drop_last():
    images, labels = numbered(23)
    stream = BatchStream(images, labels, 5, seed=1)  # 4 batches per epoch, 3 samples dropped
    assert stream.batches_per_epoch == 4
    for epoch in range(3):
        seen = torch.cat([y for _, y in take(stream, 4)])
        assert len(seen) == 20 and len(seen.unique()) == 20
        assert stream.state_dict() == {"epoch": epoch + 1, "position": 0}


def test_without_drop_last_the_last_batch_is_short_and_covers_all():
    images, labels = numbered(23)
    stream = BatchStream(images, labels, 5, seed=1, drop_last=False)
    batches = take(stream, 5)
    assert [len(y) for _, y in batches] == [5, 5, 5, 5, 3]
    assert sorted(torch.cat([y for _, y in batches]).tolist()) == list(range(23))


def test_resume_from_state_dict_replays_the_same_batches_across_epochs():
    images, labels = numbered(17)
    original = BatchStream(images, labels, 4, seed=9)
    take(original, 3)  # mid-epoch: 4 batches per epoch
    state = original.state_dict()
    expected = take(original, 6)  # crosses into epoch 1 and 2
    restored = BatchStream(images, labels, 4, seed=9)
    restored.load_state_dict(dict(state))
    for (x1, y1), (x2, y2) in zip(expected, take(restored, 6)):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)


def test_batch_larger_than_dataset_uses_whole_dataset():
    images, labels = numbered(3)
    stream = BatchStream(images, labels, 64, seed=0)
    for _, y in take(stream, 3):
        assert sorted(y.tolist()) == [0, 1, 2]


def test_iteration_protocol_and_missing_labels():
    images, _ = numbered(6)
    x, y = next(iter(BatchStream(images, None, 2, seed=0)))
    assert x.shape == (2, 1, 2, 2) and y is None


@pytest.mark.parametrize("state", [{}, {"epoch": 0}, {"epoch": "x", "position": 0}, {"epoch": 0, "position": 99}])
def test_invalid_state_is_rejected(state):
    images, labels = numbered(10)
    with pytest.raises(GanvqError, match="batch stream state"):
        BatchStream(images, labels, 2, seed=0).load_state_dict(state)


def test_invalid_construction_is_rejected():
    images, labels = numbered(4)
    with pytest.raises(GanvqError):
        BatchStream(images[:0], None, 2, seed=0)
    with pytest.raises(GanvqError):
        BatchStream(images, labels, 0, seed=0)
    with pytest.raises(GanvqError):
        BatchStream(images, labels[:3], 2, seed=0)


def test_iterate_once_walks_all_images_in_order():
    images, _ = numbered(7)
    chunks = list(iterate_once(images, 3))
    assert [start for start, _ in chunks] == [0, 3, 6]
    torch.testing.assert_close(torch.cat([x for _, x in chunks]), images.float() / 127.5 - 1)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 40),
    batch_size=st.integers(1, 50),
    drop_last=st.booleans(),
    seed=st.integers(0, 2**40),
    skip=st.integers(0, 12),
)
def test_any_stream_resumes_exactly_and_never_repeats_within_an_epoch(n, batch_size, drop_last, seed, skip):
    images, labels = numbered(n)
    stream = BatchStream(images, labels, batch_size, seed, drop_last)
    take(stream, skip)
    restored = BatchStream(images, labels, batch_size, seed, drop_last)
    restored.load_state_dict(stream.state_dict())
    per_epoch = stream.batches_per_epoch
    expected = [y for _, y in take(stream, per_epoch + 1)]  # at least one epoch boundary
    assert all(torch.equal(a, y) for a, (_, y) in zip(expected, take(restored, per_epoch + 1)))
    fresh = BatchStream(images, labels, batch_size, seed, drop_last)
    seen = torch.cat([y for _, y in take(fresh, per_epoch)])
    assert len(seen.unique()) == len(seen) == (per_epoch * min(batch_size, n) if drop_last else n)
    assert fresh.state_dict() == {"epoch": 1, "position": 0}
