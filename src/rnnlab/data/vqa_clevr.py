"""Sort-of-CLEVR (Santoro et al. 2017, "A simple neural network module for relational reasoning"), generated
and registered as `sort-of-clevr`: six objects, one of each colour (red, green, blue, orange, grey, yellow),
each a circle or a square at a random place on a white canvas, and questions about one object named by its
colour, written as English words so that the question encoder is the same LSTM as for any other question.

    non-relational   what shape is the red object?                              circle / square
                     is the red object on the left or on the right?             left / right
                     is the red object at the top or at the bottom?             top / bottom
    relational       what shape is the object closest to the red object?        circle / square
                     what shape is the object furthest from the red object?     circle / square
                     how many objects have the same shape as the red object?    1 .. 6

(each with a second wording). As published: 6 question types, half relational; here each scene is asked
two questions of each type (12 per scene, the colour drawn at random), so the answers are as balanced as
the scenes make them. Deviations from the paper, to fit a CPU: a 64x64 canvas (the paper: 75x75) and
objects 10 px across, 4,000 / 200 / 500 scenes (the paper: 9,800 / 200 for training / testing and 20
questions per scene). Left / right and top / bottom split the canvas at its middle; distances are between
centres; the object a question names is kept as its box, to score where the attention looks.

The cache holds the scenes as JSON (objects and questions), and `load` draws the images (Pillow), about a
second for all splits: nothing large is stored.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np

from rnnlab.data.registry import DatasetEntry, Source, register_dataset
from rnnlab.data.vqa_files import Question, VQASplit

__all__ = ["COLOURS", "KINDS", "RELATIONAL", "SHAPES", "answer", "draw", "random_objects", "scene_questions"]

COLOURS = {"red": (220, 30, 30), "green": (30, 160, 50), "blue": (30, 60, 220), "orange": (245, 140, 20),
           "grey": (128, 128, 128), "yellow": (230, 210, 20)}  # fmt: skip
SHAPES = ("circle", "square")
CANVAS, HALF = 64, 5  # pixels: the canvas side, half an object's side
KINDS = ("shape", "horizontal", "vertical", "closest", "furthest", "count")
RELATIONAL = frozenset({"closest", "furthest", "count"})
WORDINGS = {
    "shape": ("what shape is the {c} object?", "what is the shape of the {c} object?"),
    "horizontal": ("is the {c} object on the left or on the right?", "is the {c} thing on the left or the right side?"),
    "vertical": ("is the {c} object at the top or at the bottom?", "is the {c} thing in the top or the bottom half?"),
    "closest": ("what shape is the object closest to the {c} object?",
                "what is the shape of the object nearest to the {c} one?"),
    "furthest": ("what shape is the object furthest from the {c} object?",
                 "what is the shape of the object farthest from the {c} one?"),
    "count": ("how many objects have the same shape as the {c} object?",
              "how many things are the same shape as the {c} one?"),
}  # fmt: skip
PER_KIND = 2  # questions of each type per scene
COUNTS = {"train": 4000, "valid": 200, "test": 500}  # scenes
SEED = 2017

#: one object: {"colour", "shape", "x", "y"} (centre, pixels)
Object = dict


def random_objects(rng: random.Random) -> list[Object]:
    """One object of each colour, a random shape each, centres at least 2 sides apart (no overlap)."""
    objects: list[Object] = []
    for colour in COLOURS:
        while True:
            x, y = rng.randint(HALF, CANVAS - HALF - 1), rng.randint(HALF, CANVAS - HALF - 1)
            if all(math.dist((x, y), (o["x"], o["y"])) > 3 * HALF for o in objects):
                break
        objects.append({"colour": colour, "shape": rng.choice(SHAPES), "x": x, "y": y})
    return objects


def draw(objects: list[Object]) -> np.ndarray:
    """uint8 (64, 64, 3): the objects on white."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (CANVAS, CANVAS), "white")
    pen = ImageDraw.Draw(image)
    for o in objects:
        corners = (o["x"] - HALF, o["y"] - HALF, o["x"] + HALF, o["y"] + HALF)
        (pen.ellipse if o["shape"] == "circle" else pen.rectangle)(corners, fill=COLOURS[o["colour"]])
    return np.asarray(image, dtype=np.uint8).copy()


def answer(objects: list[Object], kind: str, colour: str) -> str:
    """The answer to a question of type `kind` about the object of `colour` (see the module docstring)."""
    target = next(o for o in objects if o["colour"] == colour)
    others = [o for o in objects if o is not target]
    if kind == "shape":
        return target["shape"]
    if kind == "horizontal":
        return "left" if target["x"] < CANVAS / 2 else "right"
    if kind == "vertical":
        return "top" if target["y"] < CANVAS / 2 else "bottom"
    distance = lambda o: math.dist((o["x"], o["y"]), (target["x"], target["y"]))  # noqa: E731
    if kind == "closest":
        return min(others, key=distance)["shape"]
    if kind == "furthest":
        return max(others, key=distance)["shape"]
    if kind == "count":
        return str(sum(o["shape"] == target["shape"] for o in objects))
    raise ValueError(f"unknown question type {kind!r}")


def scene_questions(objects: list[Object], rng: random.Random) -> list[dict]:
    """PER_KIND questions of each type: {"text", "answer", "type", "colour"}."""
    out = []
    for kind in KINDS:
        for colour in rng.sample(list(COLOURS), PER_KIND):
            text = rng.choice(WORDINGS[kind]).format(c=colour)
            out.append({"text": text, "answer": answer(objects, kind, colour), "type": kind, "colour": colour})
    return out


def box_of(objects: list[Object], colour: str) -> tuple[float, float, float, float]:
    o = next(o for o in objects if o["colour"] == colour)
    return ((o["x"] - HALF) / CANVAS, (o["y"] - HALF) / CANVAS, (o["x"] + HALF + 1) / CANVAS, (o["y"] + HALF + 1) / CANVAS)


def to_split(scenes: list[dict]) -> VQASplit:
    """The drawn images and the questions of cached scenes."""
    images = np.stack([draw(scene["objects"]) for scene in scenes]) if scenes else np.zeros((0, CANVAS, CANVAS, 3), np.uint8)
    questions = [Question(row, q["text"], q["answer"], q["type"],
                          "relational" if q["type"] in RELATIONAL else "non-relational",
                          box_of(scene["objects"], q["colour"]), f"sort-of-clevr scene {row + 1}")
                 for row, scene in enumerate(scenes) for q in scene["questions"]]  # fmt: skip
    return VQASplit(images, questions)


def _generate(entry: DatasetEntry, out: Path, seed: int) -> tuple[str, dict[str, int]]:
    rng = random.Random(seed)
    sizes = {}
    for split in entry.splits:
        scenes = []
        for _ in range(COUNTS[split]):
            objects = random_objects(rng)
            scenes.append({"objects": objects, "questions": scene_questions(objects, rng)})
        (out / f"{split}.json").write_text(json.dumps(scenes) + "\n", encoding="utf-8")
        sizes[split] = len(scenes) * len(KINDS) * PER_KIND
    return f"6 objects per scene, {len(KINDS) * PER_KIND} questions per scene (half relational)", sizes


def _load(entry: DatasetEntry, directory: Path | None) -> dict[str, VQASplit]:
    assert directory is not None
    return {split: to_split(json.loads((directory / f"{split}.json").read_text(encoding="utf-8")))
            for split in entry.splits}  # fmt: skip


register_dataset(DatasetEntry(
    name="sort-of-clevr",
    kind="images",
    description="Sort-of-CLEVR (Santoro et al. 2017): 6 coloured shapes, relational and non-relational questions",
    source=Source("generated", "rnnlab.data.vqa_clevr", seed=SEED),
    licence="CC0 (generated here)",
    fetch=_generate,
    load=_load,
    unit="questions",
    sizes={split: n * len(KINDS) * PER_KIND for split, n in COUNTS.items()},
))  # fmt: skip
