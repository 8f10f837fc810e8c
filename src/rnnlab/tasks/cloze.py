"""Fill in the blank with a bidirectional RNN: "I am ___ very hungry , I could eat half a pig ."

A forward RNN reads the words left of position t, a backward RNN the words right of it. Two heads share
them and are trained together on every position of every sentence:

    forward-only head:   P(x_t | x_<t)        = softmax(W_f h_fwd(t-1))             (a plain LM)
    bidirectional head:  P(x_t | x_<t, x_>t)  = softmax(W_b [h_fwd(t-1); h_bwd(t+1)])

so `rnnlab cloze CKPT "..."` ranks fillers with both and shows how much the right-hand context
("very hungry", "eat half a pig") changes the answer. Validation reports both heads' loss and top-1
accuracy at recovering held-out words.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from rnnlab.config import config_from_dict, config_to_dict
from rnnlab.data.vocab import BOS_ID, EOS_ID, PAD_ID, SPECIALS, UNK_ID, Vocabulary
from rnnlab.errors import CheckpointError, DataError, UserError
from rnnlab.nn.cloze import BiCloze, ClozeModelConfig
from rnnlab.tasks.labelling_common import (
    bucketed_batches,
    dump_json,
    read_json_file,
    read_model_dir,
)
from rnnlab.tasks.registry import EvalRequest, TaskDescriptor, register_task
from rnnlab.train import EpochBatches, StepOutput, TrainerConfig, TrainSetup, TrainTask, load_model_weights
from rnnlab.verbs import Verb

TASK = "cloze"
BLANK = "___"


@dataclass
class ClozeDataConfig:
    corpus: str = "ptb"  # a built-in corpus (rnnlab.data.corpora) or a text file / directory / glob
    lowercase: bool = True
    max_train_lines: int | None = None  # use at most this many training sentences (short runs)
    max_valid_lines: int | None = 1000
    max_length: int = 60  # longer lines are cut (they still teach both directions)
    min_freq: int = 1
    max_vocab: int | None = 10000


@dataclass
class ClozeConfig:
    data: ClozeDataConfig = field(default_factory=ClozeDataConfig)
    model: ClozeModelConfig = field(default_factory=ClozeModelConfig)
    batch_size: int = 32
    eval_batch_size: int = 128
    output_dir: str = "runs/cloze"
    trainer: TrainerConfig = field(default_factory=TrainerConfig)  # metric "loss" = bidirectional loss


class ClozeModel:
    """A trained cloze model with its vocabulary."""

    def __init__(self, model: BiCloze, vocab: Vocabulary, config: ClozeConfig) -> None:
        self.model = model.eval()
        self.vocab = vocab
        self.config = config

    def tokenize(self, text: str) -> list[str]:
        if self.config.data.lowercase:
            text = text.lower()
        return text.split()

    @torch.no_grad()
    def blank_distributions(self, tokens: Sequence[str], blank: str = BLANK) -> tuple[Tensor, Tensor]:
        """P(filler) over the vocabulary for the one blank: (bidirectional (V,), forward-only (V,))."""
        positions = [i for i, token in enumerate(tokens) if token == blank]
        if len(positions) != 1:
            raise UserError(f"expected exactly one blank {blank!r} in the sentence, found {len(positions)}")
        ids = [BOS_ID, *self.vocab.encode([t if t != blank else SPECIALS[UNK_ID] for t in tokens]), EOS_ID]
        tensor = torch.tensor([ids])
        forward_logits, both_logits = self.model.logits(tensor, torch.tensor([len(ids)]))
        excluded = torch.tensor([PAD_ID, UNK_ID, BOS_ID, EOS_ID])  # never offer a special as a filler
        out = []
        for logits in (both_logits, forward_logits):
            row = logits[0, positions[0]].float()
            row[excluded] = float("-inf")
            out.append(torch.softmax(row, dim=0))
        return out[0], out[1]

    def fill(self, text: str, top_k: int = 10, blank: str = BLANK) -> tuple[list, list]:
        """Top-k (word, probability) by the bidirectional head and by the forward-only head."""
        tokens = separate_blank(self.tokenize(text), blank)
        both, forward = self.blank_distributions(tokens, blank)
        ranked = []
        for probs in (both, forward):
            values, indices = probs.topk(min(top_k, len(self.vocab) - len(SPECIALS)))
            ranked.append([(self.vocab.id_to_token(int(i)), float(v)) for v, i in zip(values, indices)])
        return ranked[0], ranked[1]


def separate_blank(tokens: list[str], blank: str) -> list[str]:
    """Split a blank glued to punctuation ("___," -> "___", ",") and punctuation off words ("hungry,")."""
    out = []
    for token in tokens:
        parts = [p for p in re.split(f"({re.escape(blank)})", token) if p]
        for part in parts:
            out.extend([part] if part == blank else re.findall(r"[\w'-]+|[^\w\s]", part) or [part])
    return out


def load_cloze(path: str | Path) -> ClozeModel:
    checkpoint = read_model_dir(path, TASK)
    config = config_from_dict(ClozeConfig, checkpoint.config["config"], source=str(checkpoint.path))
    try:
        vocab = Vocabulary(read_json_file(checkpoint, "vocab.json")["tokens"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{checkpoint.path}: malformed vocab.json ({error})") from None
    model = BiCloze(config.model, len(vocab))
    load_model_weights(model, checkpoint)
    return ClozeModel(model, vocab, config)


# --- training ----------------------------------------------------------------------------------------

def corpus_lines(text: str, lowercase: bool, max_length: int, limit: int | None) -> list[list[str]]:
    lines = []
    for line in text.splitlines():
        tokens = (line.lower() if lowercase else line).split()
        if tokens:
            lines.append(tokens[:max_length])
    if limit and limit < len(lines):
        lines = [lines[i * len(lines) // limit] for i in range(limit)]
    return lines


def encode_lines(lines: Sequence[Sequence[str]], vocab: Vocabulary) -> tuple[Tensor, Tensor]:
    """(ids (N, L) with <s> .. </s> and padding, lengths (N,))."""
    encoded = [vocab.encode(line, add_bos=True, add_eos=True) for line in lines]
    lengths = torch.tensor([len(e) for e in encoded])
    ids = torch.full((len(encoded), int(lengths.max())), PAD_ID, dtype=torch.long)
    for i, e in enumerate(encoded):
        ids[i, : len(e)] = torch.tensor(e)
    return ids, lengths


class ClozeTask(TrainTask):
    loss_metric = "ppl"

    def __init__(self, config: ClozeConfig, model: BiCloze, vocab: Vocabulary, train_lines, valid_lines):
        self.config, self.model, self.vocab = config, model, vocab
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
        return {"task": TASK, "config": config_to_dict(self.config), "data": {"dataset": self.config.data.corpus}}

    def checkpoint_files(self) -> dict[str, str]:
        return {"vocab.json": dump_json({"tokens": self.vocab.tokens})}


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


def load_lines(config: ClozeConfig) -> dict[str, list[list[str]]]:
    from rnnlab.data.corpora import load_corpus

    corpus = load_corpus(config.data.corpus, level="word")
    data = config.data
    splits = {
        "train": corpus_lines(corpus.train, data.lowercase, data.max_length, data.max_train_lines),
        "valid": corpus_lines(corpus.valid, data.lowercase, data.max_length, data.max_valid_lines),
        "test": corpus_lines(corpus.test, data.lowercase, data.max_length, data.max_valid_lines),
    }
    if not splits["train"] or not splits["valid"]:
        raise DataError(f"{data.corpus}: expected non-empty train and valid text")
    return splits


def build(config: ClozeConfig) -> TrainSetup:
    """The task and model of `config` for the shared Trainer (`rnnlab train`, `rnnlab.train.run.train_task`)."""
    splits = load_lines(config)
    vocab = Vocabulary.build(splits["train"], config.data.min_freq, config.data.max_vocab)
    torch.manual_seed(config.trainer.seed)
    model = BiCloze(config.model, len(vocab))
    return TrainSetup(task=ClozeTask(config, model, vocab, splits["train"], splits["valid"]), model=model)


def evaluate(path: str | Path, request: EvalRequest) -> dict:
    """Both heads on held-out sentences (a split of the corpus, or a text file)."""
    cloze = load_cloze(path)
    data = cloze.config.data
    if request.data_file:
        from rnnlab.data.tagged import read_lines

        lines = corpus_lines("\n".join(read_lines(request.data_file)), data.lowercase, data.max_length, None)
        if not lines:
            raise DataError(f"{request.data_file}: no sentences found")
    else:
        lines = request.examples_of(load_lines(cloze.config))
    return {"sentences": len(lines), **evaluate_lines(cloze.model, cloze.vocab, lines, cloze.config.eval_batch_size)}


def format_evaluation(m: dict) -> str:
    return (f"sentences {m['sentences']}; predicting each word from its context:\n"
            f"  bidirectional (left + right): loss {m['loss']:.3f}  ppl {m['ppl']:.1f}  top-1 {100 * m['acc']:.1f}%\n"
            f"  forward only (left):          loss {m['forward_loss']:.3f}  ppl {m['forward_ppl']:.1f}  "
            f"top-1 {100 * m['forward_acc']:.1f}%")  # fmt: skip


# --- the cloze verb ----------------------------------------------------------------------------------
@dataclass
class ClozeOptions:
    top_k: int = field(default=10, metadata={"help": "how many fillers to rank"})
    blank: str = field(default=BLANK, metadata={"help": "the blank marker"})


def run_cloze(model: ClozeModel, sentences: list[str], options: ClozeOptions) -> Iterator[dict]:
    """Per sentence with one blank: the top-k fillers by the bidirectional head and by the forward one."""
    for sentence in sentences:
        both, forward = model.fill(sentence, options.top_k, options.blank)
        yield {"sentence": sentence, "bidirectional": [[w, p] for w, p in both], "forward": [[w, p] for w, p in forward]}


def format_cloze(result: dict, options: ClozeOptions) -> str:
    both, forward = result["bidirectional"], result["forward"]
    width = max([len(w) for w, _ in both + forward] + [8])
    lines = [f"{'bidirectional':>{width + 8}s}   | {'forward only':>{width + 8}s}"]
    lines += [f"{w1:>{width}s} {p1:7.4f}   | {w2:>{width}s} {p2:7.4f}" for (w1, p1), (w2, p2) in zip(both, forward)]
    return "\n".join(lines)


CLOZE = Verb(name="cloze", help="rank fillers for the ___ in a sentence", options=ClozeOptions, run=run_cloze,
             what="sentences", format=format_cloze,
             description='Rank fillers for the blank of each sentence, e.g. "I am ___ hungry ."')


DESCRIPTOR = register_task(TaskDescriptor(
    name=TASK,
    summary="bidirectional fill-in-the-blank model (forward + backward LSTM)",
    docs="docs/labelling.md",
    config_class=ClozeConfig,
    build=build,
    load=load_cloze,
    evaluate=evaluate,
    format_eval=format_evaluation,
    verbs=(CLOZE,),
))  # fmt: skip
