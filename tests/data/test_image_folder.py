"""read_image_folder: formats, order, crop, channel choice, class subfolders and bad files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ganvq.data import read_image_folder
from ganvq.data.folder import _draft, misfits, read_image_file
from ganvq.errors import GanvqError


def gray(value: int, h: int = 8, w: int = 8) -> np.ndarray:
    return np.full((h, w), value, np.uint8)


def rgb(color: tuple[int, int, int], h: int = 8, w: int = 8) -> np.ndarray:
    return np.broadcast_to(np.array(color, np.uint8), (h, w, 3)).copy()


@pytest.fixture
def folder_with_corrupt_png(tmp_path, save_image):
    for i, name in enumerate(["a.png", "b.jpg", "c.bmp"]):
        save_image(tmp_path / name, gray(50 * (i + 1)))
    (tmp_path / "broken.png").write_bytes(np.random.default_rng(0).bytes(300))
    return tmp_path


def test_corrupt_png_is_skipped_and_listed(folder_with_corrupt_png):
    result = read_image_folder(folder_with_corrupt_png, size=8)
    assert result.images.shape == (3, 1, 8, 8) and result.images.dtype == np.uint8
    assert [f for f, _ in result.skipped] == ["broken.png"]
    assert result.skipped[0][1]  # a reason is given


def test_on_bad_fail_raises_naming_the_bad_file(folder_with_corrupt_png):
    with pytest.raises(GanvqError, match="broken.png"):
        read_image_folder(folder_with_corrupt_png, size=8, on_bad="fail")


def test_truncated_png_counts_as_bad(tmp_path, save_image):
    save_image(tmp_path / "good.png", gray(9))
    data = save_image(tmp_path / "cut.png", np.random.default_rng(0).integers(0, 256, (64, 64), np.uint8)).read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    result = read_image_folder(tmp_path, size=8)
    assert len(result.images) == 1 and [f for f, _ in result.skipped] == ["cut.png"]


def test_empty_folder_raises(tmp_path):
    with pytest.raises(GanvqError, match="no PNG/JPEG/BMP/TIFF/WebP images"):
        read_image_folder(tmp_path, size=8)


def test_folder_of_only_bad_images_raises(tmp_path):
    (tmp_path / "x.png").write_bytes(b"not an image")
    with pytest.raises(GanvqError, match="none of the 1 image files could be read"):
        read_image_folder(tmp_path, size=8)


def test_missing_folder_raises(tmp_path):
    with pytest.raises(GanvqError, match="not a folder"):
        read_image_folder(tmp_path / "nope", size=8)


def test_non_image_and_hidden_files_are_ignored_silently(tmp_path, save_image):
    save_image(tmp_path / "a.png", gray(1))
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "._a.png").write_bytes(b"macOS resource fork")
    result = read_image_folder(tmp_path, size=8)
    assert len(result.images) == 1 and result.skipped == []


def test_extensions_are_case_insensitive_and_search_is_recursive_and_sorted(tmp_path, save_image):
    save_image(tmp_path / "b.PNG", gray(2))
    save_image(tmp_path / "a.JpEg", gray(1))
    save_image(tmp_path / "a" / "z.bmp", gray(3))  # "a/z.bmp" sorts after "a.JpEg"
    save_image(tmp_path / "c.jpg", gray(4))
    result = read_image_folder(tmp_path, size=8)
    assert result.labels is None  # images at the top level: not class folders
    np.testing.assert_allclose(result.images[:, 0, 4, 4], [1, 3, 2, 4], atol=1)  # JPEG is lossy


def test_all_grayscale_gives_one_channel(tmp_path, save_image):
    save_image(tmp_path / "a.png", gray(10))
    save_image(tmp_path / "b.bmp", gray(20))
    assert read_image_folder(tmp_path, size=8).images.shape == (2, 1, 8, 8)


def test_any_colour_image_gives_three_channels(tmp_path, save_image):
    save_image(tmp_path / "a.png", gray(10))
    save_image(tmp_path / "b.png", rgb((200, 100, 0)))
    images = read_image_folder(tmp_path, size=8).images
    assert images.shape == (2, 3, 8, 8)
    assert (images[0] == 10).all()  # grayscale repeated over R, G, B
    assert images[1, :, 0, 0].tolist() == [200, 100, 0]


@pytest.mark.parametrize("channels, expected", [(1, (1, 8, 8)), (3, (3, 8, 8))])
def test_explicit_channels_override_the_guess(tmp_path, save_image, channels, expected):
    save_image(tmp_path / "a.png", gray(10))
    save_image(tmp_path / "b.png", rgb((200, 100, 0)))
    assert read_image_folder(tmp_path, size=8, channels=channels).images.shape[1:] == expected


def test_non_square_image_is_center_cropped(tmp_path, save_image):
    wide = np.zeros((30, 90), np.uint8)
    wide[:, 30:60] = 255  # only the central square is white
    save_image(tmp_path / "wide.png", wide)
    np.testing.assert_array_equal(read_image_folder(tmp_path, size=30).images[0, 0], 255)
    small = read_image_folder(tmp_path, size=10).images
    assert small.shape == (1, 1, 10, 10)
    assert small[0, 0, :, 3:7].min() == 255 and small.min() > 200  # edges only touched by the filter


def test_small_and_large_jpegs_are_resized(tmp_path, save_image):
    save_image(tmp_path / "big.jpg", rgb((0, 0, 255), h=300, w=400))
    save_image(tmp_path / "tiny.jpg", rgb((0, 0, 255), h=5, w=3))
    images = read_image_folder(tmp_path, size=16).images
    assert images.shape == (2, 3, 16, 16)
    assert (images[:, 2] > 240).all() and (images[:, 0] < 15).all()


def test_a_jpeg_whose_sides_do_not_divide_is_cropped_at_the_photos_own_centre(tmp_path):
    """A JPEG is decoded at a reduced scale only where the scale divides both sides: 1001 px at 1/8 would decode to
    126 px (the last one partial), and the central square would lie 3.5 pixels of the photo off centre."""
    edge = np.zeros((600, 1001), np.uint8)
    edge[:, 500:] = 255
    Image.fromarray(edge).save(tmp_path / "edge.png")
    Image.fromarray(edge).save(tmp_path / "edge.jpg", quality=95)
    png, jpg = (read_image_file(tmp_path / f"edge.{ext}", 28)[0, 0, 0].astype(int) for ext in ("png", "jpg"))
    assert np.abs(png - jpg).max() <= 3  # JPEG's own error only (it was 34 at the edge, off centre)
    even = np.zeros((600, 1000), np.uint8)  # 1000 and 600 divide by 8: still decoded at 1/8
    Image.fromarray(even).save(tmp_path / "even.jpg")
    with Image.open(tmp_path / "even.jpg") as img:
        _draft(img, 28)
        assert img.size == (125, 75)


@pytest.mark.parametrize("ext", ["jpg", "png"])
def test_an_exif_turned_photo_is_read_and_described_upright(tmp_path, ext):
    """A camera's portrait photo is stored wide with EXIF orientation 6 (turn a quarter): the reader turns it
    upright, and the size warning (misfits) gives its upright size, not the stored one."""
    stored = np.zeros((40, 60), np.uint8)  # 60 wide, 40 high as stored
    stored[:, :30] = 255  # the stored left half white: upright (turned 90 degrees clockwise), the top half
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(tmp_path / f"portrait.{ext}", exif=exif)
    image = read_image_file(tmp_path / f"portrait.{ext}", 20)[0, 0].astype(int)
    assert image[:8].min() > 200 and image[12:].max() < 50
    assert misfits([tmp_path / f"portrait.{ext}"], (1, 20, 20)) == [(tmp_path / f"portrait.{ext}", "40x60")]


def test_16bit_grayscale_is_scaled_not_clipped(tmp_path, save_image):
    save_image(tmp_path / "a.png", np.full((4, 4), 32896, np.uint16))  # 128 * 257
    images = read_image_folder(tmp_path, size=4).images
    assert images.shape == (1, 1, 4, 4) and (images == 128).all()


def test_tiff_and_webp_are_read_like_png(tmp_path, save_image):
    save_image(tmp_path / "a.tif", np.full((4, 4), 32896, np.uint16))  # 16-bit gray TIFF, as microscopes write
    save_image(tmp_path / "b.TIFF", rgb((10, 20, 30), 4, 4))
    Image.fromarray(rgb((200, 100, 50), 4, 4)).save(tmp_path / "c.webp", lossless=True)
    result = read_image_folder(tmp_path, size=4)
    assert result.images.shape == (3, 3, 4, 4) and result.skipped == []
    assert (result.images[0] == 128).all()  # scaled from 16 bits, gray on every channel
    assert result.images[1:, :, 0, 0].tolist() == [[10, 20, 30], [200, 100, 50]]


def test_class_subfolders_give_sorted_labels(tmp_path, save_image):
    save_image(tmp_path / "dog" / "1.png", gray(1))
    save_image(tmp_path / "cat" / "1.png", gray(2))
    save_image(tmp_path / "cat" / "deeper" / "2.png", gray(3))  # nested: still a cat
    (tmp_path / "dog" / "bad.png").write_bytes(b"junk")
    result = read_image_folder(tmp_path, size=8)
    assert result.classes == ("cat", "dog")
    assert result.labels.tolist() == [0, 0, 1] and result.labels.dtype == np.int64
    assert result.images[:, 0, 0, 0].tolist() == [2, 3, 1]
    assert [f for f, _ in result.skipped] == ["dog/bad.png"]


def test_limit_reads_only_the_first_images(tmp_path, save_image):
    for i in range(5):
        save_image(tmp_path / f"{i}.png", gray(i))
    images = read_image_folder(tmp_path, size=8, limit=2).images
    assert images[:, 0, 0, 0].tolist() == [0, 1]


@pytest.mark.parametrize("kwargs", [{"on_bad": "ignore"}, {"channels": 2}, {"size": 0}, {"limit": 0}])
def test_bad_arguments_raise(tmp_path, save_image, kwargs):
    save_image(tmp_path / "a.png", gray(1))
    with pytest.raises(GanvqError):
        read_image_folder(tmp_path, **{"size": 8, **kwargs})


def test_folder_channels_agrees_with_the_reader(tmp_path, save_image):
    from ganvq.data.folder import folder_channels

    save_image(tmp_path / "a.png", gray(10))
    save_image(tmp_path / "b.bmp", gray(20))
    (tmp_path / "broken.png").write_bytes(np.random.default_rng(0).bytes(300))  # skipped, as the reader skips it
    assert folder_channels(tmp_path) == read_image_folder(tmp_path, size=8).images.shape[1] == 1
    save_image(tmp_path / "sub" / "c.png", rgb((200, 100, 0)))
    assert folder_channels(tmp_path) == read_image_folder(tmp_path, size=8).images.shape[1] == 3
