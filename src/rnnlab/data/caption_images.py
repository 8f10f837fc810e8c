"""Images with captions: reading an image file into a fixed-size array, caption tokens, and a user's
`image<TAB>caption` files (`data.dataset: files` of the caption task).

    read_image("cat.png", size=32)            # uint8 array (32, 32, 3): RGB, padded to a square, resized
    images_to_tensor(array)                    # float32 (N, 3, H, W) in [-1, 1]
    read_caption_file("captions.tsv", "en")   # [CaptionedImage(key, image, references, where), ...]

Every image goes through the same steps (`prepare_image`), for training and for the `caption` verb alike:
1. the file is opened with Pillow; what is not an image, is truncated, is smaller than `MIN_SIDE` pixels on
   a side or larger than `MAX_PIXELS` pixels (a decompression bomb) is refused with one line naming it;
2. it is converted to RGB: grey-scale and palette images are expanded, transparency (RGBA, LA, a palette or
   grey image with a transparent colour) is composited onto white, so an emoji's transparent background
   becomes the white page it is shown on;
3. it is padded with white to a square (the aspect ratio is kept) and resized to `size` x `size` (Lanczos).
`images_to_tensor` then normalises: x = (pixel / 255 - 0.5) / 0.5, each channel in [-1, 1], white = 1.

Caption text: English is lower-cased and split into words (punctuation dropped, "flag: Japan" -> "flag
japan"); Chinese is split into characters (punctuation, symbols and spaces dropped), which is also how
its captions are scored. A caption file is UTF-8, one `image<TAB>caption` per line (a `.csv` file: two columns `image,
caption`, read with Python's csv module; a first row `image,caption` is a header); several lines may name one
image (several references); image paths are relative to the caption file's folder; blank lines and lines
starting with `#` are skipped; every error names the file and line.
"""

from __future__ import annotations

import csv
import re
import unicodedata
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnlab.errors import DataError
from rnnlab.files import read_user_text

__all__ = ["CaptionedImage", "LANGUAGES", "MAX_PIXELS", "MIN_SIDE", "caption_text", "caption_tokens",
           "images_to_tensor", "prepare_image", "read_caption_file", "read_image"]  # fmt: skip

MAX_PIXELS = 40_000_000  # larger images are refused before they are decoded (Pillow's own bomb limit is ~89M)
MIN_SIDE = 8  # pixels: anything smaller holds nothing to caption
LANGUAGES = ("en", "zh")
WHITE = (255, 255, 255)


@dataclass
class CaptionedImage:
    """One image and its reference captions.

    key: what splits group by (an emoji's code point, or the image's path); style: the art style ("google",
    "twitter") or "" for user images; image: uint8 (H, W, 3); references: normalised caption texts;
    where: the file and line it came from (for errors).
    """

    key: str
    image: np.ndarray
    references: list[str]
    style: str = ""
    where: str = ""
    extra: dict = field(default_factory=dict)


# ------------------------------------------------------------------------------------------------ text
_WORD = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")


def caption_tokens(text: str, language: str) -> list[str]:
    """English: lower-cased words without punctuation; Chinese: characters without punctuation, symbols (an
    emoji in a label) or spaces. Both NFKC-normalised first (full-width letters become ASCII)."""
    if language == "zh":
        return [c for c in unicodedata.normalize("NFKC", text) if unicodedata.category(c)[0] not in "PZC"
                and not c.isspace() and unicodedata.category(c) != "So"]  # fmt: skip
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower().replace("’", "'"))


def caption_text(tokens: Sequence[str], language: str) -> str:
    """Tokens back to a caption: words joined by spaces (en), characters joined (zh)."""
    return ("" if language == "zh" else " ").join(tokens)


# ---------------------------------------------------------------------------------------------- images
def prepare_image(image, size: int, where: str) -> np.ndarray:
    """A Pillow image -> uint8 (size, size, 3): RGB on white, padded to a square, resized (module docstring)."""
    from PIL import Image

    width, height = image.size
    if min(width, height) < MIN_SIDE:
        raise DataError(f"{where}: the image is {width}x{height} pixels; expected at least {MIN_SIDE}x{MIN_SIDE}")
    if width * height > MAX_PIXELS:
        raise DataError(f"{where}: the image is {width}x{height} pixels, larger than the limit of {MAX_PIXELS:,} "
                        "pixels (a decompression bomb?); scale it down first")  # fmt: skip
    try:
        image.load()
        if image.mode == "P" and "transparency" in image.info or image.mode in ("PA", "RGBa", "La"):
            image = image.convert("RGBA")
        if image.mode in ("RGBA", "LA") or (image.mode in ("L", "RGB") and "transparency" in image.info):
            rgba = image.convert("RGBA")
            page = Image.new("RGBA", rgba.size, WHITE + (255,))
            image = Image.alpha_composite(page, rgba).convert("RGB")
        else:
            image = image.convert("RGB")  # grey-scale, palette, CMYK, 16-bit: expanded to RGB
    except (OSError, ValueError, SyntaxError) as error:
        raise DataError(f"{where}: cannot read the image ({error}); a truncated or damaged file?") from None
    side = max(width, height)
    if width != height:
        square = Image.new("RGB", (side, side), WHITE)
        square.paste(image, ((side - width) // 2, (side - height) // 2))
        image = square
    if side != size:
        image = image.resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.uint8).copy()


def read_image(path: str | Path, size: int, where: str | None = None) -> np.ndarray:
    """The image file at `path` as uint8 (size, size, 3); DataError naming `where` (default: the path)."""
    from PIL import Image, UnidentifiedImageError

    where = where or str(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return prepare_image(image, size, where)
    except FileNotFoundError:
        raise DataError(f"{where}: no such image file") from None
    except IsADirectoryError:
        raise DataError(f"{where}: is a directory, not an image file") from None
    except UnidentifiedImageError:
        raise DataError(f"{where}: not an image file Pillow can read (PNG, JPEG, GIF, BMP, WebP, ...)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DataError(f"{where}: the image is larger than the limit of {MAX_PIXELS:,} pixels "
                        "(a decompression bomb?)") from None  # fmt: skip
    except PermissionError:
        raise DataError(f"{where}: permission denied") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise DataError(f"{where}: cannot read the image ({error}); a truncated or damaged file?") from None


def images_to_tensor(images: np.ndarray):
    """uint8 (N, H, W, 3) -> float32 tensor (N, 3, H, W), (pixel / 255 - 0.5) / 0.5, in [-1, 1]."""
    import torch

    array = torch.from_numpy(np.ascontiguousarray(images))
    return (array.permute(0, 3, 1, 2).float() / 255.0 - 0.5) / 0.5


# --------------------------------------------------------------------------------------- caption files
def _rows(path: Path) -> list[tuple[int, str, str]]:
    """(line number, image, caption) of a caption file; DataError naming file:line for a malformed line."""
    text = read_user_text(path, "caption file", "an image<TAB>caption file")
    rows = []
    if path.suffix.lower() == ".csv":
        lines = text.splitlines()
        for number, record in enumerate(csv.reader(lines), start=1):
            if not record or not "".join(record).strip() or record[0].lstrip().startswith("#"):
                continue
            if number == 1 and [cell.strip().lower() for cell in record] == ["image", "caption"]:
                continue
            if len(record) != 2:
                raise DataError(f"{path}:{number}: expected 2 columns image,caption; got {len(record)}")
            rows.append((number, record[0].strip(), record[1].strip()))
        return rows
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if "\t" not in line:
            raise DataError(f"{path}:{number}: expected image<TAB>caption, got a line without a tab")
        image, caption = line.split("\t", 1)
        rows.append((number, image.strip(), caption.strip()))
    return rows


def read_caption_file(path: str | Path, language: str, size: int, max_images: int = 100_000) -> list[CaptionedImage]:
    """The images of a caption file, each with all its references, in order of first mention; each image
    read once (`read_image`, resized to `size`). Errors name the file and line."""
    path = Path(path)
    by_image: dict[str, CaptionedImage] = {}
    for number, name, caption in _rows(path):
        where = f"{path}:{number}"
        if not name:
            raise DataError(f"{where}: the image path is empty")
        tokens = caption_tokens(caption, language)
        if not tokens:
            raise DataError(f"{where}: the caption of {name!r} is empty (no {'character' if language == 'zh' else 'word'})")
        image_path = (path.parent / name).resolve()
        key = str(image_path)
        if key not in by_image:
            if len(by_image) >= max_images:
                raise DataError(f"{where}: more than {max_images:,} images in one caption file")
            if not image_path.is_file():
                raise DataError(f"{where}: image {name!r} not found (looked for {image_path})")
            by_image[key] = CaptionedImage(key, read_image(image_path, size, f"{where}: {name}"), [], where=where)
        text = caption_text(tokens, language)
        if text not in by_image[key].references:
            by_image[key].references.append(text)
    if not by_image:
        raise DataError(f"{path}: no image<TAB>caption lines")
    return list(by_image.values())
