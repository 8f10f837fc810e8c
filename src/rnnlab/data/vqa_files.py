"""Visual question answering data: questions about images, in one shape for every source (the generated
emoji scenes, generated Sort-of-CLEVR, a user's own files), and the reader of a user's JSON-lines file.

    split = read_vqa_file("questions.jsonl", size=64)    # VQASplit: images uint8 (N, 64, 64, 3) + questions
    split.questions[0]                                   # Question(image=0, text="how many cats?", answer="2", ...)
    question_tokens("How many cats?")                    # ["how", "many", "cats"]

A `VQASplit` keeps each image once (`images`, uint8 (N, H, W, 3)) and its questions point at them by row
(`Question.image`), so a scene asked twelve questions is stored and encoded once. A question carries its type
(`kind`: "count", "relation", ... what `rnnlab eval` reports accuracy by), the group of its type (`group`:
"relational" / "non-relational" for Sort-of-CLEVR, the type itself elsewhere) and, when it names one object,
that object's box (`box`: x0, y0, x1, y1 as fractions of the image's width and height), which is how the
attention's top cell is scored against the object the question names.

A user's file (`data.dataset: files`) is UTF-8 JSON lines, one object per line:
`{"image": "pictures/cat.png", "question": "what animal is this?", "answer": "cat"}`, with optional
`"type"` (default "all") and `"box"` ([x0, y0, x1, y1] fractions). Image paths are relative to the file's
folder; blank lines and lines starting with `#` are skipped; each image is read once (`read_image`: any
Pillow format, RGB on white, padded to a square and resized); every error names the file and line.
Questions are tokenised like English captions (`caption_tokens`: lower-cased words, punctuation dropped).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnlab.data.caption_images import caption_tokens, read_image
from rnnlab.errors import DataError
from rnnlab.files import read_user_text

__all__ = ["Box", "MAX_QUESTIONS", "Question", "VQASplit", "question_tokens", "read_vqa_file"]

MAX_QUESTIONS = 1_000_000  # in one JSON-lines file
Box = tuple[float, float, float, float]


@dataclass
class Question:
    """One question about image row `image` of its split; `where` names its origin for messages."""

    image: int
    text: str
    answer: str
    kind: str = "all"
    group: str = "all"
    box: Box | None = None
    where: str = ""


@dataclass
class VQASplit:
    """Images uint8 (N, H, W, 3) and the questions about them (each pointing at a row)."""

    images: np.ndarray
    questions: list[Question] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.questions)

    def subset(self, indices: Sequence[int]) -> VQASplit:
        """The questions at `indices` (the images are shared, not copied)."""
        return VQASplit(self.images, [self.questions[i] for i in indices])


def question_tokens(text: str) -> list[str]:
    """Lower-cased words without punctuation (the caption task's English tokens)."""
    return caption_tokens(text, "en")


def _box(value, where: str) -> Box | None:
    if value is None:
        return None
    if (not isinstance(value, list) or len(value) != 4
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value)):  # fmt: skip
        raise DataError(f"{where}: \"box\" must be [x0, y0, x1, y1] (fractions of the image), got {value!r}")
    x0, y0, x1, y1 = (float(x) for x in value)
    if not (0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1):
        raise DataError(f"{where}: \"box\" must have 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1, got {value!r}")
    return (x0, y0, x1, y1)


def read_vqa_file(path: str | Path, size: int, max_images: int = 100_000) -> VQASplit:
    """The questions of a JSON-lines file and their images (each read once, resized to `size`)."""
    path = Path(path)
    text = read_user_text(path, "question file", "a JSON-lines file of questions")
    rows: dict[str, int] = {}
    images: list[np.ndarray] = []
    questions: list[Question] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{where}: not a JSON object ({error.msg} at column {error.colno})") from None
        if not isinstance(record, dict):
            raise DataError(f"{where}: expected a JSON object {{\"image\", \"question\", \"answer\"}}, "
                            f"got {type(record).__name__}")  # fmt: skip
        missing = [key for key in ("image", "question", "answer") if key not in record]
        if missing:
            raise DataError(f"{where}: missing {', '.join(repr(k) for k in missing)} (expected \"image\", "
                            "\"question\" and \"answer\")")  # fmt: skip
        for key in ("image", "question", "answer", "type"):
            if key in record and not isinstance(record[key], str):
                raise DataError(f"{where}: \"{key}\" must be a string, got {record[key]!r}")
        name, question, answer = record["image"].strip(), record["question"].strip(), record["answer"].strip()
        if not name:
            raise DataError(f"{where}: the image path is empty")
        if not question_tokens(question):
            raise DataError(f"{where}: the question is empty (no word)")
        if not answer:
            raise DataError(f"{where}: the answer is empty")
        image_path = (path.parent / name).resolve()
        key = str(image_path)
        if key not in rows:
            if len(rows) >= max_images:
                raise DataError(f"{where}: more than {max_images:,} images in one question file")
            if not image_path.is_file():
                raise DataError(f"{where}: image {name!r} not found (looked for {image_path})")
            rows[key] = len(images)
            images.append(read_image(image_path, size, f"{where}: {name}"))
        if len(questions) >= MAX_QUESTIONS:
            raise DataError(f"{where}: more than {MAX_QUESTIONS:,} questions in one file")
        kind = (record.get("type") or "all").strip() or "all"
        questions.append(Question(rows[key], question, answer.lower(), kind, kind, _box(record.get("box"), where),
                                  where))  # fmt: skip
    if not questions:
        raise DataError(f"{path}: no questions (expected JSON lines {{\"image\", \"question\", \"answer\"}})")
    return VQASplit(np.stack(images), questions)
