"""The `vqa` task: answer a question about an image, with a CNN over the image, an LSTM over the question
and a head that combines them (`rnnlab.nn.vqa`: question-only and image-only baselines, concatenation,
element-wise product, stacked attention, a relation network); answers are classes.

    image (3, 64, 64) --ImageEncoder--> 4x4 grid of 64-d features (+ coordinates)  \
                                                                                    head --> answer scores
    "how many animals are there?" --embedding, LSTM--> question vector             /

Data (`data.dataset`): `emoji-scenes` (`rnnlab.data.vqa_scenes`: 2-6 emoji on a canvas, template questions
of five types with answers balanced per type), `sort-of-clevr` (`rnnlab.data.vqa_clevr`: Santoro et al.'s
six coloured shapes, relational and non-relational questions), or `files`: your own JSON lines of
`{"image", "question", "answer"}` (`rnnlab.data.vqa_files.read_vqa_file`).

Training: cross-entropy over the answers seen in training (plus, `model.attention_supervision` w > 0, w times
the loss of the first attention hop's weight off the named object's box), shuffled questions (or, `batch_by_image: true`,
the questions of whole images, each image encoded once per batch); the validation score is accuracy. Two modules:
this one (config, what the Trainer trains, the descriptor) and `rnnlab.tasks.vqa_model` (the loaded model,
`rnnlab eval`, the `ask` verb). docs/vqa.md has the commands and the results.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from rnnlab.config import FILES, config_to_dict, data_source, require
from rnnlab.data.vocab import PAD_ID, Vocabulary
from rnnlab.data.vqa_files import VQASplit, question_tokens, read_vqa_file
from rnnlab.errors import ConfigError, DataError
from rnnlab.nn.vqa import VQAModel, VQAModelConfig, attention_supervision_loss
from rnnlab.tasks.registry import TaskDescriptor, register_task
from rnnlab.tasks.vqa_model import ASK_VERB, VisualQA, evaluate, format_evaluation, load_vqa
from rnnlab.train import EpochBatches, StepOutput, TrainerConfig, TrainSetup, TrainTask

# Registering the built-in VQA datasets (importing this task module is what makes them known).
import rnnlab.data.vqa_clevr  # noqa: F401  isort: skip
import rnnlab.data.vqa_scenes  # noqa: F401  isort: skip

__all__ = ["DESCRIPTOR", "VQAConfig", "VQADataConfig", "VQATask", "build", "load_splits"]

TASK = "vqa"
METRICS = ("accuracy", "loss")


# ------------------------------------------------------------------------------------------------ config
@dataclass
class VQADataConfig:
    dataset: str | None = "emoji-scenes"  # emoji-scenes, sort-of-clevr (generated), or "files" for the files below
    train: str | None = None  # JSON lines {"image", "question", "answer"} (files only); images relative to it
    valid: str | None = None  # none: every 10th training question is held out (at least one)
    test: str | None = None
    image_size: int = 64  # images are padded to a square and resized to image_size x image_size
    max_question_tokens: int = 30  # longer questions are cut
    min_freq: int = 1  # vocabulary: words seen fewer times in training become <unk>
    max_vocab: int | None = None  # vocabulary size limit (specials included)
    max_train: int | None = None  # keep at most this many training questions (spread evenly)

    def __post_init__(self) -> None:
        self.dataset = data_source(self, {"train": None, "valid": None, "test": None}, files=FILES)
        require(8 <= self.image_size <= 512, "image_size", "an integer from 8 to 512 (pixels)", self.image_size)
        require(1 <= self.max_question_tokens <= 200, "max_question_tokens", "an integer from 1 to 200",
                self.max_question_tokens)  # fmt: skip
        require(self.min_freq >= 1, "min_freq", ">= 1", self.min_freq)
        require(self.max_vocab is None or self.max_vocab >= 5, "max_vocab", ">= 5 (4 specials and a word) or null",
                self.max_vocab)  # fmt: skip
        require(self.max_train is None or self.max_train >= 1, "max_train", ">= 1 or null", self.max_train)


@dataclass
class VQAConfig:
    data: VQADataConfig = field(default_factory=VQADataConfig)
    model: VQAModelConfig = field(default_factory=VQAModelConfig)
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(metric="accuracy", mode="max", max_epochs=20))
    batch_size: int = 64  # questions per step
    batch_by_image: bool = False  # true: a batch holds whole images' questions, each image encoded once (a
    # CPU's speed-up for Sort-of-CLEVR's 12 questions per scene, but the CNN sees fewer images per step)
    eval_batch_size: int = 256
    output_dir: str = "runs/vqa"

    def __post_init__(self) -> None:
        require(1 <= self.batch_size <= 4096, "batch_size", "an integer from 1 to 4096", self.batch_size)
        require(1 <= self.eval_batch_size <= 4096, "eval_batch_size", "an integer from 1 to 4096", self.eval_batch_size)
        require(self.trainer.metric in METRICS, "trainer.metric", " / ".join(METRICS), self.trainer.metric)
        mode = "min" if self.trainer.metric == "loss" else "max"
        require(self.trainer.mode == mode, "trainer.mode", f"{mode} for trainer.metric {self.trainer.metric}",
                self.trainer.mode)  # fmt: skip


# -------------------------------------------------------------------------------------------------- data
def load_splits(data: VQADataConfig) -> dict[str, VQASplit]:
    """train / valid / test questions with their images: a built-in dataset's or the configured files'
    (no valid file: every 10th training question, at least one, is held out)."""
    if data.dataset != FILES:
        from rnnlab.data.caption_images import prepare_image
        from rnnlab.data.registry import get_dataset, load_dataset

        splits = load_dataset(get_dataset(data.dataset, kind="images").name)
        if not isinstance(splits, dict) or not all(isinstance(s, VQASplit) for s in splits.values()):
            raise DataError(f"dataset {data.dataset!r} holds no questions about images (try emoji-scenes or sort-of-clevr)")
        if splits["train"].images.shape[1] != data.image_size:  # resized as a user's images are
            from PIL import Image

            splits = {name: VQASplit(_stack([prepare_image(Image.fromarray(x), data.image_size, f"{data.dataset} image")
                                             for x in split.images], data.image_size), split.questions)
                      for name, split in splits.items()}  # fmt: skip
    else:
        if not data.train:
            raise ConfigError("data: expected data.dataset or data.train (a JSON-lines question file), got neither")
        splits = {"train": read_vqa_file(data.train, data.image_size)}
        for name in ("valid", "test"):
            path = getattr(data, name)
            splits[name] = read_vqa_file(path, data.image_size) if path else VQASplit(splits["train"].images[:0])
        if not splits["valid"].questions and len(splits["train"]) >= 2:
            train = splits["train"]
            held = set(range(9, len(train), 10)) or {len(train) - 1}
            splits["valid"] = train.subset(sorted(held))
            splits["train"] = train.subset([i for i in range(len(train)) if i not in held])
    if data.max_train and data.max_train < len(splits["train"]):
        splits["train"] = _evenly(splits["train"], data.max_train)
    return splits


def _evenly(split: VQASplit, count: int) -> VQASplit:
    """`count` questions: all the questions of images spread evenly over the split, cut to `count`."""
    by_image: dict[int, list[int]] = {}
    for index, question in enumerate(split.questions):
        by_image.setdefault(question.image, []).append(index)
    images = sorted(by_image)
    wanted = min(len(images), -(-count * len(images) // len(split)))  # ceil: images holding `count` questions
    chosen = [i for k in range(wanted) for i in by_image[images[k * len(images) // wanted]]]
    return split.subset(sorted(chosen)[:count])


def _stack(images: list, size: int):
    import numpy as np

    return np.stack(images) if images else np.zeros((0, size, size, 3), np.uint8)


# ---------------------------------------------------------------------------------------------- training
class VQATask(TrainTask):
    """Batches of whole images' questions in a seeded order; cross-entropy; accuracy on valid."""

    def __init__(self, config: VQAConfig, vqa: VisualQA, splits: dict[str, VQASplit]) -> None:
        self.config, self.vqa, self.splits = config, vqa, splits
        self.by_image: dict[int, list[int]] = {}
        for index, question in enumerate(splits["train"].questions):
            self.by_image.setdefault(question.image, []).append(index)

    def train_batches(self, epoch: int):
        rng, size = random.Random(self.config.trainer.seed * 1_000_003 + epoch), self.config.batch_size
        if not self.config.batch_by_image:
            order = list(range(len(self.splits["train"])))
            rng.shuffle(order)
            batches = [order[i : i + size] for i in range(0, len(order), size)]
        else:
            images = sorted(self.by_image)
            rng.shuffle(images)
            batches, batch = [], []
            for image in images:
                batch += self.by_image[image]
                if len(batch) >= size:
                    batches.append(batch)
                    batch = []
            if batch:
                batches.append(batch)
        return EpochBatches(batches, make=lambda indices: self.vqa.encode(self.splits["train"], indices))

    def train_step(self, model: torch.nn.Module, batch) -> StepOutput:
        images, image_index, ids, mask, answers, cells = batch
        logits, attention = model(images, image_index, ids, mask)
        loss = F.cross_entropy(logits.float(), answers, ignore_index=-100)
        metrics = {"accuracy": float((logits.argmax(-1) == answers).float().mean())}
        weight = self.config.model.attention_supervision
        if weight > 0:  # hop 1 towards the named object's cells (rnnlab.nn.vqa.attention_supervision_loss)
            supervision = attention_supervision_loss(attention[:, 0], cells)  # None: no question with a box
            if supervision is not None:
                loss = loss + weight * supervision
            # logged every step (0 without a box), so that the key set is the same on every step and rank
            metrics["attention_loss"] = float(supervision.detach()) if supervision is not None else 0.0
        return StepOutput(loss, num_tokens=len(answers), metrics=metrics)

    def evaluate(self) -> dict[str, float]:
        result = self.vqa.evaluate(self.splits["valid"], self.config.eval_batch_size)
        self.vqa.model.train()
        return {"accuracy": result["accuracy"], "loss": result["loss"]}

    def checkpoint_config(self) -> dict:
        return {"task": TASK, "config": config_to_dict(self.config)}

    def checkpoint_files(self) -> dict[str, str]:
        return {"vocab.json": json.dumps({"tokens": self.vqa.vocab.tokens}, ensure_ascii=False),
                "answers.json": json.dumps({"answers": self.vqa.answers}, ensure_ascii=False)}  # fmt: skip


def build(config: VQAConfig) -> TrainSetup:
    """The task and model of `config` for the shared Trainer (best/ by validation accuracy)."""
    splits = load_splits(config.data)
    train = splits["train"]
    if not train.questions or not splits["valid"].questions:
        raise DataError("vqa: expected non-empty train and valid questions (a question file of 2+ lines)")
    limit = config.data.max_question_tokens
    vocab = Vocabulary.build((question_tokens(q.text)[:limit] for q in train.questions), config.data.min_freq,
                             config.data.max_vocab)  # fmt: skip
    counts = Counter(q.answer for q in train.questions)
    answers = sorted(counts, key=lambda a: (-counts[a], a))  # most frequent first, then by name
    torch.manual_seed(config.trainer.seed)
    model = VQAModel(config.model, len(vocab), len(answers), config.data.image_size, PAD_ID)
    vqa = VisualQA(model, vocab, answers, config)
    task = VQATask(config, vqa, splits)
    parameters = sum(p.numel() for p in model.parameters())
    banner = (f"rnnlab: vqa: {len(train):,} training questions about {len(task.by_image):,} images, "
              f"{len(vocab):,} words, {len(answers):,} answers, {model.grid[0]}x{model.grid[1]} grid, "
              f"head {config.model.head}, {parameters:,} parameters")  # fmt: skip
    model.train()
    return TrainSetup(task=task, model=model, banner=banner)


DESCRIPTOR = register_task(TaskDescriptor(
    name=TASK,
    summary="visual question answering: a CNN, an LSTM question encoder and attention or a relation network",
    docs="docs/vqa.md",
    config_class=VQAConfig,
    build=build,
    load=load_vqa,
    evaluate=evaluate,
    format_eval=format_evaluation,
    verbs=(ASK_VERB,),
))  # fmt: skip
