"""Pictures for a report, laid out to fit the page: captioned galleries, labelled rows of samples, the codebook
atlas sorted by use with counts, and code maps drawn over their images."""

from __future__ import annotations

import html

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ganvq.images import make_grid, upscale_nearest
from ganvq.report.html import PAGE_WIDTH, img, png_data_uri

TILE = 56  # px an image is shown at, about: 28 px images twice, 64 px ones as they are


def display_scale(size: int) -> int:
    """The integer enlargement that shows a `size`-px image at about TILE px (never shrinks)."""
    return max(1, round(TILE / size))


def _hwc(images) -> np.ndarray:
    """uint8 (B, C, H, W) tensor or array → (B, H, W, C) array."""
    a = images.numpy() if hasattr(images, "numpy") else np.asarray(images)
    return a.transpose(0, 2, 3, 1) if a.shape[1] in (1, 3) and a.shape[-1] not in (1, 3) else a


def gallery(cells: list[tuple[np.ndarray, str]], alt: str) -> str:
    """Captioned images in a grid that wraps to the page width: [(uint8 (H, W, C) image, caption)]."""
    if not cells:
        return ""
    scale = display_scale(max(c[0].shape[1] for c in cells))
    width = max(c[0].shape[1] for c in cells) * scale
    figs = "".join(
        f"<figure>{img(png_data_uri(image, scale), f'{alt} {i + 1}: {caption}', image.shape[1] * scale)}"
        f"<figcaption title=\"{html.escape(caption)}\">{html.escape(caption)}</figcaption></figure>"
        for i, (image, caption) in enumerate(cells))
    return f'<div class="gallery" style="--cell:{width}px">{figs}</div>'


def stacked(top: np.ndarray, bottom: np.ndarray, gap: int = 2) -> np.ndarray:
    """Two uint8 (H, W, C) images one above the other with a white gap: an original over its reconstruction."""
    pad = np.full((gap, top.shape[1], top.shape[2]), 255, np.uint8)
    return np.concatenate([top, pad, bottom])


def labelled_rows(rows: list[tuple[str, np.ndarray]], alt: str) -> str:
    """One strip of images per row with its label at the left: [(label, uint8 (B, C, H, W) images)]."""
    if not rows:
        return ""
    size = _hwc(rows[0][1]).shape[2]
    scale = display_scale(size)
    most = max(len(r[1]) for r in rows)
    cols = max(1, min(most, (PAGE_WIDTH - 140) // (size * scale + 2)))
    body = []
    for label, images in rows:
        strip = make_grid(_hwc(images)[:cols], nrow=cols)
        body.append(f'<tr><th scope="row">{html.escape(label)}</th>'
                    f"<td>{img(png_data_uri(strip, scale), f'{alt}: {label}', strip.shape[1] * scale)}</td></tr>")
    return f'<table class="rows">{"".join(body)}</table>'


def grid_image(images, alt: str, columns: int | None = None) -> str:
    """A plain grid of uint8 (B, C, H, W) images that fits the page width."""
    a = _hwc(images)
    size = a.shape[2]
    scale = display_scale(size)
    cols = columns or max(1, min(len(a), PAGE_WIDTH // (size * scale + 2)))
    grid = make_grid(a, nrow=cols)
    return img(png_data_uri(grid, scale), alt, grid.shape[1] * scale)


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def atlas_with_counts(tiles: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The codebook atlas sorted by use: uint8 (K, H, W, C) tiles, most-used first, each with its code number and
    use count printed below; returns the picture and the order (code numbers by rank)."""
    order = np.argsort(-counts, kind="stable")
    k, h, w, c = tiles.shape
    scale = display_scale(w)
    tw = w * scale
    label_h = 24
    cell_w, cell_h = max(tw, 44) + 4, h * scale + label_h + 4
    cols = max(1, min(k, PAGE_WIDTH // cell_w))
    rows = -(-k // cols)
    canvas = Image.new("RGB", (cols * cell_w, rows * cell_h), "white")
    draw = ImageDraw.Draw(canvas)
    font = _font(10)
    for rank, code in enumerate(order):
        r, col = divmod(rank, cols)
        x, y = col * cell_w + 2, r * cell_h + 2
        tile = upscale_nearest(tiles[code], scale)
        tile_img = Image.fromarray(tile[..., 0] if c == 1 else tile).convert("RGB")
        canvas.paste(tile_img, (x + (cell_w - 4 - tw) // 2, y))
        used = counts[code] > 0
        draw.text((x + (cell_w - 4) // 2, y + h * scale + 1), f"#{code}", fill="#555" if used else "#bbb",
                  font=font, anchor="ma")
        draw.text((x + (cell_w - 4) // 2, y + h * scale + 12), f"{int(counts[code]):,}",
                  fill="#1a4fb5" if used else "#c33", font=font, anchor="ma")
    return np.asarray(canvas), order


def _code_color(code: int) -> tuple[int, int, int]:
    """A fixed, well-spread colour per code (golden-ratio hue steps)."""
    hue = (code * 0.618033988749895) % 1.0
    rgb = Image.new("HSV", (1, 1), (int(hue * 255), 150, 235)).convert("RGB").getpixel((0, 0))
    return rgb


def code_map_picture(image: np.ndarray, codes: np.ndarray, size: int = 168) -> np.ndarray:
    """An image (uint8 (H, W, C)) beside its code map (h, w): one coloured cell per code, numbered where the cells
    are large enough."""
    h, w = codes.shape[-2:]
    codes = codes.reshape(-1, h, w)[0]  # residual levels: the first level
    cell = max(1, size // max(h, w))
    side = cell * max(h, w)
    base = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).convert("RGB")
    base = base.resize((side, side), Image.NEAREST)
    grid = Image.new("RGB", (w * cell, h * cell), "white")
    draw = ImageDraw.Draw(grid)
    digits = len(str(int(codes.max()))) if codes.size else 1
    font_size = min(12, cell - 4)
    numbered = font_size >= 7 and digits * font_size * 0.62 <= cell - 2
    font = _font(font_size) if numbered else None
    for i in range(h):
        for j in range(w):
            c = int(codes[i, j])
            box = (j * cell, i * cell, (j + 1) * cell - 1, (i + 1) * cell - 1)
            draw.rectangle(box, fill=_code_color(c))
            if numbered:
                draw.text((j * cell + cell / 2, i * cell + cell / 2), str(c), fill="black", font=font, anchor="mm")
    out = Image.new("RGB", (side * 2 + 6, side), "white")
    out.paste(base, (0, 0))
    out.paste(grid, (side + 6, 0))
    return np.asarray(out)
