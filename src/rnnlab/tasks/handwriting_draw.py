"""Pictures of written strokes: SVG, PNG, an animated GIF of the pen, and the window over the characters.

    svg_of(s3), png_of(s3), gif_of(s3)      # bytes; s3 (N, 3) stroke-3 in any units, y down
    window_png(phi, text)                   # phi (T, U): the soft window's weights over time (a staircase)
"""

from __future__ import annotations

import io
import warnings

import numpy as np

from rnnlab.data.strokes import stroke3_to_strokes

__all__ = ["gif_of", "png_of", "svg_of", "window_png"]

PAD = 10  # pixels around the writing
HEIGHT = 96  # pixels for the writing's bounding box height (at least)


def _layout(s3: np.ndarray, height: int = HEIGHT) -> tuple[list[np.ndarray], int, int]:
    """The polylines scaled so the ink is `height` px high (or 4x as wide at most 1600 px) and moved to PAD."""
    strokes = stroke3_to_strokes(s3)
    every = np.concatenate(strokes) if strokes else np.zeros((1, 2))
    low, high = every.min(0), every.max(0)
    size = np.maximum(high - low, 1e-6)
    scale = min(height / size[1] if size[1] > 1e-3 else 1e9, 1600 / size[0] if size[0] > 1e-3 else 1e9)
    scale = scale if scale < 1e8 else 1.0
    moved = [(s - low) * scale + PAD for s in strokes]
    return moved, int(size[0] * scale) + 2 * PAD, int(size[1] * scale) + 2 * PAD


def svg_of(s3: np.ndarray) -> bytes:
    strokes, width, height = _layout(s3)
    paths = []
    for s in strokes:
        d = "M " + " L ".join(f"{x:.1f} {y:.1f}" for x, y in s)
        paths.append(f'<path d="{d}"/>')
    body = "\n  ".join(paths)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} '
            f'{height}">\n<g fill="none" stroke="black" stroke-width="2.5" stroke-linecap="round" '
            f'stroke-linejoin="round">\n  {body}\n</g>\n</svg>\n').encode()  # fmt: skip


def _draw(strokes: list[np.ndarray], width: int, height: int, upto: int | None = None):
    from PIL import Image, ImageDraw

    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    left = upto if upto is not None else 1 << 60
    for s in strokes:
        if left <= 0:
            break
        part = s[: max(1, left)]
        left -= len(s)
        if len(part) == 1:
            x, y = part[0]
            draw.ellipse((x - 1, y - 1, x + 1, y + 1), fill=0)
        else:
            draw.line([tuple(p) for p in part], fill=0, width=3, joint="curve")
    return image


def png_of(s3: np.ndarray) -> bytes:
    out = io.BytesIO()
    _draw(*_layout(s3)).save(out, format="PNG")
    return out.getvalue()


def gif_of(s3: np.ndarray, frames: int = 40) -> bytes:
    """The pen writing: `frames` frames (40 ms each), the last one held for a second."""
    strokes, width, height = _layout(s3)
    total = sum(len(s) for s in strokes)
    marks = sorted({max(1, round(total * k / frames)) for k in range(1, frames + 1)})
    images = [_draw(strokes, width, height, upto).convert("P") for upto in marks]
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:],
                   duration=[40] * (len(images) - 1) + [1000], loop=0)  # fmt: skip
    return out.getvalue()


def window_labels(text: str, cjk_font: bool) -> list[str]:
    """One y label per character; with no CJK font installed a CJK character is named by its code point
    (U+6C38), which reads better than the empty box matplotlib would draw."""
    from rnnlab.inspect.gates import is_cjk

    return [char if cjk_font or not is_cjk(char) else f"U+{ord(char):04X}" for char in text]


def window_png(phi: np.ndarray, text: str) -> bytes:
    """The window weights phi (T, U) as a picture: characters up the y axis, pen points along x."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from rnnlab.tasks.captioner import _fonts, _installed_cjk_font

    figure = Figure(figsize=(max(4.0, min(12.0, phi.shape[0] / 40)), 1.2 + 0.25 * phi.shape[1]), dpi=100)
    axis = figure.add_subplot(1, 1, 1)
    axis.imshow(np.asarray(phi).T, aspect="auto", origin="lower", cmap="Greys", interpolation="nearest")
    axis.set_yticks(range(len(text)))
    axis.set_yticklabels(window_labels(text, _installed_cjk_font() is not None), fontfamily=_fonts(text))
    axis.set_xlabel("pen point (time)")
    axis.set_title("soft window over the characters")
    figure.tight_layout()
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        figure.savefig(out, format="png")
    return out.getvalue()
