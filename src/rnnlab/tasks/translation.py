"""Machine translation with an RNN encoder-decoder: config, subword vocabularies, batching, the Trainer task,
loading a trained model (`Translator`) and evaluation with sacrebleu.

    rnnlab train translate --config configs/translate/de-en-attn.yaml
    rnnlab translate runs/de-en-attn/best "Es regnet in Strömen."
    rnnlab eval runs/de-en-attn/best --split test

A model directory (the Trainer's `best/` or `last/`) holds config.json (`"task": "translate"` plus the whole
TranslationConfig), model.safetensors and the sentencepiece model(s): `spm.model` when the vocabulary is
shared, else `src.model` and `tgt.model`.

Lengths: training pairs with more than `data.max_len` subword tokens on either side are skipped (counted
and reported); at translation time a longer input is truncated to `data.max_len` tokens with a warning.
Characters the source vocabulary does not know become `<unk>` with a warning. Empty inputs are refused.
Decoding always ends: at most `decode.max_len_ratio * source length + 10` tokens.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from rnnlab.config import config_from_dict, config_to_dict, require
from rnnlab.data.parallel import Pair, builtin_pairs, is_builtin, load_builtin, read_parallel
from rnnlab.errors import CheckpointError, ConfigError, DataError, UserError
from rnnlab.nn.decoding import Hypothesis
from rnnlab.nn.seq2seq import Seq2Seq, Seq2SeqConfig, TeacherForcingSchedule, build_seq2seq, sequence_loss
from rnnlab.tasks.registry import EvalRequest, TaskDescriptor, register_task
from rnnlab.train import (
    EpochBatches,
    StepOutput,
    TrainerConfig,
    TrainTask,
    move_to,
    set_seed,
    shuffled_indices,
)
from rnnlab.validation import unknown_note

TASK_NAME = "translate"
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3


# ------------------------------------------------------------------------------------------------ config


@dataclass
class DataConfig:
    dataset: str = "de-en"  # de-en / en-zh (built-in) or "files" (then train/valid/test below)
    train: str | None = None  # "pairs.tsv" or "train.src,train.tgt"
    valid: str | None = None
    test: str | None = None
    include_phrases: bool = False  # de-en: add the Ding phrase pairs to the sentences
    max_train_pairs: int | None = None  # use only the first N training pairs (quick runs)
    max_len: int = 64  # subword tokens per side (see the module docstring)
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        datasets = [*builtin_pairs(), "files"]
        require(self.dataset == "files" or is_builtin(self.dataset), "dataset", "one of " + ", ".join(datasets),
                self.dataset)  # fmt: skip
        require(self.dataset != "files" or bool(self.train and self.valid), "dataset",
                "train and valid files with dataset=files (and test for eval)",
                {"train": self.train, "valid": self.valid})  # fmt: skip
        require(self.max_len >= 2, "max_len", ">= 2", self.max_len)


@dataclass
class VocabConfig:
    shared: bool = True  # one sentencepiece model for both languages
    size: int = 4000  # pieces (soft limit); the source's when separate
    tgt_size: int | None = None  # separate vocabularies: the target's (default: size)
    model_type: str = "unigram"  # unigram / bpe
    character_coverage: float = 1.0  # use 0.9995 for Chinese-sized alphabets

    def __post_init__(self) -> None:
        require(self.model_type in ("unigram", "bpe"), "model_type", "unigram or bpe", self.model_type)
        require(self.size >= 16, "size", ">= 16", self.size)


@dataclass
class DecodeConfig:
    method: str = "beam"  # beam / greedy
    beam_size: int = 5
    n_best: int = 1
    alpha: float = 1.0  # GNMT length penalty ((5 + len) / 6) ** alpha
    max_len_ratio: float = 2.0  # max target tokens = ratio * source tokens + 10
    no_repeat_ngram_size: int = 0
    batch_size: int = 64

    def __post_init__(self) -> None:
        require(self.method in ("beam", "greedy"), "method", "beam or greedy", self.method)
        require(self.beam_size >= 1, "beam_size", ">= 1", self.beam_size)
        require(1 <= self.n_best <= self.beam_size, "n_best", "1 <= n_best <= beam_size",
                {"n_best": self.n_best, "beam_size": self.beam_size})  # fmt: skip


@dataclass
class TranslationConfig:
    output_dir: str = "runs/translate"
    data: DataConfig = field(default_factory=DataConfig)
    vocab: VocabConfig = field(default_factory=VocabConfig)
    model: Seq2SeqConfig = field(default_factory=Seq2SeqConfig)
    batch_size: int = 64  # sentence pairs per batch (similar lengths together)
    label_smoothing: float = 0.1
    teacher_forcing: TeacherForcingSchedule = field(default_factory=TeacherForcingSchedule)
    eval_bleu_sentences: int = 200  # greedy BLEU on this many valid sentences at each evaluation (0: off)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)

    def __post_init__(self) -> None:
        require(0.0 <= self.label_smoothing < 1.0, "label_smoothing", "a value in [0, 1)", self.label_smoothing)
        require(self.batch_size >= 1, "batch_size", ">= 1", self.batch_size)


# ------------------------------------------------------------------------------------------- vocabulary


class SubwordVocab:
    """A sentencepiece model with rnnlab's fixed special ids: pad 0, unk 1, bos 2, eos 3."""

    def __init__(self, model_proto: bytes) -> None:
        import sentencepiece as spm

        self.model_proto = model_proto
        self.processor = spm.SentencePieceProcessor(model_proto=model_proto)
        ids = (self.processor.pad_id(), self.processor.unk_id(), self.processor.bos_id(), self.processor.eos_id())
        if ids != (PAD_ID, UNK_ID, BOS_ID, EOS_ID):
            raise CheckpointError(f"sentencepiece model has special ids {ids}, expected (0, 1, 2, 3)")

    @classmethod
    def train(cls, sentences: Sequence[str], size: int, model_type: str = "unigram",
              character_coverage: float = 1.0) -> SubwordVocab:  # fmt: skip
        import sentencepiece as spm

        if not sentences:
            raise DataError("cannot train a subword vocabulary on no sentences")
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences), model_writer=model, vocab_size=size, model_type=model_type,
            character_coverage=character_coverage, pad_id=PAD_ID, unk_id=UNK_ID, bos_id=BOS_ID, eos_id=EOS_ID,
            hard_vocab_limit=False, num_threads=1, minloglevel=2,
        )  # fmt: skip
        return cls(model.getvalue())

    def __len__(self) -> int:
        return self.processor.get_piece_size()

    def encode(self, text: str) -> list[int]:
        return self.processor.encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        return self.processor.decode([i for i in ids if i > EOS_ID or i == UNK_ID])

    def pieces(self, ids: Sequence[int]) -> list[str]:
        return [self.processor.id_to_piece(i) for i in ids]

    def unknown_characters(self, text: str) -> list[str]:
        """Characters of `text` that only map to <unk>."""
        return sorted({ch for ch in text if not ch.isspace() and UNK_ID in self.processor.encode(ch)})


def build_vocabularies(config: VocabConfig, train: Sequence[Pair]) -> tuple[SubwordVocab, SubwordVocab]:
    sources, targets = [s for s, _ in train], [t for _, t in train]
    if config.shared:
        vocab = SubwordVocab.train(sources + targets, config.size, config.model_type, config.character_coverage)
        return vocab, vocab
    src = SubwordVocab.train(sources, config.size, config.model_type, config.character_coverage)
    tgt = SubwordVocab.train(targets, config.tgt_size or config.size, config.model_type, config.character_coverage)
    return src, tgt


def vocabulary_files(src: SubwordVocab, tgt: SubwordVocab) -> dict[str, bytes]:
    if src is tgt:
        return {"spm.model": src.model_proto}
    return {"src.model": src.model_proto, "tgt.model": tgt.model_proto}


# ------------------------------------------------------------------------------------------------- data


def load_pairs(config: DataConfig) -> dict[str, list[Pair]]:
    """train / valid / test pairs of the configured dataset (test may be empty for user files)."""
    if config.dataset == "files":
        splits = {"train": read_parallel(config.train), "valid": read_parallel(config.valid)}
        splits["test"] = read_parallel(config.test) if config.test else []
    else:
        splits = load_builtin(config.dataset, config.cache_dir, config.include_phrases).splits
    if config.max_train_pairs:
        splits = dict(splits, train=splits["train"][: config.max_train_pairs])
    return splits


@dataclass
class EncodedPair:
    src: list[int]
    tgt: list[int]


def encode_pairs(pairs: Sequence[Pair], src_vocab: SubwordVocab, tgt_vocab: SubwordVocab,
                 max_len: int) -> tuple[list[EncodedPair], int]:  # fmt: skip
    """Encode pairs; returns (kept, number skipped for exceeding max_len on either side)."""
    kept, skipped = [], 0
    for src, tgt in pairs:
        s, t = src_vocab.encode(src), tgt_vocab.encode(tgt)
        if not s or not t or len(s) > max_len or len(t) > max_len:
            skipped += 1
            continue
        kept.append(EncodedPair(s, t))
    return kept, skipped


def make_batch(items: Sequence[EncodedPair]) -> dict[str, torch.Tensor]:
    """src (B, S), src_lengths (B,), tgt_in (B, T) = bos + target, tgt_out (B, T) = target + eos."""
    batch = len(items)
    src_len = max(len(p.src) for p in items)
    tgt_len = max(len(p.tgt) for p in items) + 1
    src = torch.full((batch, src_len), PAD_ID, dtype=torch.long)
    tgt_in = torch.full((batch, tgt_len), PAD_ID, dtype=torch.long)
    tgt_out = torch.full((batch, tgt_len), PAD_ID, dtype=torch.long)
    for row, pair in enumerate(items):
        src[row, : len(pair.src)] = torch.tensor(pair.src)
        tgt_in[row, : len(pair.tgt) + 1] = torch.tensor([BOS_ID, *pair.tgt])
        tgt_out[row, : len(pair.tgt) + 1] = torch.tensor([*pair.tgt, EOS_ID])
    lengths = torch.tensor([len(p.src) for p in items])
    return {"src": src, "src_lengths": lengths, "tgt_in": tgt_in, "tgt_out": tgt_out}


def length_batches(items: Sequence[EncodedPair], batch_size: int) -> list[list[EncodedPair]]:
    """Batches of similar source/target lengths (less padding); the composition is fixed, the order is
    shuffled per epoch by the task."""
    order = sorted(range(len(items)), key=lambda i: (len(items[i].src), len(items[i].tgt), i))
    return [[items[i] for i in order[k : k + batch_size]] for k in range(0, len(order), batch_size)]


# -------------------------------------------------------------------------------------------------- task


def model_from_config(config: TranslationConfig, src_vocab: SubwordVocab, tgt_vocab: SubwordVocab) -> Seq2Seq:
    try:
        return build_seq2seq(config.model, len(src_vocab), len(tgt_vocab), BOS_ID, EOS_ID, PAD_ID)
    except ValueError as error:
        raise ConfigError(f"model: {error}") from None


class TranslationTask(TrainTask):
    """What the Trainer needs: batches of sentence pairs, the teacher-forced loss, validation metrics."""

    loss_metric = "ppl"

    def __init__(self, config: TranslationConfig, splits: dict[str, list[Pair]] | None = None, log=print,
                 vocabs: tuple[SubwordVocab, SubwordVocab] | None = None) -> None:  # fmt: skip
        """splits: pairs per split (default: loaded from config.data); vocabs: (source, target) vocabularies
        to reuse (default: trained on the training pairs as config.vocab says)."""
        self.config = config
        self.splits = splits if splits is not None else load_pairs(config.data)
        if not self.splits.get("train"):
            raise DataError("no training pairs")
        if vocabs is None:
            vocabs = build_vocabularies(config.vocab, self.splits["train"])
        self.src_vocab, self.tgt_vocab = vocabs
        train, skipped = encode_pairs(self.splits["train"], self.src_vocab, self.tgt_vocab, config.data.max_len)
        if not train:
            raise DataError(f"every training pair is longer than data.max_len={config.data.max_len} tokens")
        self.valid, _ = encode_pairs(self.splits["valid"], self.src_vocab, self.tgt_vocab, 10**9)
        log(f"translate: {len(train)} training pairs ({skipped} longer than {config.data.max_len} tokens "
            f"skipped), {len(self.valid)} valid; vocab {len(self.src_vocab)} / {len(self.tgt_vocab)} pieces"
            f"{' (shared)' if config.vocab.shared else ''}")  # fmt: skip
        self.batches = length_batches(train, config.batch_size)
        set_seed(config.trainer.seed)  # the initial weights depend only on the seed
        self.model = model_from_config(config, self.src_vocab, self.tgt_vocab)
        self.updates = 0  # training steps seen, for the teacher-forcing schedule
        self.generator = torch.Generator().manual_seed(config.trainer.seed)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def train_batches(self, epoch: int):
        order = shuffled_indices(len(self.batches), self.config.trainer.seed, epoch)
        return EpochBatches(self.batches, order, make=make_batch)

    def train_step(self, batch: dict[str, torch.Tensor]) -> StepOutput:
        batch = move_to(batch, self.device)
        ratio = self.config.teacher_forcing.ratio(self.updates)
        self.updates += 1
        logits, _ = self.model(batch["src"], batch["src_lengths"], batch["tgt_in"], ratio, self.generator)
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
        n = min(self.config.eval_bleu_sentences, len(self.splits["valid"]))
        if n > 0:
            translator = Translator(self.model, self.src_vocab, self.tgt_vocab, self.config)
            pairs = self.splits["valid"][:n]
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


def train(config: TranslationConfig, resume: bool = False, log=print) -> dict[str, Any]:
    """Build the task and model from `config` and run the Trainer; returns the Trainer's summary."""
    from rnnlab.train import Trainer

    task = TranslationTask(config, log=log)
    trainer = Trainer(task, task.model, config.trainer, config.output_dir)
    return trainer.fit(resume=resume)


# ------------------------------------------------------------------------------------------- translator


@dataclass
class Translation:
    """One hypothesis: detokenised text, its ranking score and log-probability, and its subword ids."""

    text: str
    score: float
    log_prob: float
    ids: list[int]


class Translator:
    """A trained model with its vocabularies: translate, score pairs (forced decoding), attention maps."""

    def __init__(self, model: Seq2Seq, src_vocab: SubwordVocab, tgt_vocab: SubwordVocab,
                 config: TranslationConfig) -> None:  # fmt: skip
        self.model, self.src_vocab, self.tgt_vocab, self.config = model, src_vocab, tgt_vocab, config

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def encode_sources(self, sentences: Sequence[str], warn: bool = True) -> list[list[int]]:
        """Subword ids of each source; refuses empty ones, truncates long ones and warns about unknowns."""
        encoded = []
        limit = self.config.data.max_len
        for number, sentence in enumerate(sentences, start=1):
            ids = self.src_vocab.encode(sentence.strip())
            if not ids:
                raise DataError(f"sentence {number}: empty sentence; expected at least one word")
            if warn and UNK_ID in ids:
                unknown = list(self.src_vocab.unknown_characters(sentence))
                warnings.warn(f"sentence {number}: {unknown_note(unknown)}", stacklevel=2)
            if len(ids) > limit:
                if warn:
                    warnings.warn(f"input {number}: {len(ids)} subword tokens, longer than data.max_len={limit}; "
                                  f"translating only the first {limit}", stacklevel=2)  # fmt: skip
                ids = ids[:limit]
            encoded.append(ids)
        return encoded

    def _source_batch(self, ids: Sequence[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        src = torch.full((len(ids), max(len(s) for s in ids)), PAD_ID, dtype=torch.long)
        for row, s in enumerate(ids):
            src[row, : len(s)] = torch.tensor(s)
        return src.to(self.device), torch.tensor([len(s) for s in ids], device=self.device)

    @torch.no_grad()
    def translate(
        self,
        sentences: Sequence[str],
        *,
        method: str | None = None,
        beam_size: int | None = None,
        n_best: int | None = None,
        alpha: float | None = None,
        warn: bool = True,
    ) -> list[list[Translation]]:
        """n-best translations of each sentence (defaults from the config's `decode` section)."""
        decode = self.config.decode
        method = method or decode.method
        beam_size = beam_size or decode.beam_size
        n_best = n_best or (decode.n_best if method == "beam" else 1)
        alpha = decode.alpha if alpha is None else alpha
        self.model.eval()
        encoded = self.encode_sources(sentences, warn)
        results: list[list[Translation]] = [[] for _ in sentences]
        # Sorted by length so each batch pads little; results go back to input order.
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        for start in range(0, len(order), decode.batch_size):
            chunk = order[start : start + decode.batch_size]
            src, lengths = self._source_batch([encoded[i] for i in chunk])
            max_len = int(decode.max_len_ratio * int(lengths.max())) + 10
            hyps = self.model.translate(
                src, lengths, method=method, beam_size=beam_size, n_best=max(n_best, 1), max_len=max_len,
                alpha=alpha, no_repeat_ngram_size=decode.no_repeat_ngram_size,
            )  # fmt: skip
            for i, nbest in zip(chunk, hyps):
                results[i] = [self._as_translation(h) for h in nbest[:n_best]]
        return results

    def _as_translation(self, hyp: Hypothesis) -> Translation:
        return Translation(self.tgt_vocab.decode(hyp.tokens), hyp.score, hyp.log_prob, list(hyp.tokens))

    @torch.no_grad()
    def score_pairs(self, sources: Sequence[str], targets: Sequence[str] | Sequence[list[int]],
                    batch_size: int = 64) -> list[float]:  # fmt: skip
        """log p(target | source) under the model (forced decoding, eos included); targets as text or ids."""
        self.model.eval()
        scores: list[float] = []
        for start in range(0, len(sources), batch_size):
            src_ids = self.encode_sources(sources[start : start + batch_size], warn=False)
            tgt_ids = [t if isinstance(t, list) else self.tgt_vocab.encode(t) for t in targets[start : start + batch_size]]
            batch = move_to(make_batch([EncodedPair(s, t) for s, t in zip(src_ids, tgt_ids)]), self.device)
            logits, _ = self.model(batch["src"], batch["src_lengths"], batch["tgt_in"])
            log_probs = logits.float().log_softmax(-1).gather(-1, batch["tgt_out"].unsqueeze(-1)).squeeze(-1)
            log_probs = log_probs.masked_fill(batch["tgt_out"] == PAD_ID, 0.0)
            scores.extend(log_probs.sum(-1).tolist())
        return scores

    @torch.no_grad()
    def attention(self, source: str, target_ids: list[int]) -> tuple[list[str], list[str], torch.Tensor | None]:
        """(source pieces, target pieces + </s>, weights (T, S)) of the model reading `target_ids`."""
        self.model.eval()
        (src_ids,) = self.encode_sources([source], warn=False)
        batch = move_to(make_batch([EncodedPair(src_ids, target_ids)]), self.device)
        _, weights = self.model(batch["src"], batch["src_lengths"], batch["tgt_in"])
        src_pieces = self.src_vocab.pieces(src_ids)
        tgt_pieces = [*self.tgt_vocab.pieces(target_ids), "</s>"]
        return src_pieces, tgt_pieces, (weights[0].cpu() if weights is not None else None)


def load_translator(path: str | Path, device: str = "cpu") -> Translator:
    """A Translator from a model directory written by `rnnlab train translate`."""
    from rnnlab.train import load_checkpoint, load_model_weights

    path = Path(path)
    if not (path / "config.json").is_file() and (path / "best" / "config.json").is_file():
        path = path / "best"  # a training run's directory: use its best checkpoint
    checkpoint = load_checkpoint(path, map_location=device)
    if checkpoint.task != TASK_NAME:
        raise CheckpointError(f"{path}: a {checkpoint.task!r} model, not a translation model")
    config = config_from_dict(TranslationConfig, checkpoint.config.get("config", {}), f"{path}/config.json")
    if "spm.model" in checkpoint.files:
        src_vocab = tgt_vocab = SubwordVocab(checkpoint.read_bytes("spm.model"))
    else:
        src_vocab = SubwordVocab(checkpoint.read_bytes("src.model"))
        tgt_vocab = SubwordVocab(checkpoint.read_bytes("tgt.model"))
    model = model_from_config(config, src_vocab, tgt_vocab)
    load_model_weights(model, checkpoint)
    return Translator(model.to(device).eval(), src_vocab, tgt_vocab, config)


# ------------------------------------------------------------------------------------------- evaluation


def corpus_scores(hypotheses: Sequence[str], references: Sequence[str], target_language: str = "en") -> dict[str, Any]:
    """sacrebleu corpus BLEU and chrF (one reference per sentence) and their signatures."""
    import sacrebleu

    tokenize = "zh" if target_language == "zh" else "13a"
    bleu = sacrebleu.BLEU(tokenize=tokenize)
    chrf = sacrebleu.CHRF()
    bleu_score = bleu.corpus_score(list(hypotheses), [list(references)])
    chrf_score = chrf.corpus_score(list(hypotheses), [list(references)])
    return {
        "bleu": bleu_score.score,
        "chrf": chrf_score.score,
        "bleu_signature": str(bleu.get_signature()),
        "chrf_signature": str(chrf.get_signature()),
        "bleu_text": str(bleu_score),
    }


def target_language(config: TranslationConfig) -> str:
    return config.data.dataset.split("-")[-1] if is_builtin(config.data.dataset) else "en"


def evaluate(path: str | Path, request: EvalRequest) -> dict[str, Any]:
    """BLEU and chrF (sacrebleu, with signatures) on a split of the model's pairs, or a parallel file."""
    translator = load_translator(path)
    config = translator.config
    if request.data_file:
        pairs = read_parallel(request.data_file)
        where = request.data_file
    else:
        pairs = request.examples_of(load_pairs(config.data))
        where = f"{config.data.dataset} {request.split}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unknown characters / truncation in a test set: counted, not shouted
        outputs = translator.translate([s for s, _ in pairs])
    scores = corpus_scores([o[0].text for o in outputs], [t for _, t in pairs], target_language(config))
    decode = config.decode
    how = f"beam {decode.beam_size}, alpha {decode.alpha}" if decode.method == "beam" else "greedy"
    return {"data": where, "sentences": len(pairs), "decoding": how, **scores}


def format_evaluation(result: dict[str, Any]) -> str:
    return (f"{result['data']}: {result['sentences']} sentences, {result['decoding']}\n"
            f"BLEU = {result['bleu']:.2f}   ({result['bleu_signature']})\n"
            f"chrF = {result['chrf']:.2f}   ({result['chrf_signature']})\n{result['bleu_text']}")  # fmt: skip


def tune_reranker(translator: Translator, reranker, beam: int) -> dict[str, Any]:
    """Grid-search the noisy-channel weights on the valid split; the weights and BLEU before/after."""
    pairs = load_pairs(translator.config.data)["valid"]
    sources, references = [s for s, _ in pairs], [t for _, t in pairs]
    nbest = translator.translate(sources, beam_size=beam, n_best=beam, warn=False)
    weights, bleu = reranker.tune(sources, references, nbest, target_language(translator.config))
    baseline = corpus_scores([n[0].text for n in nbest], references, target_language(translator.config))["bleu"]
    return {"bleu_beam": baseline, "bleu_reranked": bleu, "lm_weight": weights.lm,
            "reverse_weight": weights.reverse, "length_weight": weights.length}  # fmt: skip


def plot_attention(translator: Translator, source: str, target_ids: list[int], path: str) -> None:
    """The attention weights of one translation as a heatmap (target subwords x source subwords)."""
    src, tgt, weights = translator.attention(source, target_ids)
    if weights is None:
        raise UserError("--plot-attention: this model has no attention (plain seq2seq)")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(4, 0.45 * len(src) + 2), max(3, 0.4 * len(tgt) + 1.5)))
    ax.imshow(weights.numpy(), cmap="viridis", aspect="auto", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(src)), src, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(tgt)), tgt, fontsize=8)
    ax.set_xlabel("source subwords")
    ax.set_ylabel("target subwords")
    ax.set_title("attention weights")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


DESCRIPTOR = register_task(TaskDescriptor(
    name=TASK_NAME,
    summary="RNN encoder-decoder translation (attention, beam search, BLEU)",
    config_class=TranslationConfig,
    train=train,
    load=load_translator,
    evaluate=evaluate,
    format_eval=format_evaluation,
    verbs=("translate",),
))  # fmt: skip
