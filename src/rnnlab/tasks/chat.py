"""Dialogue (`task: chat`): a multi-turn chat model, hierarchical (HRED) or single-turn, on conversations.

    rnnlab train configs/chat/chitchat_hred.yaml
    rnnlab chat runs/chat-chitchat-hred                              # interactive: /reset, /persona NAME
    rnnlab chat runs/chat-chitchat-hred --input conversations.jsonl --json
    rnnlab eval runs/chat-chitchat-hred --split test                 # reference ppl, R@1 of 1-in-10, distinct-1/2

Modules, one concern each: this one is the config, the training task and the descriptor;
`rnnlab.tasks.chat_model` the trained model (`Chatbot`), evaluation and the `chat` verb;
`rnnlab.tasks.chat_metrics` distinct-n, R@k and the TF-IDF ranker; the networks are `rnnlab.nn.hred`, the
data `rnnlab.data.dialogue`. Decoding is `rnnlab.nn.decoding`'s, MMI reranking the translation task's
noisy-channel reranker (`rnnlab.tasks.noisy_channel`) with a reverse chat model.

Every turn is at most `data.max_len` subword tokens (longer ones keep their first tokens when they are the
response, their last when they are context); an example sees the `data.max_turns` turns before it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from rnnlab.config import FILES, config_to_dict, data_source, require, require_sizes
from rnnlab.data.dialogue import Conversation, builtin_dialogues, examples, read_conversations
from rnnlab.data.registry import load_dataset
from rnnlab.data.subword import BOS_ID, EOS_ID, PAD_ID, SubwordVocab, VocabConfig
from rnnlab.errors import ConfigError, DataError
from rnnlab.nn.hred import HRED, HREDConfig, SingleTurn, build_chat_model
from rnnlab.nn.seq2seq import sequence_loss
from rnnlab.tasks.registry import TaskDescriptor, register_task
from rnnlab.train import (
    EpochBatches,
    StepOutput,
    TrainerConfig,
    TrainSetup,
    TrainTask,
    move_to,
    set_seed,
    shuffled_indices,
)

__all__ = ["ChatConfig", "ChatTask", "EncodedExample", "build", "encode_examples", "make_chat_batch"]

TASK_NAME = "chat"
NO_PERSONA = "<none>"  # persona id 0: no speaker, or one seen too rarely in training


@dataclass
class ChatDataConfig:
    dataset: str | None = "chitchat"  # chitchat / shakespeare-dialogue, or files (train/valid/test below)
    train: str | None = None  # conversations: JSON lines or blank-line separated turns (rnnlab.data.dialogue)
    valid: str | None = None
    test: str | None = None
    max_turns: int = 3  # context turns an example sees (k)
    max_len: int = 40  # subword tokens per turn
    max_train_conversations: int | None = None  # use only the first N training conversations (quick runs)
    persona_min_turns: int = 30  # speakers with fewer training turns share the "no persona" id
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        self.dataset = data_source(self, {"train": None, "valid": None, "test": None}, files=FILES,
                                   builtin_only={"cache_dir": None})  # fmt: skip
        names = [*builtin_dialogues(), FILES]
        require(self.dataset in names, "dataset", " / ".join(names), self.dataset)
        require(self.dataset != FILES or bool(self.train and self.valid), "dataset",
                "train and valid files with dataset=files (and test for eval)",
                {"train": self.train, "valid": self.valid})  # fmt: skip
        require_sizes(self, "max_turns", high=64)
        require_sizes(self, "max_len", low=2, high=1024)
        require_sizes(self, "max_train_conversations")
        require_sizes(self, "persona_min_turns")


@dataclass
class ChatDecodeConfig:
    method: str = "beam"  # beam / greedy / sample
    beam_size: int = 5
    alpha: float = 0.6  # GNMT length penalty
    max_len: int = 30  # tokens of a reply at most
    no_repeat_ngram_size: int = 3
    batch_size: int = 64

    def __post_init__(self) -> None:
        require(self.method in ("beam", "greedy", "sample"), "method", "beam / greedy / sample", self.method)
        require_sizes(self, "beam_size", high=256)
        require_sizes(self, "max_len", high=1024)
        require_sizes(self, "batch_size")
        require_sizes(self, "no_repeat_ngram_size", low=0, high=64)
        require(0.0 <= self.alpha <= 10.0, "alpha", "a length penalty in [0, 10]", self.alpha)


@dataclass
class ChatEvalConfig:
    max_examples: int = 3000  # reference perplexity on at most this many (context, response) examples
    ranking_examples: int = 500  # R@1 of 1-in-10 on this many
    generate_examples: int = 200  # distinct-1/2 of beam replies to this many contexts (0: skip)


@dataclass
class ChatConfig:
    output_dir: str = "runs/chat"
    data: ChatDataConfig = field(default_factory=ChatDataConfig)
    vocab: VocabConfig = field(default_factory=lambda: VocabConfig(size=4000))
    model: HREDConfig = field(default_factory=HREDConfig)
    batch_size: int = 64
    # how training examples are grouped: "length" (similar response lengths: little padding, fixed batches),
    # "random" (drawn anew each epoch), null: random with a response ranker (its negatives are the batch's other
    # responses, which must differ in length as candidates do), length otherwise
    batches: str | None = None
    label_smoothing: float = 0.0
    reverse: bool = False  # train the reverse model p(context | response) for --mmi (source: the response)
    decode: ChatDecodeConfig = field(default_factory=ChatDecodeConfig)
    eval: ChatEvalConfig = field(default_factory=ChatEvalConfig)
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(metric="ppl", mode="min"))

    def __post_init__(self) -> None:
        require(0.0 <= self.label_smoothing < 1.0, "label_smoothing", "a value in [0, 1)", self.label_smoothing)
        require_sizes(self, "batch_size")
        require(self.batches in (None, "length", "random"), "batches", "length / random / null", self.batches)
        if self.batches is None:
            self.batches = "random" if self.model.ranking_weight else "length"
        metrics = ("loss", "ppl", "r_at_1") if self.model.ranking_weight else ("loss", "ppl")
        require(self.trainer.metric in metrics, "trainer.metric", " / ".join(metrics) + (" (r_at_1: with "
                "model.ranking_weight > 0)" if not self.model.ranking_weight else ""), self.trainer.metric)  # fmt: skip
        require(self.trainer.metric != "r_at_1" or self.trainer.mode == "max", "trainer.mode",
                "max with trainer.metric r_at_1 (higher is better)", self.trainer.mode)  # fmt: skip
        for name in ("max_examples", "ranking_examples", "generate_examples"):
            require_sizes(self.eval, name, low=0)


# ------------------------------------------------------------------------------------------ examples
@dataclass
class EncodedExample:
    turns: list[list[int]]  # context turns, oldest first, each 1..max_len ids
    persona: int
    response: list[int]  # 1..max_len ids (no bos / eos)
    conversation: int  # index of its conversation (ranking draws distractors from other ones)


def load_conversations(config: ChatDataConfig) -> dict[str, list[Conversation]]:
    if config.dataset == FILES:
        splits = {"train": read_conversations(config.train), "valid": read_conversations(config.valid)}
        splits["test"] = read_conversations(config.test) if config.test else []
    else:
        splits = load_dataset(config.dataset, config.cache_dir)
    if config.max_train_conversations:
        splits = dict(splits, train=splits["train"][: config.max_train_conversations])
    return splits


def text_pairs(conversations: Sequence[Conversation], max_turns: int, reverse: bool = False):
    """(context turns, response turn, conversation index) of every example; reversed: ([response], the last
    context turn) -- what the reverse model p(context | response) learns."""
    for index, conversation in enumerate(conversations):
        for context, response in examples(conversation, max_turns):
            yield ([response], context[-1], index) if reverse else (context, response, index)


def encode_examples(conversations: Sequence[Conversation], vocab: SubwordVocab, personas: dict[str, int],
                    max_turns: int, max_len: int, reverse: bool = False) -> list[EncodedExample]:  # fmt: skip
    """Every (context, response) example, encoded; turns with no subword token are dropped."""
    result = []
    for context, response, index in text_pairs(conversations, max_turns, reverse):
        turns = [ids[-max_len:] for ids in (vocab.encode(t.text) for t in context) if ids]
        target = vocab.encode(response.text)[:max_len]
        if turns and target:
            persona = 0 if reverse else personas.get(response.speaker or "", 0)
            result.append(EncodedExample(turns, persona, target, index))
    return result


def make_chat_batch(items: Sequence[EncodedExample]) -> dict[str, torch.Tensor]:
    """The batch of `rnnlab.nn.hred` (turns, turn_lengths, persona, tgt_in, tgt_out), on the CPU."""
    b = len(items)
    k = max(len(e.turns) for e in items)
    s = max(len(t) for e in items for t in e.turns)
    t_len = max(len(e.response) for e in items) + 1
    turns = torch.full((b, k, s), PAD_ID, dtype=torch.long)
    lengths = torch.zeros((b, k), dtype=torch.long)
    tgt_in = torch.full((b, t_len), PAD_ID, dtype=torch.long)
    tgt_out = torch.full((b, t_len), PAD_ID, dtype=torch.long)
    for row, example in enumerate(items):
        for j, ids in enumerate(example.turns):
            turns[row, j, : len(ids)] = torch.tensor(ids)
            lengths[row, j] = len(ids)
        tgt_in[row, : len(example.response) + 1] = torch.tensor([BOS_ID, *example.response])
        tgt_out[row, : len(example.response) + 1] = torch.tensor([*example.response, EOS_ID])
    persona = torch.tensor([e.persona for e in items], dtype=torch.long)
    return {"turns": turns, "turn_lengths": lengths, "persona": persona, "tgt_in": tgt_in, "tgt_out": tgt_out}


def batches_of(items: Sequence[EncodedExample], batch_size: int) -> list[list[EncodedExample]]:
    """Batches of similar response lengths and context sizes (little padding); composition fixed."""
    order = sorted(range(len(items)), key=lambda i: (len(items[i].response), len(items[i].turns), i))
    return [[items[i] for i in order[k : k + batch_size]] for k in range(0, len(order), batch_size)]


def persona_table(conversations: Sequence[Conversation], min_turns: int) -> list[str]:
    """Persona names by id: 0 is NO_PERSONA, then the speakers with >= min_turns turns, most frequent first."""
    counts = Counter(t.speaker for c in conversations for t in c.turns[1:] if t.speaker)
    return [NO_PERSONA, *sorted((s for s, n in counts.items() if n >= min_turns), key=lambda s: (-counts[s], s))]


@torch.no_grad()
def reference_scores(model: HRED | SingleTurn, items: Sequence[EncodedExample],
                     batch_size: int) -> list[tuple[float, int]]:  # fmt: skip
    """(log p(response | context), tokens incl. eos) of each example, teacher-forced, in input order."""
    model.eval()
    device = next(model.parameters()).device
    out: list[tuple[float, int]] = [(0.0, 0)] * len(items)
    order = sorted(range(len(items)), key=lambda i: (len(items[i].response), len(items[i].turns)))
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        batch = move_to(make_chat_batch([items[i] for i in chunk]), device)
        log_probs = model(batch).float().log_softmax(-1).gather(-1, batch["tgt_out"].unsqueeze(-1)).squeeze(-1)
        real = batch["tgt_out"] != PAD_ID
        sums, counts = log_probs.masked_fill(~real, 0.0).sum(-1).tolist(), real.sum(-1).tolist()
        for i, total, count in zip(chunk, sums, counts):
            out[i] = (total, count)
    return out


def ranking_loss(scores: torch.Tensor, responses: torch.Tensor) -> tuple[torch.Tensor, float]:
    """In-batch ranking: scores (B, B) of context i against response j, responses (B, T) the batch's tgt_out.
    Cross-entropy of each row's own response among the B (another row's identical response, e.g. "lol",
    is masked: it is not a wrong answer) and the share of rows whose own response scores highest."""
    same = (responses.unsqueeze(1) == responses.unsqueeze(0)).all(-1)  # (B, B)
    same.fill_diagonal_(False)
    scores = scores.float().masked_fill(same, float("-inf"))
    target = torch.arange(scores.size(0), device=scores.device)
    right = (scores.argmax(1) == target).float().mean().item()
    return torch.nn.functional.cross_entropy(scores, target), right


@torch.no_grad()
def ranking_recall(model: HRED, items: Sequence[EncodedExample], batch_size: int, candidates: int = 10) -> float:
    """Validation R@1 of the ranker: each example's response among those of the next `candidates` - 1
    examples of a fixed shuffle (a cheap stand-in for `rnnlab eval`'s 1-in-10 from other conversations)."""
    model.eval()
    device = next(model.parameters()).device
    order = shuffled_indices(len(items), 0, 0)
    groups = [order[k : k + candidates] for k in range(0, len(order) - candidates + 1, candidates)]
    right = 0
    for start in range(0, len(groups), max(1, batch_size // candidates)):
        chunk = groups[start : start + max(1, batch_size // candidates)]
        pairs = [EncodedExample(items[g[0]].turns, items[g[0]].persona, items[j].response, 0) for g in chunk for j in g]
        scores = model.pair_scores(move_to(make_chat_batch(pairs), device)).view(len(chunk), candidates)
        right += int((scores.argmax(1) == 0).sum())
    return right / max(len(groups), 1)


def perplexity(scores: Sequence[tuple[float, int]]) -> float:
    total, count = sum(s for s, _ in scores), sum(n for _, n in scores)
    return math.exp(min(-total / max(count, 1), 50.0))


# ---------------------------------------------------------------------------------------------- task
class ChatTask(TrainTask):
    """Batches of (context turns, persona, response), the teacher-forced loss, validation perplexity."""

    loss_metric = "ppl"

    def __init__(self, config: ChatConfig, model: HRED | SingleTurn, vocab: SubwordVocab, personas: list[str],
                 train: list[EncodedExample], valid: list[EncodedExample]) -> None:  # fmt: skip
        self.config, self.model, self.vocab, self.personas = config, model, vocab, personas
        if config.model.ranking_weight:  # the loss is the decoder's plus the ranker's: exp of it is no perplexity
            self.loss_metric = None
        self.valid = valid[: config.eval.max_examples or None]
        self.train = train
        # length-sorted batches are fixed once (only their order changes); random ones are drawn per epoch
        self.batches = batches_of(train, config.batch_size) if config.batches == "length" else None

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def train_batches(self, epoch: int):
        if self.batches is None:  # batches: random
            order = shuffled_indices(len(self.train), self.config.trainer.seed, epoch)
            size = self.config.batch_size
            batches = [[self.train[i] for i in order[k : k + size]] for k in range(0, len(order), size)]
            return EpochBatches(batches, make=make_chat_batch)
        order = shuffled_indices(len(self.batches), self.config.trainer.seed, epoch)
        return EpochBatches(self.batches, order, make=make_chat_batch)

    def train_step(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> StepOutput:
        weight = self.config.model.ranking_weight
        if not weight:
            loss, count = sequence_loss(model(batch), batch["tgt_out"], PAD_ID, self.config.label_smoothing)
            return StepOutput(loss / count, count)
        logits, scores = model(batch, ranking=True)
        loss, count = sequence_loss(logits, batch["tgt_out"], PAD_ID, self.config.label_smoothing)
        rank_loss, right = ranking_loss(scores, batch["tgt_out"])
        lm_loss = loss / count
        return StepOutput(lm_loss + weight * rank_loss, count,
                          {"lm_loss": lm_loss.item(), "rank_loss": rank_loss.item(), "rank_acc": right})  # fmt: skip

    def evaluate(self) -> dict[str, float]:
        scores = reference_scores(self.model, self.valid, self.config.batch_size)
        ppl = perplexity(scores)
        metrics = {"loss": math.log(ppl), "ppl": ppl}
        if isinstance(self.model, HRED) and self.model.ranker is not None:
            metrics["r_at_1"] = ranking_recall(self.model, self.valid, self.config.batch_size)
        return metrics

    def checkpoint_config(self) -> dict[str, Any]:
        return {"task": TASK_NAME, "config": config_to_dict(self.config)}

    def checkpoint_files(self) -> dict[str, bytes]:
        import json

        return {"spm.model": self.vocab.model_proto,
                "personas.json": json.dumps(self.personas, ensure_ascii=False).encode("utf-8")}  # fmt: skip


def model_for(config: ChatConfig, vocab: SubwordVocab, personas: list[str]) -> HRED | SingleTurn:
    try:
        return build_chat_model(config.model, len(vocab), len(personas), BOS_ID, EOS_ID, PAD_ID)
    except ValueError as error:
        raise ConfigError(f"model: {error}") from None


def build(config: ChatConfig, splits: dict[str, list[Conversation]] | None = None,
          vocab: SubwordVocab | None = None) -> TrainSetup:  # fmt: skip
    """The task and model of `config` (splits / vocab: reuse these instead of loading / training them)."""
    splits = splits if splits is not None else load_conversations(config.data)
    train_conversations = splits.get("train") or []
    data = config.data
    if not any(len(c.turns) >= 2 for c in train_conversations):
        raise DataError("no training examples: every conversation needs at least two turns")
    if vocab is None:
        texts = [t.text for c in train_conversations for t in c.turns]
        vocab = SubwordVocab.train(texts, config.vocab.size, config.vocab.model_type, config.vocab.character_coverage)
    personas = persona_table(train_conversations, data.persona_min_turns) if config.model.persona_dim else [NO_PERSONA]
    ids = {name: i for i, name in enumerate(personas)}
    train = encode_examples(train_conversations, vocab, ids, data.max_turns, data.max_len, config.reverse)
    valid = encode_examples(splits.get("valid") or [], vocab, ids, data.max_turns, data.max_len, config.reverse)
    if not train:
        raise DataError("no training examples: every turn encoded to nothing")
    if not valid:
        raise DataError("no validation examples: the valid conversations need at least two turns")
    set_seed(config.trainer.seed)
    model = model_for(config, vocab, personas)
    if isinstance(model, HRED) and model.lexical_log_weight is not None:  # idf of the training turns
        model.set_idf(vocab.encode(t.text) for c in train_conversations for t in c.turns)
    task = ChatTask(config, model, vocab, personas, train, valid)
    banner = (f"chat ({config.model.kind}{', reverse' if config.reverse else ''}): {len(train)} training examples "
              f"from {len(train_conversations)} conversations, {len(task.valid)} valid; vocab {len(vocab)} "
              f"pieces; {len(personas) - 1} personas")  # fmt: skip
    return TrainSetup(task=task, model=model, banner=banner)


def _descriptor() -> TaskDescriptor:
    from rnnlab.tasks.chat_model import CHAT_VERB, evaluate, format_evaluation, load_chatbot

    return TaskDescriptor(
        name=TASK_NAME,
        summary="multi-turn dialogue: hierarchical encoder-decoder, persona, MMI reranking, interactive chat",
        config_class=ChatConfig,
        build=build,
        load=load_chatbot,
        evaluate=evaluate,
        format_eval=format_evaluation,
        verbs=(CHAT_VERB,),
        docs="docs/dialogue.md",
    )


DESCRIPTOR = register_task(_descriptor())
