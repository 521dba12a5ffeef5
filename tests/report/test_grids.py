import os

import numpy as np
import pytest
import torch
from PIL import Image

from ganvq.errors import GanvqError
from ganvq.images import (
    make_grid,
    save_grid,
    save_image,
    side_by_side,
    to_uint8_image,
    upscale_nearest,
)


def _numbered(b: int, h: int = 4, w: int = 3, c: int = 1) -> np.ndarray:
    """uint8 (B, H, W, C) images whose every pixel holds the image's index, to find them in a grid."""
    return np.broadcast_to(np.arange(b, dtype=np.uint8)[:, None, None, None], (b, h, w, c)).copy()


def test_to_uint8_image_inverts_the_data_scaling():
    u = torch.arange(256, dtype=torch.uint8).reshape(1, 1, 16, 16).repeat(2, 3, 1, 1)
    x = u.float() / 127.5 - 1  # the data pipeline's uint8 → [-1, 1]
    out = to_uint8_image(x)
    assert out.shape == (2, 16, 16, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, u.permute(0, 2, 3, 1).numpy())
    np.testing.assert_array_equal(to_uint8_image(torch.tensor([-5.0, 5.0]).view(1, 1, 1, 2))[0, 0, :, 0], [0, 255])


def test_make_grid_places_images_row_major_with_padding():
    grid = make_grid(_numbered(5), nrow=3, padding=2, pad_value=255)
    assert grid.shape == (2 * (4 + 2) + 2, 3 * (3 + 2) + 2, 1)
    for i in range(5):
        top, left = 2 + (i // 3) * 6, 2 + (i % 3) * 5
        assert (grid[top : top + 4, left : left + 3] == i).all()
    assert (grid[:2] == 255).all() and (grid[:, :2] == 255).all()
    assert (grid[8:12, 12:15] == 255).all()  # the missing sixth cell stays background


def test_make_grid_accepts_float_and_uint8_tensors():
    x = torch.rand(3, 3, 5, 5) * 2 - 1
    expected = make_grid(to_uint8_image(x), nrow=2)
    np.testing.assert_array_equal(make_grid(x, nrow=2), expected)
    u = torch.from_numpy(to_uint8_image(x)).permute(0, 3, 1, 2)
    np.testing.assert_array_equal(make_grid(u, nrow=2), expected)
    assert make_grid(x, nrow=8).shape == (5 + 4, 3 * 7 + 2, 3)  # fewer images than nrow: one short row


def test_side_by_side_puts_each_reconstruction_under_its_original():
    originals, recons = _numbered(5), _numbered(5) + 100
    grid = side_by_side(originals, recons, nrow=3, padding=1, pad_value=255)
    assert grid.shape == (4 * 5 + 1, 3 * 4 + 1, 1)  # 2 groups × 2 rows, 3 columns
    for i in range(5):
        group, col = divmod(i, 3)
        top, left = 1 + 2 * group * 5, 1 + col * 4
        assert (grid[top : top + 4, left : left + 3] == i).all()
        assert (grid[top + 5 : top + 9, left : left + 3] == 100 + i).all()
    assert (grid[11:15, 9:12] == 255).all() and (grid[16:20, 9:12] == 255).all()


def test_side_by_side_rejects_mismatched_batches():
    with pytest.raises(ValueError, match="differ in shape"):
        side_by_side(_numbered(4), _numbered(3))


def test_upscale_nearest_repeats_pixels():
    img = np.array([[1, 2], [3, 4]], dtype=np.uint8)[:, :, None]
    expected = [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    np.testing.assert_array_equal(upscale_nearest(img, 2)[:, :, 0], expected)
    with pytest.raises(ValueError):
        upscale_nearest(img, 0)


def test_save_grid_writes_grayscale_png_as_mode_l(tmp_path):
    path = tmp_path / "out" / "grid.png"
    grid = save_grid(path, _numbered(4, 28, 28), nrow=2, upscale=3)
    with Image.open(path) as im:
        assert im.mode == "L" and im.size == (grid.shape[1] * 3, grid.shape[0] * 3)
        np.testing.assert_array_equal(np.asarray(im), upscale_nearest(grid, 3)[:, :, 0])
    assert os.listdir(path.parent) == ["grid.png"]


def test_save_image_writes_rgb_png(tmp_path):
    img = np.random.default_rng(0).integers(0, 256, (6, 7, 3), dtype=np.uint8)
    save_image(tmp_path / "rgb.png", img)
    with Image.open(tmp_path / "rgb.png") as im:
        assert im.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(im), img)


def test_save_grid_to_unwritable_place_raises_ganvq_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(GanvqError, match="cannot write"):
        save_grid(tmp_path / "file" / "grid.png", _numbered(2))
