"""Scenes of real images for visual question answering, generated and registered as `emoji-scenes`: 2-6
emoji (the captioning task's Google art, `rnnlab.data.emoji_captions`) on a 64x64 white canvas cut into a 3x3
grid, one emoji per cell, and one template question per scene, with answers balanced per question type.

    existence   is there a pig?  / do you see a ...?  / can you see a ... in the picture?      yes / no
    count       how many animals are there?  / count the ...  / what is the number of ...?         0 .. 4
    category    what is in the top left corner?  / what kind of thing is at the ...?                 face, animal, ...
    relation    what is to the left of the tiger face?  / what is just below the ...?                    face, animal, ...
    comparison  are there more faces than fruits?  / do the ... outnumber the ...?                  yes / no

The pool: 40 emoji, 8 of each of five categories read from emojibase's sub-categories (face: face-*,
animal: animal-*, fruit: food-fruit, vehicle: transport-ground / -air / -water, plant: plant-*), spread
evenly over each sub-category list; an emoji is named by its emojibase label ("tiger face", "pig").
Each scene is made for its question: the type is drawn uniformly, then the answer uniformly from the
type's answers, then a scene with that answer (e.g. for "how many animals" = 3: three animal emoji and 0-3
emoji of other categories, at random cells), so no answer prior does better than chance within a type
(question-only accuracy: 50% on yes/no types, 20% on the others). "What is to the left of X" is the
object in the next cell on that side of X; "more A than B" is "no" when the counts are equal. Emoji in
one scene are distinct. The object a question names (the emoji of existence "yes" and relation questions,
the cell's object of category questions) is kept as its box; counting and comparison name none.

Splits: 20,000 / 1,000 / 2,000 questions (one scene each). The cache holds the scenes as JSON; `load` pastes
the emoji (20 px, resized once from the fetched 64 px art) into the images, well under a second.
English only: the templates' Chinese would need measure words per category (not done).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np

from rnnlab.data.registry import DatasetEntry, Source, register_dataset
from rnnlab.data.vqa_files import Question, VQASplit

__all__ = ["CATEGORIES", "KINDS", "Pool", "load_pool", "make_scene", "render"]

CATEGORIES = {  # the answer word -> emojibase sub-categories (prefixes)
    "face": ("face-",), "animal": ("animal-",), "fruit": ("food-fruit",),
    "vehicle": ("transport-ground", "transport-air", "transport-water"), "plant": ("plant-",),
}  # fmt: skip
PLURAL = {"face": "faces", "animal": "animals", "fruit": "fruits", "vehicle": "vehicles", "plant": "plants"}
PER_CATEGORY = 8
KINDS = ("existence", "count", "category", "relation", "comparison")
CANVAS, GRID, SIDE = 64, 3, 20  # pixels: canvas, cells per side, an emoji's side
CELL = CANVAS / GRID
PLACES = ("top left corner", "top middle", "top right corner", "middle left", "centre", "middle right",
          "bottom left corner", "bottom middle", "bottom right corner")  # fmt: skip
DIRECTIONS = {"left": (0, -1), "right": (0, 1), "above": (-1, 0), "below": (1, 0)}  # (row, column) steps
WORDINGS = {
    "existence": ("is there a {x}?", "do you see a {x}?", "can you see a {x} in the picture?", "is there a {x} here?"),
    "count": ("how many {xs} are there?", "how many {xs} can you see?", "count the {xs}",
              "what is the number of {xs} in the picture?"),
    "category": ("what is in the {p}?", "what kind of thing is in the {p}?", "what is the thing in the {p}?"),
    "relation": ("what is {d} the {x}?", "what kind of thing is {d} the {x}?", "what is just {d} the {x}?"),
    "comparison": ("are there more {xs} than {ys}?", "do the {xs} outnumber the {ys}?",
                   "is the number of {xs} bigger than the number of {ys}?"),
}  # fmt: skip
DIRECTION_WORDS = {"left": "to the left of", "right": "to the right of", "above": "above", "below": "below"}
COUNTS = {"train": 20_000, "valid": 1_000, "test": 2_000}
SEED = 2016


class Pool:
    """The 40 emoji: names, categories, and their pictures (uint8 (40, SIDE, SIDE, 3), on white)."""

    def __init__(self, names: list[str], categories: list[str], pictures: np.ndarray) -> None:
        self.names, self.categories, self.pictures = names, categories, pictures
        self.by_category = {c: [i for i, x in enumerate(categories) if x == c] for c in CATEGORIES}


def pool_records(records: list[dict]) -> list[tuple[int, str, str]]:
    """(row in the emoji cache, name, category) of the pool: PER_CATEGORY per category, spread evenly."""
    out = []
    for category, prefixes in CATEGORIES.items():
        rows = [i for i, r in enumerate(records) if r["subcategory"].startswith(prefixes) and r["references"]["en"]]
        chosen = [rows[k * len(rows) // PER_CATEGORY] for k in range(PER_CATEGORY)]
        out += [(i, records[i]["references"]["en"][0], category) for i in chosen]
    return out


def load_pool() -> Pool:
    """The pool from the fetched `emoji` dataset (fetched first if needed)."""
    from PIL import Image

    from rnnlab.data.caption_images import prepare_image
    from rnnlab.data.registry import load_dataset

    emoji = load_dataset("emoji")
    chosen = pool_records(emoji.records)
    pictures = np.stack([prepare_image(Image.fromarray(emoji.images["google"][row]), SIDE, f"emoji {name}")
                         for row, name, _ in chosen])  # fmt: skip
    return Pool([name for _, name, _ in chosen], [category for _, _, category in chosen], pictures)


# ------------------------------------------------------------------------------------------------ scenes
def make_scene(rng: random.Random, kind: str, names: list[str], pool_categories: list[str]) -> dict:
    """One scene made for one question of type `kind` about the pool (`names`, `pool_categories` per emoji):
    {"objects": [{"emoji", "cell", "dx", "dy"}], "question", "answer", "type", "target" (the index in
    objects of the object the question names, or None)}."""
    by_category = {c: [i for i, x in enumerate(pool_categories) if x == c] for c in CATEGORIES}
    objects: list[dict] = []

    def used() -> set[int]:
        return {o["emoji"] for o in objects}

    def place(emoji: int, cell: int | None = None) -> int:
        free = sorted(set(range(GRID * GRID)) - {o["cell"] for o in objects})
        objects.append({"emoji": emoji, "cell": rng.choice(free) if cell is None else cell,
                        "dx": rng.randint(0, int(CELL) - SIDE), "dy": rng.randint(0, int(CELL) - SIDE)})  # fmt: skip
        return len(objects) - 1

    def pick(categories) -> int:
        return rng.choice([i for c in categories for i in by_category[c] if i not in used()])

    def fill(total: int, categories=tuple(CATEGORIES), avoid: int | None = None) -> None:
        while len(objects) < total:
            choice = pick(categories)
            if choice != avoid:
                place(choice)

    target, total = None, rng.randint(2, 6)
    if kind == "existence":
        named = rng.randrange(len(pool_categories))
        answer = rng.choice(("yes", "no"))
        if answer == "yes":
            target = place(named)
        fill(total, avoid=named)
        text = rng.choice(WORDINGS[kind]).format(x=names[named])
    elif kind == "count":
        category, count = rng.choice(list(CATEGORIES)), rng.randint(0, 4)
        for _ in range(count):
            place(pick([category]))
        fill(max(total, count, 2), [c for c in CATEGORIES if c != category])
        answer = str(count)
        text = rng.choice(WORDINGS[kind]).format(xs=PLURAL[category])
    elif kind == "category":
        answer, cell = rng.choice(list(CATEGORIES)), rng.randrange(GRID * GRID)
        target = place(pick([answer]), cell)
        fill(total)
        text = rng.choice(WORDINGS[kind]).format(p=PLACES[cell])
    elif kind == "relation":
        direction, answer = rng.choice(list(DIRECTIONS)), rng.choice(list(CATEGORIES))
        step_row, step_column = DIRECTIONS[direction]
        cells = [(r, c) for r in range(GRID) for c in range(GRID) if 0 <= r + step_row < GRID and 0 <= c + step_column < GRID]
        row, column = rng.choice(cells)
        named = rng.randrange(len(pool_categories))
        target = place(named, row * GRID + column)
        place(pick([answer]), (row + step_row) * GRID + column + step_column)
        fill(total)
        text = rng.choice(WORDINGS[kind]).format(d=DIRECTION_WORDS[direction], x=names[named])
    elif kind == "comparison":
        first, second = rng.sample(list(CATEGORIES), 2)
        answer = rng.choice(("yes", "no"))
        pairs = [(a, b) for a in range(5) for b in range(5) if a + b <= 6 and (a > b) == (answer == "yes")]
        many, few = rng.choice(pairs)
        for category, count in ((first, many), (second, few)):
            for _ in range(count):
                place(pick([category]))
        fill(max(total, many + few, 2), [c for c in CATEGORIES if c not in (first, second)])
        text = rng.choice(WORDINGS[kind]).format(xs=PLURAL[first], ys=PLURAL[second])
    else:
        raise ValueError(f"unknown question type {kind!r}")
    return {"objects": objects, "question": text, "answer": answer, "type": kind, "target": target}


def object_box(obj: dict) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of an object, as fractions of the canvas."""
    row, column = divmod(obj["cell"], GRID)
    x, y = int(column * CELL) + obj["dx"], int(row * CELL) + obj["dy"]
    return (x / CANVAS, y / CANVAS, (x + SIDE) / CANVAS, (y + SIDE) / CANVAS)


def render(objects: list[dict], pictures: np.ndarray) -> np.ndarray:
    """uint8 (64, 64, 3): the pool's pictures pasted on white at their cells."""
    image = np.full((CANVAS, CANVAS, 3), 255, dtype=np.uint8)
    for obj in objects:
        x0, y0, _, _ = object_box(obj)
        x, y = round(x0 * CANVAS), round(y0 * CANVAS)
        image[y : y + SIDE, x : x + SIDE] = pictures[obj["emoji"]]
    return image


def to_split(scenes: list[dict], pool: Pool) -> VQASplit:
    images = np.stack([render(s["objects"], pool.pictures) for s in scenes]) if scenes else np.zeros((0, CANVAS, CANVAS, 3), np.uint8)
    questions = [Question(row, s["question"], s["answer"], s["type"], s["type"],
                          None if s["target"] is None else object_box(s["objects"][s["target"]]),
                          f"emoji-scenes scene {row + 1}") for row, s in enumerate(scenes)]  # fmt: skip
    return VQASplit(images, questions)


def _generate(entry: DatasetEntry, out: Path, seed: int) -> tuple[str, dict[str, int]]:
    from rnnlab.data.registry import load_dataset

    chosen = pool_records(load_dataset("emoji").records)
    names, categories = [name for _, name, _ in chosen], [category for _, _, category in chosen]
    rng = random.Random(seed)
    sizes = {}
    for split in entry.splits:
        scenes = [make_scene(rng, rng.choice(KINDS), names, categories) for _ in range(COUNTS[split])]
        (out / f"{split}.json").write_text(json.dumps(scenes) + "\n", encoding="utf-8")
        sizes[split] = len(scenes)
    (out / "pool.json").write_text(json.dumps([{"name": n, "category": c} for _, n, c in chosen]) + "\n",
                                   encoding="utf-8")  # fmt: skip
    return f"2-6 of {len(chosen)} emoji per scene, one question each, {len(KINDS)} types, answers balanced per type", sizes


def _load(entry: DatasetEntry, directory: Path | None) -> dict[str, VQASplit]:
    assert directory is not None
    pool = load_pool()
    return {split: to_split(json.loads((directory / f"{split}.json").read_text(encoding="utf-8")), pool)
            for split in entry.splits}  # fmt: skip


register_dataset(DatasetEntry(
    name="emoji-scenes",
    kind="images",
    description="scenes of 2-6 emoji with template questions (existence, count, category, relation, comparison)",
    source=Source("generated", "rnnlab.data.vqa_scenes", seed=SEED, note="pastes the fetched `emoji` images"),
    licence="questions CC0 (generated here); images as the `emoji` dataset (Apache-2.0, Google Noto)",
    attribution="Google Noto Emoji; emoji-datasource by iamcal; emojibase",
    fetch=_generate,
    load=_load,
    unit="questions",
    sizes=COUNTS,
))  # fmt: skip
