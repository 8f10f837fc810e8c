"""The `caption` task (看图说话): a sentence about an image, from a CNN encoder and an LSTM decoder with soft
attention over the image's grid of features (Show, Attend and Tell), or without (Show and Tell).

    image (3, 32, 32) --ImageEncoder--> 4x4 grid of 128-d features --mean--> h_0, c_0
        --LSTM + Bahdanau attention over the grid, word by word--> "grinning face </s>"

Data (`data.dataset`): `emoji` (`rnnlab.data.emoji_captions`: 1,911 emoji drawn in the Google and the Twitter
style, captioned with their English or Chinese names, `data.language`), split by emoji; the model trains on
`data.style` and `rnnlab eval` also scores the test emoji drawn in the other style (the held-out art style).
Or `scenes` (`rnnlab.data.scenes`, generated: 1-4 coloured shapes described by a small grammar, where
`rnnlab eval` also reports the share of captions naming every object right). Or `files`: your own
`image<TAB>caption` files (`rnnlab.data.caption_images.read_caption_file`).

Training: teacher forcing on every (image, reference) pair, cross-entropy per word plus
`attention_penalty` x Xu et al.'s doubly stochastic attention penalty per caption; the validation score is
CIDEr-D of greedy captions (`trainer.metric: cider`, or bleu4 / loss). Two modules: this one (config, what
the Trainer trains, the descriptor) and `rnnlab.tasks.captioner` (the loaded model, `rnnlab eval`, the
`caption` verb). docs/captioning.md has the commands and the results.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from rnnlab.config import FILES, config_to_dict, data_source, require
from rnnlab.data.caption_images import CaptionedImage, caption_tokens, images_to_tensor, read_caption_file
from rnnlab.data.vocab import BOS_ID, EOS_ID, PAD_ID, Vocabulary
from rnnlab.errors import ConfigError, DataError
from rnnlab.nn.captioner import Captioner, CaptionerConfig, doubly_stochastic_penalty
from rnnlab.nn.seq2seq import sequence_loss
from rnnlab.tasks.captioner import CAPTION_VERB, ImageCaptioner, evaluate, format_evaluation, load_captioner
from rnnlab.tasks.registry import TaskDescriptor, register_task
from rnnlab.train import EpochBatches, StepOutput, TrainerConfig, TrainSetup, TrainTask

# Registering the built-in caption dataset (importing this task module is what makes it known).
import rnnlab.data.emoji_captions  # noqa: F401  isort: skip
import rnnlab.data.scenes  # noqa: F401  isort: skip

__all__ = ["DESCRIPTOR", "CaptionConfig", "CaptionDataConfig", "CaptionTask", "build", "held_out_style_examples",
           "load_splits"]  # fmt: skip

TASK = "caption"
METRICS = ("cider", "bleu4", "loss")
OTHER_STYLE = {"google": "twitter", "twitter": "google"}


# ------------------------------------------------------------------------------------------------ config
@dataclass
class CaptionDataConfig:
    dataset: str | None = "emoji"  # emoji, scenes (generated), or "files" for the files below
    language: Literal["en", "zh"] = "en"  # en: words; zh: characters (tokens and scores)
    style: Literal["google", "twitter", "both"] = "google"  # emoji art trained on; eval also scores the other
    # (emoji only; the other datasets ignore it)
    train: str | None = None  # image<TAB>caption files (files only); image paths relative to the file
    valid: str | None = None  # none: every 10th training image is held out (at least one)
    test: str | None = None
    image_size: int = 32  # images are padded to a square and resized to image_size x image_size
    max_caption_tokens: int = 20  # longer reference captions are cut; the longest caption decoded (+ end)
    min_freq: int = 1  # vocabulary: words seen fewer times in training become <unk>
    max_vocab: int | None = None  # vocabulary size limit (specials included)
    max_train: int | None = None  # keep at most this many training images (spread evenly)

    def __post_init__(self) -> None:
        self.dataset = data_source(self, {"train": None, "valid": None, "test": None}, files=FILES,
                                   builtin_only={"style": "google"})  # fmt: skip
        require(8 <= self.image_size <= 512, "image_size", "an integer from 8 to 512 (pixels)", self.image_size)
        require(1 <= self.max_caption_tokens <= 200, "max_caption_tokens", "an integer from 1 to 200",
                self.max_caption_tokens)  # fmt: skip
        require(self.min_freq >= 1, "min_freq", ">= 1", self.min_freq)
        require(self.max_vocab is None or self.max_vocab >= 5, "max_vocab", ">= 5 (4 specials and a word) or null",
                self.max_vocab)  # fmt: skip
        require(self.max_train is None or self.max_train >= 1, "max_train", ">= 1 or null", self.max_train)


@dataclass
class CaptionConfig:
    data: CaptionDataConfig = field(default_factory=CaptionDataConfig)
    model: CaptionerConfig = field(default_factory=CaptionerConfig)
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(metric="cider", mode="max", max_epochs=30))
    attention_penalty: float = 1.0  # lambda of the doubly stochastic attention penalty (0: off)
    batch_size: int = 32  # (image, caption) pairs per step
    eval_batch_size: int = 128
    beam_size: int = 3  # the beam `rnnlab eval` scores next to greedy decoding (1: greedy only)
    output_dir: str = "runs/caption"

    def __post_init__(self) -> None:
        require(0 <= self.attention_penalty <= 1000, "attention_penalty", "a number in [0, 1000]",
                self.attention_penalty)  # fmt: skip
        require(1 <= self.batch_size <= 4096, "batch_size", "an integer from 1 to 4096", self.batch_size)
        require(1 <= self.eval_batch_size <= 4096, "eval_batch_size", "an integer from 1 to 4096", self.eval_batch_size)
        require(1 <= self.beam_size <= 64, "beam_size", "an integer from 1 to 64", self.beam_size)
        require(self.trainer.metric in METRICS, "trainer.metric", " / ".join(METRICS), self.trainer.metric)
        mode = "min" if self.trainer.metric == "loss" else "max"
        require(self.trainer.mode == mode, "trainer.mode", f"{mode} for trainer.metric {self.trainer.metric}",
                self.trainer.mode)  # fmt: skip


# -------------------------------------------------------------------------------------------------- data
def evenly(items: list, count: int) -> list:
    if count >= len(items):
        return items
    return [items[i * len(items) // count] for i in range(count)]


def load_splits(data: CaptionDataConfig) -> dict[str, list[CaptionedImage]]:
    """train / valid / test images with their references: the emoji dataset's (in `data.style`) or the
    configured files' (no valid file: every 10th training image, at least one, is held out)."""
    if data.dataset != FILES:
        from rnnlab.data.registry import get_dataset, load_dataset

        dataset = load_dataset(get_dataset(data.dataset, kind="images").name)
        if not hasattr(dataset, "examples"):
            raise DataError(f"dataset {data.dataset!r} holds no captioned images")
        splits = {split: dataset.examples(split, data.language, data.style, data.image_size)
                  for split in ("train", "valid", "test")}  # fmt: skip
    else:
        if not data.train:
            raise ConfigError("data: expected data.dataset or data.train (an image<TAB>caption file), got neither")
        splits = {"train": read_caption_file(data.train, data.language, data.image_size)}
        for name in ("valid", "test"):
            path = getattr(data, name)
            splits[name] = read_caption_file(path, data.language, data.image_size) if path else []
        if not splits["valid"] and len(splits["train"]) >= 2:  # every 10th image (at least the last one)
            train = splits["train"]
            held = set(range(9, len(train), 10)) or {len(train) - 1}
            splits["valid"], splits["train"] = [train[i] for i in sorted(held)], [x for i, x in enumerate(train)
                                                                                 if i not in held]  # fmt: skip
    if data.max_train:
        splits["train"] = evenly(splits["train"], data.max_train)
    return splits


def held_out_style_examples(data: CaptionDataConfig, split: str) -> list[CaptionedImage]:
    """The emoji of `split` drawn in the style the model did not train on ([] for files or `style: both`)."""
    if data.dataset != "emoji" or data.style == "both":
        return []
    from rnnlab.data.registry import load_dataset

    return load_dataset("emoji").examples(split, data.language, OTHER_STYLE[data.style], data.image_size)


# ---------------------------------------------------------------------------------------------- training
class CaptionTask(TrainTask):
    """Shuffled (image, reference) pairs; cross-entropy plus the attention penalty; CIDEr-D on valid."""

    def __init__(self, config: CaptionConfig, captioner: ImageCaptioner, splits: dict[str, list[CaptionedImage]]):
        self.config, self.captioner, self.splits = config, captioner, splits
        self.pairs = [(i, ref) for i, example in enumerate(splits["train"]) for ref in example.references]
        self.images = np.stack([example.image for example in splits["train"]])  # uint8 (N, H, W, 3)

    def train_batches(self, epoch: int):
        order = list(range(len(self.pairs)))
        random.Random(self.config.trainer.seed * 1_000_003 + epoch).shuffle(order)
        size = self.config.batch_size
        return EpochBatches([order[i : i + size] for i in range(0, len(order), size)], make=self.encode)

    def encode(self, indices: list[int]):
        """(images (B, 3, H, W) float, tgt_in (B, T), tgt_out (B, T)): tensors, moved by the Trainer."""
        pairs = [self.pairs[i] for i in indices]
        tgt_in, tgt_out = self.captioner.encode_targets([ref for _, ref in pairs])
        return images_to_tensor(self.images[[i for i, _ in pairs]]), tgt_in, tgt_out

    def train_step(self, model: torch.nn.Module, batch) -> StepOutput:
        images, tgt_in, tgt_out = batch
        logits, weights = model(images, tgt_in)
        loss, tokens = sequence_loss(logits, tgt_out, PAD_ID)
        if weights is not None and self.config.attention_penalty > 0:
            loss = loss + self.config.attention_penalty * doubly_stochastic_penalty(weights, tgt_out != PAD_ID)
        return StepOutput(loss / max(1, tokens), num_tokens=tokens)

    def evaluate(self) -> dict[str, float]:
        result = self.captioner.evaluate(self.splits["valid"], beams=(1,))
        self.captioner.model.train()
        return {"cider": result["greedy"]["cider"], "bleu4": result["greedy"]["bleu4"], "loss": result["loss"]}

    def checkpoint_config(self) -> dict:
        return {"task": TASK, "config": config_to_dict(self.config)}

    def checkpoint_files(self) -> dict[str, str]:
        return {"vocab.json": json.dumps({"tokens": self.captioner.vocab.tokens}, ensure_ascii=False)}


def build(config: CaptionConfig) -> TrainSetup:
    """The task and model of `config` for the shared Trainer (best/ by validation CIDEr-D)."""
    splits = load_splits(config.data)
    train = splits["train"]
    if not train or not splits["valid"]:
        raise DataError("caption: expected non-empty train and valid images (a caption file of 2+ images)")
    language, limit = config.data.language, config.data.max_caption_tokens
    vocab = Vocabulary.build((caption_tokens(ref, language)[:limit] for x in train for ref in x.references),
                             config.data.min_freq, config.data.max_vocab)  # fmt: skip
    torch.manual_seed(config.trainer.seed)
    model = Captioner(config.model, len(vocab), BOS_ID, EOS_ID, PAD_ID)
    captioner = ImageCaptioner(model, vocab, config)
    task = CaptionTask(config, captioner, splits)
    parameters = sum(p.numel() for p in model.parameters())
    grid = model.encoder(torch.zeros(1, 3, config.data.image_size, config.data.image_size)).shape
    banner = (f"rnnlab: caption: {len(train):,} training images ({len(task.pairs):,} captions, {language}), "
              f"{len(vocab):,} tokens, {grid[0]}x{grid[1]} grid, attention {config.model.attention}, "
              f"{parameters:,} parameters")  # fmt: skip
    model.train()
    return TrainSetup(task=task, model=model, banner=banner)


DESCRIPTOR = register_task(TaskDescriptor(
    name=TASK,
    summary="image captioning (看图说话): a CNN and an LSTM with soft attention, on emoji named in English or Chinese",
    docs="docs/captioning.md",
    config_class=CaptionConfig,
    build=build,
    load=load_captioner,
    evaluate=evaluate,
    format_eval=format_evaluation,
    verbs=(CAPTION_VERB,),
))  # fmt: skip
