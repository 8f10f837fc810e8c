"""The `handwriting` task: a mixture-density LSTM that writes pen offsets (Graves 2013), unconditional or
conditioned on a text through a soft window over its characters.

    stroke-3 points (dx, dy, pen_up), normalised --LSTM (+ window over the text)--> mixture of M Gaussians
        + pen-up Bernoulli for the next point --sample (bias b)--> SVG / PNG / GIF of the writing

Data (`data.dataset`): `hanzi` (Chinese characters in stroke order, one text = one character), `kanjivg` (kanji
the same way, a second writer: `hanzi+kanjivg` trains on both), `hershey-lines` (Latin text lines in Hershey's
vector faces), all in `rnnlab.data.handwriting_sets`; or `files`: a folder of
SVG files or an .npz of stroke-3 arrays (`rnnlab.data.strokes.read_stroke_files`). Offsets are normalised by
the training set's mean and std (saved with the model as stats.json; NLLs are in those units, and also
reported in the data's own units).

Training: teacher forcing; the loss is the negative log-likelihood per point (nats) plus the end-of-writing
BCE; validation metric `loss` (NLL per point). Two modules: this one (config, data, what the Trainer
trains, the descriptor) and `rnnlab.tasks.handwriter` (the loaded model, `rnnlab eval`, the `write` verb).
docs/handwriting.md has the commands and the results.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import torch
from torch.nn import functional as F

from rnnlab.config import FILES, config_to_dict, data_source, require
from rnnlab.data.strokes import StrokeSequence, StrokeStats, read_stroke_files
from rnnlab.errors import ConfigError, DataError
from rnnlab.nn.handwriting import HandwritingNet, HandwritingNetConfig, SelfFeed, backward_window_shift
from rnnlab.nn.mdn import mixture_log_likelihood
from rnnlab.tasks.handwriter import (
    WRITE_VERB,
    Alphabet,
    Handwriter,
    evaluate,
    format_evaluation,
    load_handwriter,
)
from rnnlab.tasks.registry import TaskDescriptor, register_task
from rnnlab.train import EpochBatches, StepOutput, TrainerConfig, TrainSetup, TrainTask

# Registering the built-in stroke datasets (importing this task module is what makes them known).
import rnnlab.data.handwriting_sets  # noqa: F401  isort: skip

__all__ = ["DESCRIPTOR", "HandwritingConfig", "HandwritingDataConfig", "HandwritingTask", "build", "encode_batch",
           "load_splits", "noisy_offsets", "sequence_nll"]  # fmt: skip

TASK = "handwriting"
SELF_FEED_BIAS = 1.0  # Graves' bias of the points a scheduled-sampling step feeds back (as `write --bias 1`)


# ------------------------------------------------------------------------------------------------ config
@dataclass
class HandwritingDataConfig:
    dataset: str | None = "hanzi"  # hanzi, kanjivg, hershey-lines, several joined by + (hanzi+kanjivg), or "files"
    train: str | None = None  # files: a folder of SVG files (texts.tsv or file names) or an .npz
    valid: str | None = None  # none: every 10th training sequence is held out (at least one)
    test: str | None = None
    characters: str | None = None  # keep only the sequences whose text is made of these characters
    max_points: int = 400  # sequences with more pen points are left out (all splits)
    max_train: int | None = None  # keep at most this many training sequences (spread evenly)

    def __post_init__(self) -> None:
        self.dataset = data_source(self, {"train": None, "valid": None, "test": None}, files=FILES)
        require(2 <= self.max_points <= 100_000, "max_points", "an integer from 2 to 100,000", self.max_points)
        require(self.max_train is None or self.max_train >= 1, "max_train", ">= 1 or null", self.max_train)
        require(self.characters is None or bool(self.characters.strip()), "characters", "a non-empty string or null",
                self.characters)  # fmt: skip


@dataclass
class HandwritingConfig:
    data: HandwritingDataConfig = field(default_factory=HandwritingDataConfig)
    model: HandwritingNetConfig = field(default_factory=HandwritingNetConfig)
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(metric="loss", mode="min", clip_grad_norm=5.0,
                                                                         max_epochs=30))  # fmt: skip
    end_weight: float = 1.0  # weight of the end-of-writing BCE next to the NLL (not part of the NLL)
    # std of Gaussian noise added to the input offsets in training (normalised units; the targets stay clean):
    # written alone, the model reads its own imperfect points, so it learns not to trust its past exactly
    input_noise: float = 0.0
    # scheduled sampling: the share of steps fed the offset the model sampled itself at the step before instead
    # of the real one (`rnnlab.nn.handwriting.SelfFeed`; training runs one step at a time, slower); 0: off
    scheduled_sampling: float = 0.0
    # each training writing is drawn again by a slightly different hand every time it is batched: its offsets
    # through a random rotation, shear and x / y scale of up to this much (radians / relative; `jittered`); 0: off
    affine_jitter: float = 0.0
    # weight of the window's backward shift (`backward_window_shift`, characters per point) added to the training
    # loss: the window's shape, even turned down, is asked not to move back over the text (a synthesis net only;
    # not part of the NLL that validation reports); 0: off, Graves' loss
    window_backward_penalty: float = 0.0
    batch_size: int = 32
    eval_batch_size: int = 64
    output_dir: str = "runs/handwriting"

    def __post_init__(self) -> None:
        require(0 <= self.end_weight <= 100, "end_weight", "a number in [0, 100]", self.end_weight)
        require(isinstance(self.input_noise, (int, float)) and 0 <= self.input_noise <= 10, "input_noise",
                "a standard deviation in [0, 10] (normalised offsets; 0: off)", self.input_noise)  # fmt: skip
        require(isinstance(self.scheduled_sampling, (int, float)) and 0 <= self.scheduled_sampling <= 1,
                "scheduled_sampling", "a share of steps in [0, 1] (0: off)", self.scheduled_sampling)  # fmt: skip
        require(isinstance(self.affine_jitter, (int, float)) and 0 <= self.affine_jitter <= 0.5, "affine_jitter",
                "an amount in [0, 0.5] (radians of rotation and shear, relative scale; 0: off)", self.affine_jitter)  # fmt: skip
        require(not (self.scheduled_sampling and self.input_noise), "scheduled_sampling",
                "0 when input_noise is set (each perturbs the inputs its own way; choose one)", self.scheduled_sampling)  # fmt: skip
        require(isinstance(self.window_backward_penalty, (int, float)) and 0 <= self.window_backward_penalty <= 100,
                "window_backward_penalty", "a weight in [0, 100] (0: off)", self.window_backward_penalty)  # fmt: skip
        require(not self.window_backward_penalty or self.model.conditional, "window_backward_penalty",
                "0 for an unconditional model (it has no window)", self.window_backward_penalty)  # fmt: skip
        require(1 <= self.batch_size <= 4096, "batch_size", "an integer from 1 to 4096", self.batch_size)
        require(1 <= self.eval_batch_size <= 4096, "eval_batch_size", "an integer from 1 to 4096", self.eval_batch_size)
        require(self.trainer.metric == "loss", "trainer.metric", "loss (the NLL per point)", self.trainer.metric)
        require(self.trainer.mode == "min", "trainer.mode", "min for trainer.metric loss", self.trainer.mode)


# -------------------------------------------------------------------------------------------------- data
def evenly(items: list, count: int) -> list:
    return items if count >= len(items) else [items[i * len(items) // count] for i in range(count)]


def load_splits(data: HandwritingDataConfig) -> dict[str, list[StrokeSequence]]:
    """train / valid / test sequences of the configured dataset or files, filtered by characters and length."""
    if data.dataset != FILES:
        from rnnlab.data.registry import get_dataset, load_dataset

        # `hanzi+kanjivg`: the sets one after another (both split by character the same way: a second writer)
        entries = [get_dataset(name, kind="strokes") for name in data.dataset.split("+")]  # every name known first
        datasets = [load_dataset(entry.name) for entry in entries]
        splits = {split: [s for d in datasets for s in d.sequences(split)] for split in ("train", "valid", "test")}
    else:
        if not data.train:
            raise ConfigError("data: expected data.dataset or data.train (a folder of SVG files or an .npz), got neither")
        splits = {"train": read_stroke_files(data.train)}
        for name in ("valid", "test"):
            path = getattr(data, name)
            splits[name] = read_stroke_files(path) if path else []
        if not splits["valid"] and len(splits["train"]) >= 2:
            train = splits["train"]
            held = set(range(9, len(train), 10)) or {len(train) - 1}
            splits["valid"] = [train[i] for i in sorted(held)]
            splits["train"] = [x for i, x in enumerate(train) if i not in held]
    allowed = set(data.characters) if data.characters else None
    for name, items in splits.items():
        splits[name] = [s for s in items if len(s.points) <= data.max_points and (allowed is None or set(s.text) <= allowed)]
    if data.max_train:
        splits["train"] = evenly(splits["train"], data.max_train)
    return splits


def jittered(points: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """A writing (N, 3) as a slightly different hand would draw it: the offsets (dx, dy) through one random
    near-identity linear map, a rotation by an angle and an x-shear each in [-amount, amount] and x / y scales
    in [1 - amount, 1 + amount]; the pen bits stay. Positions are sums of offsets, so the whole writing moves."""
    angle, shear = rng.uniform(-amount, amount, 2)
    scale_x, scale_y = 1.0 + rng.uniform(-amount, amount, 2)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    linear = rotation @ np.array([[scale_x, shear * scale_y], [0.0, scale_y]])
    out = points.copy()
    out[:, :2] = (points[:, :2].astype(np.float64) @ linear.T).astype(points.dtype)
    return out


def encode_batch(items: list[StrokeSequence], stats: StrokeStats, alphabet: Alphabet | None):
    """(inputs (B, T, 3), targets (B, T, 3), mask (B, T), text (B, U), text_mask (B, U)): normalised,
    padded; inputs are the targets shifted right behind a (0, 0, 1) start point."""
    lengths = [len(s.points) for s in items]
    width = max(lengths)
    targets = torch.zeros(len(items), width, 3)
    mask = torch.zeros(len(items), width)
    for row, item in enumerate(items):
        targets[row, : lengths[row]] = torch.from_numpy(stats.normalise(item.points))
        mask[row, : lengths[row]] = 1
    start = torch.tensor([0.0, 0.0, 1.0]).expand(len(items), 1, 3)
    inputs = torch.cat([start, targets[:, :-1]], dim=1)
    if alphabet is None:
        text = torch.zeros(len(items), 1, dtype=torch.long)
        text_mask = torch.ones(len(items), 1)
    else:
        text, text_mask = alphabet.encode([item.text for item in items])
    return inputs, targets, mask, text, text_mask


def position_spread(sequences: list[StrokeSequence], stats: StrokeStats) -> tuple[float, float]:
    """The std per axis of the pen's positions over all points of `sequences`, in offset stds."""
    positions = np.concatenate([np.cumsum(s.points[:, :2], axis=0) for s in sequences]).astype(np.float64)
    return tuple(float(max(p, 1e-6)) for p in positions.std(axis=0) / np.array(stats.std))


def noisy_offsets(inputs: torch.Tensor, std: float) -> torch.Tensor:
    """inputs (B, T, 3) with N(0, std^2) added to every offset (dx, dy) but the start point's; pen bits kept."""
    noise = torch.randn_like(inputs[..., :2]) * std
    noise[:, 0] = 0.0  # the (0, 0, 1) start point is not a pen position
    return torch.cat([inputs[..., :2] + noise, inputs[..., 2:]], dim=-1)


def sequence_nll(model: torch.nn.Module, batch, positions: torch.Tensor | None = None,
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """(NLL per sequence (B,) in normalised nats, end BCE summed over points, points per sequence (B,)).
    positions: the pen positions to feed a net with `position_input` (default: from the inputs)."""
    inputs, targets, mask, text, text_mask = batch
    params, end_logit, _ = model(inputs, text, text_mask, positions=positions)
    return mixture_nll(params, end_logit, targets, mask)


def mixture_nll(params, end_logit: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor,
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """`sequence_nll` from the net's outputs: params and end_logit (B, T), targets (B, T, 3), mask (B, T)."""
    log_p = mixture_log_likelihood(params, targets) * mask
    lengths = mask.sum(1)
    ends = F.one_hot(lengths.long() - 1, mask.shape[1]).float()
    end_loss = (F.binary_cross_entropy_with_logits(end_logit, ends, reduction="none") * mask).sum()
    return -log_p.sum(1), end_loss, lengths


# ---------------------------------------------------------------------------------------------- training
class HandwritingTask(TrainTask):
    """Shuffled sequences, batched among neighbours in length; NLL per point (+ end BCE); NLL on valid."""

    def __init__(self, config: HandwritingConfig, writer: Handwriter, splits: dict[str, list[StrokeSequence]]):
        self.config, self.writer, self.splits = config, writer, splits

    def train_batches(self, epoch: int):
        train = self.splits["train"]
        order = list(range(len(train)))
        random.Random(self.config.trainer.seed * 1_000_003 + epoch).shuffle(order)
        size = self.config.batch_size
        # sort within windows of 20 batches by length (less padding), then shuffle the batches
        chunks = []
        for start in range(0, len(order), size * 20):
            window = sorted(order[start : start + size * 20], key=lambda i: len(train[i].points))
            chunks += [window[i : i + size] for i in range(0, len(window), size)]
        random.Random(self.config.trainer.seed + epoch).shuffle(chunks)
        return EpochBatches(chunks, make=partial(self.encode, epoch=epoch))

    def encode(self, indices: list[int], epoch: int = 0):
        items = [self.splits["train"][i] for i in indices]
        if self.config.affine_jitter > 0:  # seeded by the batch itself: a resumed run draws the same hands
            rng = np.random.default_rng([self.config.trainer.seed, epoch, *indices])
            items = [StrokeSequence(s.text, jittered(s.points, self.config.affine_jitter, rng), s.where) for s in items]
        return encode_batch(items, self.writer.stats, self.writer.alphabet)

    def train_step(self, model: torch.nn.Module, batch) -> StepOutput:
        inputs, targets, mask, text, text_mask = batch
        if self.config.scheduled_sampling > 0:  # some inputs are the model's own samples; the targets stay real
            feed = SelfFeed(self.config.scheduled_sampling, SELF_FEED_BIAS)
            params, end_logit, phi = model(inputs, text, text_mask, self_feed=feed)
        else:
            positions = None
            if self.config.input_noise > 0:
                if self.config.model.position_input:  # where the pen really is: the noise stands for a slip, not a drift
                    positions = self.writer.model.pen_positions(inputs)  # the net itself: `model` may be a DDP wrapper
                inputs = noisy_offsets(inputs, self.config.input_noise)
            params, end_logit, phi = model(inputs, text, text_mask, positions=positions)
        nll, end_loss, lengths = mixture_nll(params, end_logit, targets, mask)
        points = lengths.sum()
        loss = (nll.sum() + self.config.end_weight * end_loss) / points
        metrics = {}
        if self.config.window_backward_penalty > 0:
            shift = backward_window_shift(phi, mask).sum() / points
            loss = loss + self.config.window_backward_penalty * shift
            metrics["window_back"] = float(shift.detach())
        return StepOutput(loss, num_tokens=int(points), metrics=metrics)

    def evaluate(self) -> dict[str, float]:
        result = self.writer.nll(self.splits["valid"], self.config.eval_batch_size)
        self.writer.model.train()
        return {"loss": result["nll_per_point"], "nll_per_sequence": result["nll_per_sequence"]}

    def checkpoint_config(self) -> dict:
        return {"task": TASK, "config": config_to_dict(self.config)}

    def checkpoint_files(self) -> dict[str, str]:
        files = {"stats.json": json.dumps(self.writer.stats.to_json())}
        if self.writer.alphabet is not None:
            files["alphabet.json"] = json.dumps(self.writer.alphabet.to_json(), ensure_ascii=False)
        return files


def build(config: HandwritingConfig) -> TrainSetup:
    """The task and model of `config` for the shared Trainer (best/ by validation NLL per point)."""
    splits = load_splits(config.data)
    train = splits["train"]
    if not train or not splits["valid"]:
        raise DataError("handwriting: expected non-empty train and valid sequences (at least 2 written texts, each "
                        f"of at most data.max_points={config.data.max_points} points)")  # fmt: skip
    stats = StrokeStats.fit([s.points for s in train])
    alphabet = Alphabet.build(s.text for s in train) if config.model.conditional else None
    torch.manual_seed(config.trainer.seed)
    model = HandwritingNet(config.model, len(alphabet) if alphabet else 1)
    if config.model.position_input:
        model.set_position_frame(stats.mean, stats.std, position_spread(train, stats))
    writer = Handwriter(model, stats, alphabet, config)
    task = HandwritingTask(config, writer, splits)
    parameters = sum(p.numel() for p in model.parameters())
    points = sum(len(s.points) for s in train)
    kind = f"conditional on {len(alphabet) - 2:,} characters" if alphabet else "unconditional"
    banner = (f"rnnlab: handwriting: {len(train):,} training sequences ({points:,} pen points), {kind}, "
              f"{config.model.mixtures} Gaussians, {parameters:,} parameters")  # fmt: skip
    model.train()
    return TrainSetup(task=task, model=model, banner=banner)


DESCRIPTOR = register_task(TaskDescriptor(
    name=TASK,
    summary="handwriting as pen offsets: a mixture-density LSTM writing Chinese characters or Latin text (Graves 2013)",
    docs="docs/handwriting.md",
    config_class=HandwritingConfig,
    build=build,
    load=load_handwriter,
    evaluate=evaluate,
    format_eval=format_evaluation,
    verbs=(WRITE_VERB,),
))  # fmt: skip
