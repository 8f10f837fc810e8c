"""Generated scenes for captioning, registered as `scenes`: 1-4 coloured shapes on white, each captioned by a
small grammar in English and Chinese, so a user can check that attention lands on the object a word names.

    a large red circle to the left of a small blue square        一个大的红色圆形在一个小的蓝色正方形的左边
    a green triangle above a yellow circle                         ...
    a small red square, a large blue circle and a green triangle  一个小的红色正方形、一个大的蓝色圆形和...

A scene (Pillow, seeded: `Source("generated", seed=2015)`) is a 64x64 white canvas cut into a 3x3 grid; each
object takes its own cell, a colour (red, green, blue, yellow), a shape (circle, square, triangle) and a size
(small: 12 px across, large: 20 px). The objects are described in reading order (by row, then column):
one object: "a {size} {colour} {shape}"; two: the first "to the left of" the second when they share a row,
else "above" it (zh: 在...的左边 / 上面); three or four: a list "A, B and C" (zh: A、B和C). The size word is
said only when the scene holds two objects of the same colour and shape (what a listener would need). Each
scene has one reference (the grammar's); the score that matters is `objects_named`: the share of captions
that name every object of the scene with its right colour and shape (`named_objects`).

Splits: 6,000 / 500 / 500 scenes (distinct captions are not enforced: the same description can be drawn
twice, as different pictures).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab.data.caption_images import CaptionedImage, caption_text, caption_tokens, prepare_image
from rnnlab.data.registry import DatasetEntry, Source, register_dataset

__all__ = ["COLOURS", "SHAPES", "SceneCaptions", "describe", "draw_scene", "named_objects", "random_scene"]

COLOURS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220), "yellow": (235, 190, 20)}
SHAPES = ("circle", "square", "triangle")
SIZES = {"small": 6, "large": 10}  # half-widths in pixels
CANVAS, GRID = 64, 3
ZH = {"red": "红色", "green": "绿色", "blue": "蓝色", "yellow": "黄色", "circle": "圆形", "square": "正方形",
      "triangle": "三角形", "small": "小", "large": "大"}  # fmt: skip
COUNTS = {"train": 6000, "valid": 500, "test": 500}
SEED = 2015

#: one object: (row, column, colour, shape, size)
SceneObject = tuple[int, int, str, str, str]


def random_scene(rng: random.Random) -> list[SceneObject]:
    """1-4 objects in distinct cells, in reading order."""
    cells = rng.sample(range(GRID * GRID), rng.randint(1, 4))
    objects = [(cell // GRID, cell % GRID, rng.choice(list(COLOURS)), rng.choice(SHAPES), rng.choice(list(SIZES)))
               for cell in cells]  # fmt: skip
    return sorted(objects)


def draw_scene(objects: list[SceneObject]) -> np.ndarray:
    """uint8 (64, 64, 3): the objects on white."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (CANVAS, CANVAS), "white")
    draw = ImageDraw.Draw(image)
    cell = CANVAS / GRID
    for row, column, colour, shape, size in objects:
        x, y, r = (column + 0.5) * cell, (row + 0.5) * cell, SIZES[size]
        if shape == "circle":
            draw.ellipse((x - r, y - r, x + r, y + r), fill=COLOURS[colour])
        elif shape == "square":
            draw.rectangle((x - r, y - r, x + r, y + r), fill=COLOURS[colour])
        else:
            draw.polygon([(x, y - r), (x - r, y + r), (x + r, y + r)], fill=COLOURS[colour])
    return np.asarray(image, dtype=np.uint8).copy()


def describe(objects: list[SceneObject], language: str) -> str:
    """The grammar's caption of a scene (see the module docstring)."""
    kinds = [(colour, shape) for _, _, colour, shape, _ in objects]

    def phrase(obj: SceneObject) -> str:
        _, _, colour, shape, size = obj
        sized = kinds.count((colour, shape)) > 1
        if language == "zh":
            return "一个" + (ZH[size] + "的" if sized else "") + ZH[colour] + ZH[shape]
        return "a " + (size + " " if sized else "") + f"{colour} {shape}"

    parts = [phrase(obj) for obj in objects]
    if len(objects) == 1:
        return parts[0]
    if len(objects) == 2:
        same_row = objects[0][0] == objects[1][0]
        if language == "zh":
            return f"{parts[0]}在{parts[1]}的{'左边' if same_row else '上面'}"
        return f"{parts[0]} {'to the left of' if same_row else 'above'} {parts[1]}"
    if language == "zh":
        return "、".join(parts[:-1]) + "和" + parts[-1]
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def named_objects(caption: str, objects: list[dict], language: str) -> bool:
    """True when the caption names every object with its colour and shape (the colour word, then, after at
    most a size word, the shape word; each object once: two red circles need two mentions)."""
    tokens = caption_tokens(caption, language)
    if language == "zh":
        text = "".join(tokens)
        mentions = [(c, s) for c in COLOURS for s in SHAPES for _ in range(text.count(ZH[c] + ZH[s]))]
    else:
        mentions = [(tokens[i], tokens[i + 1]) for i in range(len(tokens) - 1)
                    if tokens[i] in COLOURS and tokens[i + 1] in SHAPES]  # fmt: skip
    wanted = [(obj["colour"], obj["shape"]) for obj in objects]
    return sorted(mentions) == sorted(wanted)


@dataclass
class SceneCaptions:
    """The parsed cache: per split, images uint8 (N, 64, 64, 3) and records (objects, en and zh captions)."""

    splits: dict[str, tuple[np.ndarray, list[dict]]]

    def examples(self, split: str, language: str, style: str = "", size: int = CANVAS) -> list[CaptionedImage]:
        from PIL import Image

        images, records = self.splits[split]
        out = []
        for i, (pixels, record) in enumerate(zip(images, records)):
            if size != CANVAS:
                pixels = prepare_image(Image.fromarray(pixels), size, f"scene {split} {i}")
            reference = caption_text(caption_tokens(record[language], language), language)  # as captions are
            out.append(CaptionedImage(f"{split}-{i}", pixels, [reference], "", f"scene {split} {i + 1}",
                                      {"objects": record["objects"]}))  # fmt: skip
        return out


def _generate(entry: DatasetEntry, out: Path, seed: int) -> tuple[str, dict[str, int]]:
    rng = random.Random(seed)
    sizes = {}
    for split in entry.splits:
        scenes = [random_scene(rng) for _ in range(COUNTS[split])]
        np.save(out / f"{split}.npy", np.stack([draw_scene(scene) for scene in scenes]))
        records = [{"objects": [{"row": r, "column": c, "colour": col, "shape": s, "size": z} for r, c, col, s, z in scene],
                    "en": describe(scene, "en"), "zh": describe(scene, "zh")} for scene in scenes]  # fmt: skip
        (out / f"{split}.json").write_text(json.dumps(records, ensure_ascii=False) + "\n", encoding="utf-8")
        sizes[split] = len(scenes)
    return "1-4 shapes (4 colours x 3 shapes x 2 sizes) on a 3x3 grid, captions in English and Chinese", sizes


def _load(entry: DatasetEntry, directory: Path | None) -> SceneCaptions:
    assert directory is not None
    return SceneCaptions({split: (np.load(directory / f"{split}.npy"),
                                  json.loads((directory / f"{split}.json").read_text(encoding="utf-8")))
                          for split in entry.splits})  # fmt: skip


register_dataset(DatasetEntry(
    name="scenes",
    kind="images",
    description="generated scenes of 1-4 coloured shapes captioned by a small grammar (English and Chinese)",
    source=Source("generated", "rnnlab.data.scenes", seed=SEED),
    licence="CC0 (generated here)",
    fetch=_generate,
    load=_load,
    unit="scenes",
    sizes=COUNTS,
))  # fmt: skip
