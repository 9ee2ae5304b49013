"""Pictures for the HTML report, drawn with numpy and Pillow (no plotting library): the confusion matrix,
line charts of the training curves, and truth / prediction / difference panels of one image."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from core.classes import ClassTable
from core.difference_colours import DIFFERENCE_KINDS, difference_codes
from core.export.masks_export import display_rgb, overlay_image
from core.io.masks import ignore_index_for

TEXT = (33, 37, 41)
GRID = (222, 226, 230)
SERIES_COLOURS = ((0, 114, 178), (213, 94, 0), (0, 158, 115), (204, 121, 167), (86, 180, 233), (230, 159, 0))
PANEL_WIDTH = 300


def font(size: int) -> ImageFont.ImageFont:
    """Pillow's bundled font at `size` px (its fixed bitmap font where FreeType is missing)."""
    try:
        return ImageFont.load_default(size)
    except (TypeError, ValueError, OSError):
        return ImageFont.load_default()


def png_bytes(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


# confusion matrix ----------------------------------------------------------------------------------

def confusion_picture(counts: Sequence[Sequence[int]], classes: ClassTable) -> np.ndarray:
    """Rows = truth, columns = prediction; cells shaded by the share of the row (recall), labelled with
    that share and the pixel count while there is room."""
    matrix = np.asarray(counts, dtype=np.int64)
    n = len(matrix)
    cell = max(28, min(110, 660 // max(n, 1)))
    label_font, cell_font = font(14), font(max(10, min(15, cell // 6)))
    names = [_clip_text(name, label_font, 150) for name in classes.names]
    left = 40 + max(label_font.getbbox(name)[2] for name in names)
    top = 40 + max(label_font.getbbox(name)[2] for name in names) if n > 4 else 56
    width, height = left + n * cell + 20, top + n * cell + 20
    picture = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(picture)
    rows = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, rows, out=np.zeros(matrix.shape, float), where=rows > 0)
    for t in range(n):
        for p in range(n):
            x, y = left + p * cell, top + t * cell
            shade = _blue(shares[t, p])
            draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=shade, outline="white")
            if cell >= 56:
                ink = "white" if shares[t, p] > 0.55 else TEXT
                draw.text((x + cell / 2, y + cell / 2 - 8), f"{shares[t, p]:.1%}", fill=ink, font=cell_font,
                          anchor="mm")
                draw.text((x + cell / 2, y + cell / 2 + 10), f"{matrix[t, p]:,}", fill=ink, font=font(11),
                          anchor="mm")
    for i, name in enumerate(names):
        draw.text((left - 8, top + i * cell + cell / 2), name, fill=TEXT, font=label_font, anchor="rm")
        if n > 4:  # column names upright would overlap
            _vertical_text(picture, name, (left + i * cell + cell // 2, top - 8), label_font)
        else:
            draw.text((left + i * cell + cell / 2, top - 8), name, fill=TEXT, font=label_font, anchor="ms")
    draw.text((left + n * cell / 2, 8), "predicted class", fill=TEXT, font=font(15), anchor="mt")
    _vertical_text(picture, "true class", (14, top + n * cell // 2), font(15), centred=True)
    return np.asarray(picture)


def _blue(share: float) -> tuple[int, int, int]:
    light, dark = np.array([247, 251, 255]), np.array([8, 69, 148])
    return tuple(int(v) for v in np.rint(light + (dark - light) * float(share)))


def _vertical_text(picture: Image.Image, text: str, anchor: tuple[int, int], text_font, centred=False) -> None:
    """Text rotated 90 degrees; its end at `anchor` (or centred on it)."""
    box = text_font.getbbox(text)
    strip = Image.new("RGBA", (box[2] + 4, box[3] + 4), (255, 255, 255, 0))
    ImageDraw.Draw(strip).text((2, 2), text, fill=TEXT, font=text_font)
    strip = strip.rotate(90, expand=True)
    x = anchor[0] - strip.width // 2
    y = anchor[1] - strip.height // 2 if centred else anchor[1] - strip.height
    picture.paste(strip, (x, y), strip)


def _clip_text(text: str, text_font, width: int) -> str:
    while len(text) > 3 and text_font.getbbox(text)[2] > width:
        text = text[:-2] + "…"
    return text


# line charts --------------------------------------------------------------------------------------

def line_chart(series: Mapping[str, Sequence[tuple[float, float | None]]], title: str, y_label: str = "",
               size: tuple[int, int] = (600, 280), y_range: tuple[float, float] | None = None) -> np.ndarray:
    """A simple line chart: one line per named series of (x, y) points (None y values are gaps)."""
    width, height = size
    picture = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(picture)
    points = [(x, y) for values in series.values() for x, y in values if y is not None and math.isfinite(y)]
    left, right, top, bottom = 62, width - 16, 34, height - 42
    draw.text((left, 8), title, fill=TEXT, font=font(15))
    if not points:
        draw.text((width / 2, height / 2), "no values", fill=TEXT, font=font(13), anchor="mm")
        return np.asarray(picture)
    xs = [p[0] for p in points]
    x_ticks = nice_ticks(min(xs), max(xs), 8, integer=True)
    y_low, y_high = y_range or (min(p[1] for p in points), max(p[1] for p in points))
    y_ticks = nice_ticks(y_low, y_high, 5)
    x0, x1, y0, y1 = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]

    def at(x: float, y: float) -> tuple[float, float]:
        return (left + (x - x0) / (x1 - x0) * (right - left), bottom - (y - y0) / (y1 - y0) * (bottom - top))

    small = font(12)
    for tick in y_ticks:
        _, y = at(x0, tick)
        draw.line([left, y, right, y], fill=GRID)
        draw.text((left - 6, y), _tick_label(tick), fill=TEXT, font=small, anchor="rm")
    for tick in x_ticks:
        x, _ = at(tick, y0)
        draw.line([x, bottom, x, bottom + 4], fill=TEXT)
        draw.text((x, bottom + 6), _tick_label(tick), fill=TEXT, font=small, anchor="mt")
    draw.line([left, top, left, bottom, right, bottom], fill=TEXT)
    draw.text(((left + right) / 2, height - 6), "epoch", fill=TEXT, font=small, anchor="ms")
    if y_label:
        _vertical_text(picture, y_label, (12, (top + bottom) // 2), small, centred=True)
    legend_x = right
    for (name, values), colour in zip(reversed(list(series.items())), _cycle(len(series))[::-1], strict=True):
        _draw_series(draw, [at(x, y) for x, y in values if y is not None and math.isfinite(y)], colour)
        legend_x -= small.getbbox(name)[2] + 34
        draw.line([legend_x, 17, legend_x + 18, 17], fill=colour, width=3)
        draw.text((legend_x + 22, 17), name, fill=TEXT, font=small, anchor="lm")
    return np.asarray(picture)


def _draw_series(draw: ImageDraw.ImageDraw, points: list[tuple[float, float]], colour) -> None:
    if len(points) > 1:
        draw.line(points, fill=colour, width=2, joint="curve")
    for x, y in points if len(points) <= 60 else ():
        draw.ellipse([x - 2.5, y - 2.5, x + 2.5, y + 2.5], fill=colour)


def _cycle(count: int) -> list[tuple[int, int, int]]:
    return [SERIES_COLOURS[i % len(SERIES_COLOURS)] for i in range(count)]


def nice_ticks(low: float, high: float, count: int, integer: bool = False) -> list[float]:
    """Round tick values covering [low, high] (1, 2, 2.5 or 5 times a power of ten apart)."""
    if high <= low:
        high = low + (1 if integer else abs(low) * 0.1 or 1)
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(f * power for f in (1, 2, 2.5, 5, 10) if f * power >= raw)
    if integer:
        step = max(1, round(step))
    start = math.floor(low / step) * step
    ticks = [start]
    while ticks[-1] < high - 1e-12:
        ticks.append(ticks[-1] + step)
    return ticks


def _tick_label(value: float) -> str:
    return f"{value:g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.0e}"


# image panels -------------------------------------------------------------------------------------

def difference_picture(image: np.ndarray, truth: np.ndarray, prediction: np.ndarray, class_count: int,
                       size: tuple[int, int] | None = None) -> np.ndarray:
    """The image dimmed to gray, with wrong pixels in the colours of core.difference_colours (missed,
    extra, wrong class); unlabeled truth pixels are never wrong. Shrunk to a smaller `size` (width, height),
    a pixel is coloured when any pixel it covers is wrong, so thin errors along outlines stay visible."""
    gray = display_rgb(image).mean(axis=2).astype(np.float32)
    codes = difference_codes(truth, prediction, ignore_index_for(class_count))
    kinds = [(codes == kind.code, kind.colour) for kind in DIFFERENCE_KINDS]
    if size is not None and size != (truth.shape[1], truth.shape[0]):
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        kinds = [(cv2.resize(where.view(np.uint8), size, interpolation=cv2.INTER_AREA) > 0, colour)
                 for where, colour in kinds]
    picture = np.repeat((gray * 0.6 + 40)[:, :, None], 3, axis=2).astype(np.uint8)
    for where, colour in kinds:
        picture[where] = colour
    return picture


def comparison_picture(image: np.ndarray, truth: np.ndarray, prediction: np.ndarray, classes: ClassTable,
                       caption: str = "", panel_width: int = PANEL_WIDTH) -> np.ndarray:
    """Three titled panels side by side: truth overlay, prediction overlay, difference; `caption` above
    them (in the picture, so a printed page never separates it from its image)."""
    height, width = truth.shape
    scale = min(1.0, panel_width / width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_NEAREST
    panels = [cv2.resize(overlay_image(image, mask, classes), size, interpolation=interpolation)
              for mask in (truth, prediction)]
    panels.append(difference_picture(image, truth, prediction, len(classes), size))
    gap, top = 8, (52 if caption else 24)
    canvas = Image.new("RGB", (3 * size[0] + 2 * gap, size[1] + top), "white")
    draw = ImageDraw.Draw(canvas)
    if caption:
        draw.text((0, 4), _clip_text(caption, font(15), canvas.width), fill=TEXT, font=font(15))
    for i, (panel, name) in enumerate(zip(panels, ("ground truth", "prediction", "differences"), strict=True)):
        x = i * (size[0] + gap)
        canvas.paste(Image.fromarray(panel), (x, top))
        draw.text((x + size[0] / 2, top - 12), name, fill=TEXT, font=font(13), anchor="mm")
    return np.asarray(canvas)
