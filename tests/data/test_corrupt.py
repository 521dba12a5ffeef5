"""Damage functions: the stated statistics, and one-line errors for bad specs."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from ganvq.data.corrupt import HOLE_FILL, blur, make_mask, parse_corruption, parse_mask
from ganvq.errors import GanvqError


def test_noise_has_the_stated_sigma_in_unit_pixels():
    x = torch.zeros(64, 1, 28, 28)  # mid-grey: no clipping question
    for sigma in (0.1, 0.4):
        y = parse_corruption(f"noise:{sigma}")(x, torch.Generator().manual_seed(0))
        unit = (y - x) / 2  # [-1, 1] -> [0, 1] units
        assert abs(float(unit.std()) - sigma) < 0.01 * sigma + 0.002
        assert abs(float(unit.mean())) < 0.003


def test_noise_is_reproducible_from_the_generator():
    x = torch.zeros(4, 1, 8, 8)
    c = parse_corruption("noise:0.2")
    assert torch.equal(c(x, torch.Generator().manual_seed(3)), c(x, torch.Generator().manual_seed(3)))
    assert not torch.equal(c(x, torch.Generator().manual_seed(3)), c(x, torch.Generator().manual_seed(4)))


def test_jpeg_equals_a_pillow_round_trip_at_that_quality():
    g = torch.Generator().manual_seed(0)
    u8 = torch.randint(0, 256, (3, 1, 28, 28), generator=g, dtype=torch.uint8)
    x = u8.float() / 127.5 - 1
    y = parse_corruption("jpeg:10")(x)
    for img, out in zip(u8, y):
        buf = io.BytesIO()
        Image.fromarray(img[0].numpy()).save(buf, format="JPEG", quality=10)
        ref = np.asarray(Image.open(io.BytesIO(buf.getvalue())))
        assert np.array_equal(((out[0] + 1) * 127.5).round().numpy().astype(np.uint8), ref)
    err = [float((parse_corruption(f"jpeg:{q}")(x) - x).abs().mean()) for q in (10, 50, 95)]
    assert err[0] > err[1] > err[2]  # higher quality, closer to the original


def test_blur_keeps_flat_images_and_the_mean():
    assert torch.allclose(blur(torch.full((1, 1, 16, 16), 0.3), 1.5), torch.full((1, 1, 16, 16), 0.3), atol=1e-6)
    x = torch.zeros(1, 1, 21, 21)
    x[0, 0, 10, 10] = 1
    y = blur(x, 1.0)  # the impulse response is the Gaussian: unit sum, variance sigma^2 per axis
    assert abs(float(y.sum()) - 1) < 1e-5
    r = torch.arange(21.0) - 10
    assert abs(float((y[0, 0].sum(0) * r**2).sum()) - 1.0) < 0.01


def test_masks_have_their_shapes():
    center = make_mask(parse_mask("center"), 2, 28, 28)
    assert int(center[0].sum()) == 14 * 14 and bool(center[0, 0, 7:21, 7:21].all())
    box = make_mask(parse_mask("box:1,2,3,4"), 1, 10, 10)
    assert int(box.sum()) == 12 and bool(box[0, 0, 2:6, 1:4].all())
    rnd = make_mask(parse_mask("random:0.5"), 100, 28, 28, torch.Generator().manual_seed(0))
    assert abs(float(rnd.float().mean()) - 0.5) < 0.01
    x = torch.ones(2, 1, 28, 28)
    y = parse_corruption("mask:center")(x)
    assert torch.equal(y[center], torch.full_like(y[center], HOLE_FILL)) and bool((y[~center] == 1).all())


@pytest.mark.parametrize("spec", ["noise", "noise:-1", "noise:x", "blur:0", "jpeg:0", "jpeg:9.5", "jpeg:200",
                                  "mask:oval", "mask:box:1,2,3", "mask:random:1.5", "sharpen:2"])
def test_bad_corruption_is_one_line_error(spec):
    with pytest.raises(GanvqError) as e:
        parse_corruption(spec)
    assert "\n" not in str(e.value)


def test_a_box_outside_the_image_is_an_error():
    with pytest.raises(GanvqError, match="outside"):
        make_mask(parse_mask("box:20,20,10,10"), 1, 28, 28)
