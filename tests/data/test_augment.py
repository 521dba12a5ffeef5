import pytest
import torch

from ganvq.data.augment import (
    diff_augment,
    rand_brightness,
    rand_contrast,
    rand_cutout,
    rand_saturation,
    rand_translation,
)
from ganvq.errors import GanvqError


def _shifted(x: torch.Tensor, dy: int, dx: int, fill: str = "zeros") -> torch.Tensor:
    """x (C, H, W) with out[i, j] = x[i + dy, j + dx]; outside: zeros, -1 (black), or the nearest edge pixel."""
    out = torch.full_like(x, -1.0 if fill == "black" else 0.0)
    h, w = x.shape[1:]
    for i in range(h):
        for j in range(w):
            if 0 <= i + dy < h and 0 <= j + dx < w:
                out[:, i, j] = x[:, i + dy, j + dx]
            elif fill == "edge":
                out[:, i, j] = x[:, min(max(i + dy, 0), h - 1), min(max(j + dx, 0), w - 1)]
    return out


def test_translation_shifts_each_image_by_whole_pixels_within_an_eighth_of_its_size():
    torch.manual_seed(0)
    x = torch.rand(16, 2, 16, 16) + 1  # no zeros, so padding is visible
    out = rand_translation(x)
    seen = set()
    for img, res in zip(x, out):
        matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if torch.equal(res, _shifted(img, dy, dx))]
        assert len(matches) == 1  # a shift of at most int(16 / 8 + 0.5) = 2 pixels each way explains it
        seen.add(matches[0])
    assert len(seen) > 1  # each image draws its own shift


@pytest.mark.parametrize("fill", ["zeros", "black", "edge"])
def test_a_milder_translation_shifts_by_at_most_its_ratio_and_fills_as_asked(fill):
    torch.manual_seed(0)
    x = torch.rand(24, 2, 16, 16) + 1
    out = diff_augment(x, "translation", translation=1 / 16, fill=fill)
    seen = set()
    for img, res in zip(x, out):
        # int(16 / 16 + 0.5) = 1 pixel each way; a wider search shows no larger shift explains it
        matches = [(dy, dx) for dy in range(-3, 4) for dx in range(-3, 4)
                   if torch.equal(res, _shifted(img, dy, dx, fill))]
        assert len(matches) == 1 and max(map(abs, matches[0])) <= 1
        seen.add(matches[0])
    assert len(seen) > 4
    assert (out == 0).any() == (fill == "zeros")  # the images have no zeros or -1s: only the fill brings them
    assert (out == -1).any() == (fill == "black")
    assert torch.equal(diff_augment(x, "translation", translation=0.0, fill=fill), x)


def test_bad_translation_settings_are_one_line_errors():
    x = torch.rand(2, 1, 4, 4)
    with pytest.raises(GanvqError, match="fraction|size"):
        diff_augment(x, "translation", translation=0.7)
    with pytest.raises(GanvqError, match="zeros, black, edge"):
        diff_augment(x, "translation", fill="reflect")
    from ganvq.runs import GANOptions

    with pytest.raises(GanvqError, match="zeros, black, edge"):
        GANOptions(diffaugment_fill="mirror")


def test_cutout_zeroes_one_half_size_square_per_image_and_nothing_else():
    torch.manual_seed(0)
    x = torch.rand(32, 1, 12, 12) + 1
    out = rand_cutout(x)
    for img, res in zip(x, out):
        zero = res[0] == 0
        rows, cols = zero.any(1).nonzero().flatten(), zero.any(0).nonzero().flatten()
        # The square of side 6 is clipped at the border, so its visible part is a rectangle up to 6 x 6.
        assert 1 <= len(rows) <= 6 and 1 <= len(cols) <= 6
        assert zero.sum() == len(rows) * len(cols)
        assert torch.equal(res[0][~zero], img[0][~zero])


def test_colour_transforms_follow_their_definitions():
    torch.manual_seed(0)
    x = torch.rand(8, 1, 4, 4) * 2 - 1
    shift = rand_brightness(x) - x
    assert torch.allclose(shift, shift[:, :, :1, :1].expand_as(shift))  # one offset per image
    assert shift.abs().max() <= 0.5
    torch.testing.assert_close(rand_saturation(x), x)  # grey images have no saturation to change
    out = rand_contrast(x)
    torch.testing.assert_close(out.mean((1, 2, 3)), x.mean((1, 2, 3)))  # contrast keeps each image's mean


def test_diff_augment_is_differentiable_so_g_learns_through_it():
    torch.manual_seed(0)
    x = torch.rand(4, 3, 8, 8, requires_grad=True)
    diff_augment(x, "color,translation,cutout").sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_empty_policy_is_the_identity_and_unknown_parts_are_errors():
    x = torch.rand(2, 1, 4, 4)
    assert diff_augment(x, "") is x
    with pytest.raises(GanvqError, match="translation"):
        diff_augment(x, "rotation")


def test_probability_p_augments_each_image_with_probability_p_and_zero_or_one_are_exact():
    x = torch.rand(2000, 1, 8, 8) + 1  # no zeros, so a cutout is visible
    torch.manual_seed(1)
    always = diff_augment(x, "cutout", p=1.0)
    torch.manual_seed(1)
    assert torch.equal(always, diff_augment(x, "cutout"))  # p = 1 is the plain policy, draw for draw
    assert torch.equal(diff_augment(x, "cutout", p=0.0), x)
    torch.manual_seed(0)
    out = diff_augment(x, "cutout", p=0.3)
    touched = (out != x).flatten(1).any(1).float().mean().item()
    assert 0.26 < touched < 0.34  # 2,000 Bernoulli(0.3) draws: 4 standard deviations either side
    with pytest.raises(GanvqError, match="probability"):
        diff_augment(x, "cutout", p=1.5)
