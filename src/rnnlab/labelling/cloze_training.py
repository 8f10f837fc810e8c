"""Training the bidirectional cloze model with the shared Trainer, and scoring both heads on held-out text."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from rnnlab.config import config_to_dict
from rnnlab.data.vocab import PAD_ID, Vocabulary
from rnnlab.labelling.batches import bucketed_batches
from rnnlab.labelling.model_dir import dump_json
from rnnlab.nn.cloze import BiCloze
from rnnlab.train import EpochBatches, StepOutput, TrainSetup, TrainTask

__all__ = ["ClozeTask", "build_cloze", "encode_lines", "evaluate_lines"]


def encode_lines(lines: Sequence[Sequence[str]], vocab: Vocabulary) -> tuple[Tensor, Tensor]:
    """(ids (N, L) with <s> .. </s> and padding, lengths (N,))."""
    encoded = [vocab.encode(line, add_bos=True, add_eos=True) for line in lines]
    lengths = torch.tensor([len(e) for e in encoded])
    ids = torch.full((len(encoded), int(lengths.max())), PAD_ID, dtype=torch.long)
    for i, e in enumerate(encoded):
        ids[i, : len(e)] = torch.tensor(e)
    return ids, lengths


@torch.no_grad()
def evaluate_lines(model: BiCloze, vocab: Vocabulary, lines, batch_size: int) -> dict[str, float]:
    """Mean loss / ppl and top-1 accuracy of both heads at predicting each held-out word."""
    device = next(model.parameters()).device
    totals = {"forward_loss": 0.0, "loss": 0.0, "forward_acc": 0.0, "acc": 0.0}
    count = 0
    for start in range(0, len(lines), batch_size):
        ids, lengths = encode_lines(lines[start : start + batch_size], vocab)
        ids, lengths = ids.to(device), lengths.to(device)
        forward_logits, both_logits = model.logits(ids, lengths)
        forward_loss, both_loss, targets, mask = model.losses(ids, lengths)
        totals["forward_loss"] += float((forward_loss * mask).sum())
        totals["loss"] += float((both_loss * mask).sum())
        totals["forward_acc"] += float(((forward_logits.argmax(2) == targets) & mask).sum())
        totals["acc"] += float(((both_logits.argmax(2) == targets) & mask).sum())
        count += int(mask.sum())
    metrics = {key: value / max(count, 1) for key, value in totals.items()}
    metrics["ppl"] = math.exp(min(metrics["loss"], 50))
    metrics["forward_ppl"] = math.exp(min(metrics["forward_loss"], 50))
    return metrics


class ClozeTask(TrainTask):
    """Both heads trained together on every position; validation reports both (metric "loss": two-sided)."""

    loss_metric = "ppl"

    def __init__(self, config, model: BiCloze, vocab: Vocabulary, train_lines, valid_lines, task: str) -> None:
        self.config, self.model, self.vocab, self.task = config, model, vocab, task
        self.train_lines, self.valid_lines = train_lines, valid_lines

    def train_batches(self, epoch: int):
        batches = bucketed_batches([len(x) for x in self.train_lines], self.config.batch_size,
                                   self.config.trainer.seed, epoch)
        return EpochBatches(batches, make=lambda idx: encode_lines([self.train_lines[i] for i in idx], self.vocab))

    def train_step(self, model: torch.nn.Module, batch: tuple[Tensor, Tensor]) -> StepOutput:
        ids, lengths = batch  # on the Trainer's device already
        forward_loss, both_loss, _, mask = model(ids, lengths)  # forward = the losses
        count = mask.sum()
        loss = ((forward_loss + both_loss) * mask).sum() / count
        return StepOutput(loss, num_tokens=int(count))

    def evaluate(self) -> dict[str, float]:
        return evaluate_lines(self.model, self.vocab, self.valid_lines, self.config.eval_batch_size)

    def checkpoint_config(self) -> dict:
        return {"task": self.task, "config": config_to_dict(self.config), "data": {"dataset": self.config.data.corpus}}

    def checkpoint_files(self) -> dict[str, str]:
        return {"vocab.json": dump_json({"tokens": self.vocab.tokens})}


def build_cloze(config, splits: dict[str, list[list[str]]], task: str) -> TrainSetup:
    """The task and model of a cloze `config` (`data.min_freq` / `max_vocab`, `model`, `trainer.seed`) for the
    shared Trainer, trained on `splits` (token lists)."""
    vocab = Vocabulary.build(splits["train"], config.data.min_freq, config.data.max_vocab)
    torch.manual_seed(config.trainer.seed)
    model = BiCloze(config.model, len(vocab))
    return TrainSetup(task=ClozeTask(config, model, vocab, splits["train"], splits["valid"], task), model=model)
