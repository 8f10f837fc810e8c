"""Machine translation with an RNN encoder-decoder: the training task and the task's registration.

    rnnlab train translate --config configs/translate/de-en-attn.yaml
    rnnlab translate runs/de-en-attn/best "Es regnet in Strömen."
    rnnlab eval runs/de-en-attn/best --split test

The task is spread over a few modules, one concern each, that the next sentence-writing tasks (captioning,
dialogue) copy or reuse:

* `rnnlab.tasks.translation_config`: the config (`TranslationConfig`), the configured pairs, the model;
* this module: `build(config)`, what the Trainer trains (`TranslationTask`), and the task's descriptor;
* `rnnlab.tasks.translator`: a trained model loaded (`Translator`, `load_translator`) and `rnnlab eval`;
* `rnnlab.tasks.translate_verb`: the `translate` verb (options, run, output, the attention heatmap);
* shared outside tasks/: subword vocabularies `rnnlab.data.subword`, batches of sentence pairs
  `rnnlab.data.pair_batches`, BLEU / chrF `rnnlab.text_metrics`.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from rnnlab.config import config_to_dict
from rnnlab.data.pair_batches import EncodedPair, encode_pairs, length_batches, make_batch
from rnnlab.data.parallel import Pair
from rnnlab.data.subword import PAD_ID, SubwordVocab, build_vocabularies, read_vocabularies, vocabulary_files
from rnnlab.errors import CheckpointError, DataError
from rnnlab.nn.seq2seq import Seq2Seq, sequence_loss
from rnnlab.tasks.registry import TaskDescriptor, register_task
from rnnlab.tasks.translate_verb import TRANSLATE_VERB
from rnnlab.tasks.translation_config import (
    TASK_NAME,
    TranslationConfig,
    load_pairs,
    model_from_config,
)
from rnnlab.tasks.translator import Translator, evaluate, format_evaluation, load_translator
from rnnlab.text_metrics import corpus_scores
from rnnlab.train import EpochBatches, StepOutput, TrainSetup, TrainTask, move_to, set_seed, shuffled_indices

__all__ = ["DESCRIPTOR", "TranslationConfig", "TranslationTask", "build"]


class TranslationTask(TrainTask):
    """What the Trainer needs: batches of sentence pairs, the teacher-forced loss, validation metrics."""

    loss_metric = "ppl"

    def __init__(self, config: TranslationConfig, model: Seq2Seq, src_vocab: SubwordVocab, tgt_vocab: SubwordVocab,
                 train: list[EncodedPair], valid: list[Pair]) -> None:  # fmt: skip
        """train: the encoded training pairs (already length-filtered); valid: the validation pairs as text."""
        self.config, self.model = config, model
        self.src_vocab, self.tgt_vocab = src_vocab, tgt_vocab
        self.valid_pairs = valid
        self.valid, _ = encode_pairs(valid, src_vocab, tgt_vocab, 10**9)
        self.batches = length_batches(train, config.batch_size)
        self.updates = 0  # training steps seen, for the teacher-forcing schedule
        self.generator = torch.Generator().manual_seed(config.trainer.seed)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def train_batches(self, epoch: int):
        order = shuffled_indices(len(self.batches), self.config.trainer.seed, epoch)
        return EpochBatches(self.batches, order, make=make_batch)

    def train_step(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> StepOutput:
        ratio = self.config.teacher_forcing.ratio(self.updates)
        self.updates += 1
        logits, _ = model(batch["src"], batch["src_lengths"], batch["tgt_in"], ratio, self.generator)
        loss, count = sequence_loss(logits, batch["tgt_out"], PAD_ID, self.config.label_smoothing)
        return StepOutput(loss / count, count, {"teacher_forcing": ratio})

    def evaluate(self) -> dict[str, float]:
        total, count = 0.0, 0
        for items in length_batches(self.valid, self.config.batch_size):
            batch = move_to(make_batch(items), self.device)
            logits, _ = self.model(batch["src"], batch["src_lengths"], batch["tgt_in"])
            loss, n = sequence_loss(logits, batch["tgt_out"], PAD_ID)
            total, count = total + float(loss), count + n
        metrics = {"loss": total / max(count, 1), "ppl": math.exp(min(total / max(count, 1), 50.0))}
        n = min(self.config.eval_bleu_sentences, len(self.valid_pairs))
        if n > 0:
            translator = Translator(self.model, self.src_vocab, self.tgt_vocab, self.config)
            pairs = self.valid_pairs[:n]
            outputs = translator.translate([s for s, _ in pairs], method="greedy", warn=False)
            metrics["bleu"] = corpus_scores([o[0].text for o in outputs], [t for _, t in pairs])["bleu"]
        return metrics

    def checkpoint_config(self) -> dict[str, Any]:
        return {"task": TASK_NAME, "config": config_to_dict(self.config)}

    def checkpoint_files(self) -> dict[str, bytes]:
        return vocabulary_files(self.src_vocab, self.tgt_vocab)

    def state_dict(self) -> dict[str, Any]:
        return {"updates": self.updates, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.updates = int(state.get("updates", 0))
        if "generator" in state:
            self.generator.set_state(state["generator"])


def vocabularies_of(path: str) -> tuple[SubwordVocab, SubwordVocab]:
    """(source, target) vocabularies of the translation model at `path` (a run, its best/ or last/)."""
    from rnnlab.train import load_model_dir

    try:
        checkpoint = load_model_dir(path, TASK_NAME)
    except CheckpointError as error:
        raise CheckpointError(f"trainer.init_from: {error}") from None
    return read_vocabularies(checkpoint.files, checkpoint.read_bytes)


def build(config: TranslationConfig, splits: dict[str, list[Pair]] | None = None,
          vocabs: tuple[SubwordVocab, SubwordVocab] | None = None) -> TrainSetup:  # fmt: skip
    """The task and model of `config` for the shared Trainer (`rnnlab train`, `rnnlab.train.run.train_task`).

    splits: pairs per split (default: loaded from config.data); vocabs: (source, target) vocabularies to
    reuse (default: those of trainer.init_from when set, else trained on the training pairs as config.vocab
    says; the same for the same pairs).
    """
    splits = splits if splits is not None else load_pairs(config.data)
    if not splits.get("train"):
        raise DataError("no training pairs")
    init_from = config.trainer.init_from
    vocab_of_init = vocabs is None and init_from is not None
    if vocab_of_init:  # the weights' ids are that model's pieces: fine-tuning it (on other pairs) keeps them
        vocabs = vocabularies_of(init_from)
    src_vocab, tgt_vocab = vocabs if vocabs is not None else build_vocabularies(config.vocab, splits["train"])
    train, skipped = encode_pairs(splits["train"], src_vocab, tgt_vocab, config.data.max_len)
    if not train:
        raise DataError(f"every training pair is longer than data.max_len={config.data.max_len} tokens")
    set_seed(config.trainer.seed)  # the initial weights depend only on the seed
    model = model_from_config(config, src_vocab, tgt_vocab)
    task = TranslationTask(config, model, src_vocab, tgt_vocab, train, splits.get("valid", []))
    banner = (f"translate: {len(train)} training pairs ({skipped} longer than {config.data.max_len} tokens "
              f"skipped), {len(task.valid)} valid; vocab {len(src_vocab)} / {len(tgt_vocab)} pieces"
              f"{' (shared)' if src_vocab is tgt_vocab else ''}"
              f"{' from trainer.init_from' if vocab_of_init else ''}")  # fmt: skip
    return TrainSetup(task=task, model=model, banner=banner)


DESCRIPTOR = register_task(TaskDescriptor(
    name=TASK_NAME,
    summary="RNN encoder-decoder translation (attention, beam search, BLEU)",
    config_class=TranslationConfig,
    build=build,
    load=load_translator,
    evaluate=evaluate,
    format_eval=format_evaluation,
    verbs=(TRANSLATE_VERB,),
    docs="docs/translation.md",
))  # fmt: skip
