"""A trained visual question answering model, loaded (`VisualQA`, `load_vqa`), and what it is used for:
`rnnlab eval` (accuracy per question type and group, a confusion table, where the attention looks) and the
`ask` verb (image files + `--question` -> the answer, the top-k answers with probabilities, and with
`--attention` one PNG per image showing each attention hop).

    vqa = load_vqa("runs/vqa-sort-of-clevr")                    # a run directory: uses best/
    rnnlab ask runs/vqa-emoji-scenes scene.png --question "how many animals are there?" [--top-k 3] [--json]

The training side is `rnnlab.tasks.vqa`. A model directory holds config.json (`"task": "vqa"`, the whole
VQAConfig), vocab.json (question words), answers.json (the answer classes) and the weights.

Attention on target (attention head): for each question whose named object has a box, whether the grid cell
with the largest weight (per hop) overlaps the box (cell (r, c) of an h x w grid covers [c/w, (c+1)/w] x
[r/h, (r+1)/h] of the image); `chance` is the mean share of cells that overlap the box (what a uniformly
random cell would score). `box_cells` is the same overlap for many boxes at once: the cell masks that
attention supervision (`model.attention_supervision`) trains hop 1 towards.
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from rnnlab.config import config_from_dict
from rnnlab.data.caption_images import images_to_tensor, read_image
from rnnlab.data.vocab import PAD_ID, UNK_ID, Vocabulary
from rnnlab.data.vqa_files import Box, VQASplit, question_tokens
from rnnlab.errors import CheckpointError, ConfigError, DataError
from rnnlab.nn.vqa import VQAModel
from rnnlab.tasks.registry import EvalRequest
from rnnlab.train import load_model_dir, load_model_weights
from rnnlab.validation import unknown_note
from rnnlab.verbs import Artifact, Verb

if TYPE_CHECKING:
    from rnnlab.tasks.vqa import VQAConfig

__all__ = ["ASK_VERB", "AskOptions", "VisualQA", "box_cells", "evaluate", "format_evaluation", "load_vqa", "on_target"]

TASK = "vqa"
MAX_QUESTION_CHARS = 2000  # a question longer than this is refused (not a question)


def on_target(cell: int, grid: tuple[int, int], box: Box) -> bool:
    """Whether grid cell `cell` (row-major) of an (h, w) grid overlaps `box` (fractions x0, y0, x1, y1)."""
    row, column = divmod(cell, grid[1])
    x0, y0, x1, y1 = box
    return column / grid[1] < x1 and (column + 1) / grid[1] > x0 and row / grid[0] < y1 and (row + 1) / grid[0] > y0


def box_cells(boxes: Sequence[Box | None], grid: tuple[int, int]) -> torch.Tensor:
    """(N, h * w) bool: row i marks the cells (row-major) of an (h, w) grid that overlap boxes[i] (fractions
    x0, y0, x1, y1), exactly as `on_target` (float64, the same comparisons); a None box marks no cell."""
    h, w = grid
    boxed = [box is not None for box in boxes]
    corners = torch.tensor([box if box is not None else (0.0, 0.0, 0.0, 0.0) for box in boxes],
                           dtype=torch.float64).reshape(len(boxes), 4)  # fmt: skip
    x0, y0, x1, y1 = (corners[:, k, None] for k in range(4))  # each (N, 1)
    column = torch.arange(w, dtype=torch.float64)
    row = torch.arange(h, dtype=torch.float64)
    across = (column / w < x1) & ((column + 1) / w > x0)  # (N, w)
    down = (row / h < y1) & ((row + 1) / h > y0)  # (N, h)
    cells = (down[:, :, None] & across[:, None, :]).reshape(len(boxes), h * w)
    return cells & torch.tensor(boxed, dtype=torch.bool)[:, None]


class VisualQA:
    """A trained VQAModel with its question vocabulary, answers and config."""

    def __init__(self, model: VQAModel, vocab: Vocabulary, answers: list[str], config: VQAConfig) -> None:
        self.model, self.vocab, self.answers, self.config = model, vocab, answers, config
        self.answer_ids = {answer: i for i, answer in enumerate(answers)}

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def encode_questions(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """ids, mask (B, L): the questions' words (cut to data.max_question_tokens; unknown -> <unk>)."""
        limit = self.config.data.max_question_tokens
        encoded = [self.vocab.encode(question_tokens(text)[:limit]) or [UNK_ID] for text in texts]
        width = max(len(ids) for ids in encoded)
        ids = torch.full((len(encoded), width), PAD_ID, dtype=torch.long)
        for row, row_ids in enumerate(encoded):
            ids[row, : len(row_ids)] = torch.tensor(row_ids)
        return ids, ids != PAD_ID

    def encode(self, split: VQASplit, indices: Sequence[int]):
        """(images (M, 3, H, W), image_index (B,), ids (B, L), mask (B, L), answers (B,), cells (B, S) bool)
        of questions at `indices`: each image of the batch once; an answer not among the model's is -100
        (ignored, wrong); cells: the grid cells overlapping the box of the object each question names (none
        for a question without a box), for attention supervision."""
        questions = [split.questions[i] for i in indices]
        rows = sorted({q.image for q in questions})
        where = {row: k for k, row in enumerate(rows)}
        ids, mask = self.encode_questions([q.text for q in questions])
        answers = torch.tensor([self.answer_ids.get(q.answer, -100) for q in questions], dtype=torch.long)
        image_index = torch.tensor([where[q.image] for q in questions], dtype=torch.long)
        cells = box_cells([q.box for q in questions], tuple(self.model.grid))
        return images_to_tensor(split.images[rows]), image_index, ids, mask, answers, cells

    @torch.no_grad()
    def predict(self, split: VQASplit, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor | None, float]:
        """Answer probabilities (N, A), attention (N, hops, S) or None, and the mean loss (answers the model
        does not know are left out of the loss), in question order."""
        training = self.model.training
        self.model.eval()
        probabilities, attention, loss, counted = [], [], 0.0, 0
        for start in range(0, len(split), batch_size):
            batch = [tensor.to(self.device) for tensor in self.encode(split, range(start, min(len(split), start + batch_size)))]
            logits, weights = self.model(*batch[:4])
            known = batch[4] != -100
            if known.any():
                loss += float(F.cross_entropy(logits[known].float(), batch[4][known], reduction="sum"))
                counted += int(known.sum())
            probabilities.append(torch.softmax(logits.float(), dim=-1).cpu())
            if weights is not None:
                attention.append(weights.float().cpu())
        self.model.train(training)
        if not probabilities:
            return torch.zeros(0, len(self.answers)), None, 0.0
        return torch.cat(probabilities), torch.cat(attention) if attention else None, loss / max(1, counted)

    def evaluate(self, split: VQASplit, batch_size: int = 256) -> dict:
        """Accuracy overall, per question type and per group, the confusion table, attention on target."""
        probabilities, attention, loss = self.predict(split, batch_size)
        predicted = [self.answers[i] for i in probabilities.argmax(-1).tolist()]
        right = [p == q.answer for p, q in zip(predicted, split.questions)]
        result: dict = {"questions": len(split), "loss": loss, "accuracy": sum(right) / max(1, len(right)),
                        "unknown_answers": sum(q.answer not in self.answer_ids for q in split.questions)}  # fmt: skip
        for key, name in (("kind", "types"), ("group", "groups")):
            tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
            for q, ok in zip(split.questions, right):
                tally[getattr(q, key)][0] += ok
                tally[getattr(q, key)][1] += 1
            result[name] = {k: {"accuracy": n / total, "questions": total} for k, (n, total) in sorted(tally.items())}
        confusion: dict[str, Counter] = defaultdict(Counter)
        for p, q in zip(predicted, split.questions):
            confusion[q.answer][p] += 1
        result["confusion"] = {gold: dict(row) for gold, row in sorted(confusion.items())}
        if attention is not None:
            result["attention_on_target"] = self.attention_on_target(split, attention)
        return result

    def attention_on_target(self, split: VQASplit, attention: torch.Tensor) -> dict:
        """Per hop: the share of questions with a box whose top-attended cell overlaps it; and chance."""
        grid = tuple(self.model.grid)
        boxed = [(i, q.box) for i, q in enumerate(split.questions) if q.box is not None]
        out: dict = {"questions": len(boxed)}
        if not boxed:
            return out
        cells = box_cells([box for _, box in boxed], grid)  # (N, S): on_target of every cell
        out["chance"] = float(cells.double().mean(dim=1).mean())
        top = attention[[i for i, _ in boxed]].argmax(-1)  # (N, hops)
        for hop in range(attention.size(1)):
            out[f"hop{hop + 1}"] = float(cells.gather(1, top[:, hop : hop + 1]).double().mean())
        return out


def load_vqa(path: str | Path) -> VisualQA:
    from rnnlab.tasks.vqa import VQAConfig  # here, not at the top: that module imports this one

    checkpoint = load_model_dir(path, TASK)
    try:
        config = config_from_dict(VQAConfig, checkpoint.config["config"], source=str(checkpoint.path))
        vocab = Vocabulary(checkpoint.read_json("vocab.json")["tokens"])
        answers = list(checkpoint.read_json("answers.json")["answers"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{checkpoint.path}: config.json, vocab.json or answers.json lacks a field ({error})") from None
    model = VQAModel(config.model, len(vocab), len(answers), config.data.image_size, PAD_ID)
    load_model_weights(model, checkpoint)
    model.eval()
    return VisualQA(model, vocab, answers, config)


# ----------------------------------------------------------------------------------------------- eval
def evaluate(path: str | Path, request: EvalRequest) -> dict:
    """Scores on a split of the model's data or on a JSON-lines file of questions (`--data FILE`)."""
    from rnnlab.data.vqa_files import read_vqa_file
    from rnnlab.tasks.vqa import load_splits

    vqa = load_vqa(path)
    config = vqa.config
    if request.data_file:
        split, where = read_vqa_file(request.data_file, config.data.image_size), request.data_file
    else:
        split = request.examples_of(load_splits(config.data))
        where = f"{config.data.dataset} {request.split}"
    return {"data": where, "head": config.model.head, **vqa.evaluate(split, config.eval_batch_size)}


def format_evaluation(result: dict, max_answers: int = 12) -> str:
    lines = [f"{result['data']}: {result['questions']:,} questions, head {result['head']}, "
             f"accuracy {result['accuracy']:.3f}, loss {result['loss']:.4f}"]  # fmt: skip
    if result["unknown_answers"]:
        lines.append(f"  {result['unknown_answers']:,} questions have an answer this model never saw (counted wrong)")
    for name in ("types", "groups"):
        if name == "groups" and list(result["groups"]) == list(result["types"]):
            continue
        lines.append(f"  by {name[:-1]}:")
        lines += [f"    {k:16s} {v['accuracy']:.3f}  ({v['questions']:,})" for k, v in result[name].items()]
    target = result.get("attention_on_target")
    if target and target.get("questions"):
        hops = "  ".join(f"{k} {v:.3f}" for k, v in target.items() if k.startswith("hop"))
        lines.append(f"  attention on the named object ({target['questions']:,} questions): {hops}  "
                     f"(chance {target['chance']:.3f})")  # fmt: skip
    gold = sorted(result["confusion"], key=lambda a: -sum(result["confusion"][a].values()))[:max_answers]
    shown = sorted(gold)
    width = max(6, *(len(a) for a in shown))
    lines.append(f"  confusion (rows: right answer, columns: predicted{', the ' + str(max_answers) + ' most frequent' if len(result['confusion']) > max_answers else ''}):")
    lines.append("    " + " " * width + " " + " ".join(f"{a[:width]:>{width}s}" for a in shown))
    for answer in shown:
        row = result["confusion"][answer]
        lines.append(f"    {answer:>{width}s} " + " ".join(f"{row.get(p, 0):>{width}d}" for p in shown))
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- verb
@dataclass
class AskOptions:
    question: str = field(default="", metadata={"help": "the question to ask about each image (required)"})
    top_k: int = field(default=3, metadata={"help": "how many answers to list with their probabilities"})
    attention: bool = field(default=False, metadata={"help": "write each image's attention hops as a PNG under "
                                                             "--out (model.head: attention)"})  # fmt: skip

    def __post_init__(self) -> None:
        if len(self.question) > MAX_QUESTION_CHARS:
            raise ConfigError(f"--question: at most {MAX_QUESTION_CHARS:,} characters, got {len(self.question):,}")
        if not question_tokens(self.question):
            raise ConfigError("--question: expected a question with at least one word, got "
                              f"{self.question!r}")  # fmt: skip


def ask(vqa: VisualQA, paths: list[str], options: AskOptions) -> Iterator[dict | Artifact]:
    """The `ask` verb: per image `{"image", "question", "answer", "probability", "top", "unknown"}`; with
    `attention`, a PNG each (the image, then the image lit by each hop's weights)."""
    from rnnlab.tasks.captioner import attention_png

    if options.attention and not vqa.model.attends:
        raise ConfigError(f"--attention: this model has no attention (model.head: {vqa.config.model.head})")
    tokens = question_tokens(options.question)
    unknown = vqa.vocab.unknown(tokens)
    if len(unknown) == len(set(tokens)):
        raise DataError(f"--question: no word of {options.question!r} is known to this model "
                        f"(it knows {len(vqa.vocab) - 4:,} words, e.g. {', '.join(vqa.vocab.tokens[4:9])})")  # fmt: skip
    if unknown:
        print(f"rnnlab: {unknown_note(unknown)}", file=sys.stderr)
    size = vqa.config.data.image_size
    images = np.stack([read_image(path, size) for path in paths])  # every file checked before any output
    from rnnlab.data.vqa_files import Question

    split = VQASplit(images, [Question(row, options.question, "") for row in range(len(paths))])
    probabilities, attention, _ = vqa.predict(split)
    k = min(options.top_k, len(vqa.answers))
    for row, path in enumerate(paths):
        values, indices = probabilities[row].topk(k)
        top = [{"answer": vqa.answers[i], "probability": round(float(v), 4)} for v, i in zip(values, indices.tolist())]
        yield {"image": str(path), "question": options.question, "answer": top[0]["answer"],
               "probability": top[0]["probability"], "top": top, "unknown": unknown}  # fmt: skip
        if options.attention and attention is not None:
            hops = [f"hop {h + 1}" for h in range(attention.size(1))]
            yield Artifact("image/png", attention_png(images[row], hops, attention[row], tuple(vqa.model.grid)),
                           f"{Path(path).stem}-attention.png")  # fmt: skip


def format_answer(result: dict, options: AskOptions) -> str:
    others = ", ".join(f"{t['answer']} {t['probability']:.3f}" for t in result["top"])
    return f"{result['image']}\t{result['answer']}\t({others})"


ASK_VERB = Verb(name="ask", help="answer a question about image files (--question; --attention: where it looked)",
                options=AskOptions, run=ask, inputs="files", what="images", artifacts=True, format=format_answer,
                description="answer --question about each image file (PNG, JPEG, ...: converted to RGB on white, "
                "padded to a square and resized as in training): the answer and the --top-k answers with their "
                "probabilities; words the model does not know are named on stderr; --attention writes one PNG per "
                "image under --out with each attention hop")  # fmt: skip
