"""Emoji images with human-written names in English and Chinese, registered as the `emoji` dataset (captioning).

    data = load_dataset("emoji")                  # EmojiCaptions: records + images per art style
    data.examples("test", "zh", "twitter", 32)    # [CaptionedImage(key="1F600", image (32, 32, 3), ...)]

Four pinned npm packages, each fetched with `npm pack` and checked against its sha256:
- `emoji-datasource-google@16.0.0` (Apache-2.0) and `emoji-datasource-twitter@16.0.0` (art CC-BY-4.0, code
  MIT): `img/<style>/64/<code>.png`, 64x64 RGBA, and `emoji.json` (the Unicode name, category). Only the
  1,911 base emoji are used (no skin-tone variants), each drawn in both styles.
- `emojibase-data@17.0.0` (MIT): `en/data.json`, `zh/data.json`: each emoji's label and tags.
- `cldr-annotations-full@48.2.0` (Unicode-3.0): `annotations/{en,zh}/annotations.json`: keywords and the
  spoken name (tts).

References per image (normalised by `rnnlab.data.caption_images.caption_tokens`, duplicates dropped):
English: the emojibase label ("grinning face"), CLDR's spoken name, and the Unicode name lower-cased
("grinning face with smiling eyes"); Chinese: the emojibase label and CLDR's spoken name. The tags / CLDR
keywords are kept with each record (`tags`) but are not references (single words, not captions).

Splits are by emoji, from the sha256 of its code point (80/10/10, `rnnlab.data.splits.split_of`): both
styles of one emoji are always in the same split. Training on one style and testing on the other style's
images of the test emoji is the held-out art style test (`EmojiCaptions.examples(split, language, style)`).

Cache (`rnnlab data fetch emoji`): `google.npy` and `twitter.npy`, uint8 (1911, 64, 64, 3), each PNG
composited onto white once (`prepare_image`); `emoji.json`, one record per row of those arrays.
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab.data.caption_images import CaptionedImage, caption_text, caption_tokens, prepare_image
from rnnlab.data.registries import download_npm, verify_sha256
from rnnlab.data.registry import DatasetEntry, Source, register_dataset
from rnnlab.data.splits import split_of
from rnnlab.errors import DataError, FetchError

__all__ = ["EmojiCaptions", "PACKAGES", "STYLES"]

STYLES = ("google", "twitter")
PACKAGES = {  # name -> (version, sha256 of the npm tarball)
    "emoji-datasource-google": ("16.0.0", "fb5fd131b362aab7a55542d2a147a79708cce0a8b1c1bbacd470172708b5c438"),
    "emoji-datasource-twitter": ("16.0.0", "f64a530c63bca463bd8317fdc4615ce63a53a0c65018e4ce2d848aaba7a28877"),
    "emojibase-data": ("17.0.0", "d01d0e2ca4e22cb402679532155342c71e2e871f25c32223c013b8b166ebdf5a"),
    "cldr-annotations-full": ("48.2.0", "28576e51225deb51e3ddd734b0f824a0079682cb5d8c27faa9f68149317a14d1"),
}
NATIVE_SIZE = 64
VALID_PERCENT = TEST_PERCENT = 10


@dataclass
class EmojiCaptions:
    """The parsed cache: `records` (one dict per emoji: code, emoji, category, split, references and tags
    per language) and `images[style]`, uint8 (N, 64, 64, 3) in the records' order."""

    records: list[dict]
    images: dict[str, np.ndarray]

    def examples(self, split: str, language: str, style: str, size: int = NATIVE_SIZE) -> list[CaptionedImage]:
        """The images of `split` in `style` ("google", "twitter" or "both"), resized to `size`."""
        from PIL import Image

        styles = STYLES if style == "both" else (style,)
        out = []
        for row, record in enumerate(self.records):
            if record["split"] != split or not record["references"][language]:
                continue
            for name in styles:
                pixels = self.images[name][row]
                if size != NATIVE_SIZE:
                    pixels = prepare_image(Image.fromarray(pixels), size, f"emoji {record['code']}")
                out.append(CaptionedImage(record["code"], pixels, list(record["references"][language]), name,
                                          f"emoji {record['code']} ({name})", {"emoji": record["emoji"],
                                          "category": record["category"]}))  # fmt: skip
        return out


# ------------------------------------------------------------------------------------------------ parsing
def _members(tarball: Path, wanted) -> dict[str, bytes]:
    """{path inside the package: bytes} of the members for which `wanted(path)` is true."""
    out = {}
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive:
            name = member.name.removeprefix("package/")
            if member.isfile() and wanted(name):
                out[name] = archive.extractfile(member).read()
    return out


def _references(texts: list[str], language: str) -> list[str]:
    refs: list[str] = []
    for text in texts:
        tokens = caption_tokens(text or "", language)
        if tokens and (ref := caption_text(tokens, language)) not in refs:
            refs.append(ref)
    return refs


def _code(hexcode: str) -> str:
    """A code point sequence without variation selectors ("0023-FE0F-20E3" -> "0023-20E3"): the join key."""
    return "-".join(part for part in hexcode.upper().split("-") if part != "FE0F")


def _annotation(annotations: dict, emoji: str) -> dict:
    return annotations.get(emoji) or annotations.get(emoji.replace("\ufe0f", "")) or {}


def _fetch(entry: DatasetEntry, out: Path, downloads: Path) -> tuple[str, dict[str, int]]:
    tarballs = {}
    for name, (version, sha256) in PACKAGES.items():
        tarball = downloads / f"{name}-{version}.tgz"
        if not tarball.exists():
            tarball = download_npm(name, version, downloads)
        verify_sha256(tarball, sha256)
        tarballs[name] = tarball
    records, images = join_packages(tarballs)
    for style in STYLES:
        np.save(out / f"{style}.npy", images[style])
    (out / "emoji.json").write_text(json.dumps(records, ensure_ascii=False) + "\n", encoding="utf-8")
    sizes = {split: sum(r["split"] == split for r in records) for split in entry.splits}
    zh = sum(bool(r["references"]["zh"]) for r in records)
    refs = sum(len(r["references"]["en"]) for r in records) / len(records)
    note = (f"{len(records):,} emoji x {len(STYLES)} styles, {refs:.2f} English references per emoji, "
            f"{zh:,} with Chinese ones")  # fmt: skip
    return note, sizes


def join_packages(tarballs: dict[str, Path]) -> tuple[list[dict], dict[str, np.ndarray]]:
    """The records (one per base emoji that has a label and both images) and each style's uint8 (N, 64, 64,
    3) images, from the four npm tarballs (package name -> path), joined by code point."""
    from PIL import Image

    emojibase = {lang: json.loads(data) for lang, data in ((path.split("/")[0], data) for path, data in _members(
        tarballs["emojibase-data"], lambda p: p in ("en/data.json", "zh/data.json")).items())}  # fmt: skip
    cldr = {path.split("/")[1]: json.loads(data)["annotations"]["annotations"] for path, data in _members(
        tarballs["cldr-annotations-full"], lambda p: p in ("annotations/en/annotations.json",
                                                           "annotations/zh/annotations.json")).items()}  # fmt: skip
    base = {lang: {_code(item["hexcode"]): item for item in items} for lang, items in emojibase.items()}
    sheets = {style: _members(tarballs[f"emoji-datasource-{style}"],
                              lambda p, s=style: p == "emoji.json" or p.startswith(f"img/{s}/64/"))
              for style in STYLES}  # fmt: skip
    datasource = json.loads(sheets["google"]["emoji.json"])
    records, images = [], {style: [] for style in STYLES}
    for item in sorted(datasource, key=lambda x: x["sort_order"]):
        code = _code(item["unified"])
        label = {lang: base[lang].get(code) for lang in ("en", "zh")}
        if label["en"] is None or not all(f"img/{s}/64/{item['image']}" in sheets[s] for s in STYLES):
            continue
        emoji = label["en"]["emoji"]
        en_note, zh_note = _annotation(cldr["en"], emoji), _annotation(cldr["zh"], emoji)
        references = {
            "en": _references([label["en"]["label"], *en_note.get("tts", []), (item.get("name") or "").lower()], "en"),
            "zh": _references([label["zh"]["label"] if label["zh"] else "", *zh_note.get("tts", [])], "zh"),
        }
        tags = {"en": sorted(set(label["en"].get("tags", [])) | set(en_note.get("default", []))),
                "zh": sorted(set((label["zh"] or {}).get("tags", [])) | set(zh_note.get("default", [])))}  # fmt: skip
        records.append({"code": code, "emoji": emoji, "category": item["category"],
                        "subcategory": item["subcategory"], "split": split_of(code, VALID_PERCENT, TEST_PERCENT),
                        "references": references, "tags": tags})  # fmt: skip
        for style in STYLES:
            with Image.open(io.BytesIO(sheets[style][f"img/{style}/64/{item['image']}"])) as image:
                images[style].append(prepare_image(image, NATIVE_SIZE, f"{style} {item['image']}"))
    if not records:
        raise FetchError("emoji: no emoji joined the four packages; the package layout changed?")
    return records, {style: np.stack(images[style]) for style in STYLES}


def _load(entry: DatasetEntry, directory: Path | None) -> EmojiCaptions:
    assert directory is not None
    try:
        records = json.loads((directory / "emoji.json").read_text(encoding="utf-8"))
        images = {style: np.load(directory / f"{style}.npy") for style in STYLES}
    except (OSError, ValueError) as error:
        raise DataError(f"{directory}: the emoji cache is damaged ({error}); run `rnnlab data fetch emoji --force`") from None
    return EmojiCaptions(records, images)


register_dataset(DatasetEntry(
    name="emoji",
    kind="images",
    description="emoji images (Google and Twitter art, 64x64) captioned with their names in English and Chinese",
    source=Source("npm", "emoji-datasource-google", PACKAGES["emoji-datasource-google"][0],
                  PACKAGES["emoji-datasource-google"][1], member="img/google/64/*.png",
                  note="+ emoji-datasource-twitter@16.0.0, emojibase-data@17.0.0, cldr-annotations-full@48.2.0, "
                       "each sha256-checked"),
    licence="images Apache-2.0 (Google Noto) and CC-BY-4.0 (Twitter Twemoji); names MIT (emojibase) and "
            "Unicode-3.0 (CLDR)",
    attribution="Google Noto Emoji; Twemoji (c) Twitter, CC-BY-4.0; emoji-datasource by iamcal; emojibase; Unicode CLDR",
    fetch=_fetch,
    load=_load,
    unit="emoji",
    sizes={"train": 1563, "valid": 188, "test": 160},
))  # fmt: skip
