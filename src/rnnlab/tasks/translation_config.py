"""The translation task's config (`task: translate` YAML files) and what it names: the sentence pairs of
the configured dataset, the model it builds, the target language BLEU is tokenised for.

The task itself (training, registration) is `rnnlab.tasks.translation`; the loaded model
`rnnlab.tasks.translator`; the `translate` verb `rnnlab.tasks.translate_verb`.

Lengths: training pairs with more than `data.max_len` subword tokens on either side are skipped (counted
and reported); at translation time a longer input is truncated to `data.max_len` tokens with a warning.
Decoding always ends: at most `decode.max_len_ratio * source length + 10` tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rnnlab.config import FILES, data_source, require, require_sizes
from rnnlab.data.parallel import Pair, builtin_pairs, is_builtin, load_builtin, read_parallel
from rnnlab.data.subword import BOS_ID, EOS_ID, PAD_ID, SubwordVocab, VocabConfig
from rnnlab.errors import ConfigError
from rnnlab.nn.seq2seq import Seq2Seq, Seq2SeqConfig, TeacherForcingSchedule, build_seq2seq
from rnnlab.train import TrainerConfig

__all__ = [
    "TASK_NAME",
    "DataConfig",
    "DecodeConfig",
    "TranslationConfig",
    "VocabConfig",
    "data_label",
    "load_pairs",
    "model_from_config",
    "target_language",
]

TASK_NAME = "translate"


@dataclass
class DataConfig:
    dataset: str | None = "de-en"  # de-en / en-zh (built-in) or "files" (null too; then train/valid/test below)
    train: str | None = None  # "pairs.tsv" or "train.src,train.tgt"
    valid: str | None = None
    test: str | None = None
    include_phrases: bool = False  # de-en: add the Ding phrase pairs to the sentences
    max_train_pairs: int | None = None  # use only the first N training pairs (quick runs)
    reverse: bool = False  # swap the sides (de-en data trains en->de: the noisy channel's reverse model)
    max_len: int = 64  # subword tokens per side (see the module docstring)
    cache_dir: str | None = None  # where a built-in dataset is cached

    def __post_init__(self) -> None:
        # files-only and built-in-only options are refused with the other kind of data (they would be ignored)
        self.dataset = data_source(self, {"train": None, "valid": None, "test": None}, files=FILES,
                                   builtin_only={"include_phrases": False, "cache_dir": None})  # fmt: skip
        datasets = [*builtin_pairs(), "files"]
        require(self.dataset == "files" or is_builtin(self.dataset), "dataset", "one of " + ", ".join(datasets),
                self.dataset)  # fmt: skip
        require(self.dataset != "files" or bool(self.train and self.valid), "dataset",
                "train and valid files with dataset=files (and test for eval)",
                {"train": self.train, "valid": self.valid})  # fmt: skip
        require_sizes(self, "max_len", low=2)
        require_sizes(self, "max_train_pairs")


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
        require_sizes(self, "beam_size", high=256)  # the same cap as `translate --beam`
        require_sizes(self, "batch_size")
        require_sizes(self, "no_repeat_ngram_size", low=0, high=64)  # 0 = off
        require(0.0 <= self.alpha <= 10.0, "alpha", "a length penalty in [0, 10]", self.alpha)
        require(0.0 < self.max_len_ratio <= 100.0, "max_len_ratio", "a ratio in (0, 100]", self.max_len_ratio)
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
        require_sizes(self, "batch_size")
        require_sizes(self, "eval_bleu_sentences", low=0)
        # what TranslationTask.evaluate returns (bleu only when it is computed); checked before any data is read
        metrics = ("loss", "ppl", "bleu") if self.eval_bleu_sentences > 0 else ("loss", "ppl")
        require(self.trainer.metric in metrics, "trainer.metric", " / ".join(metrics), self.trainer.metric)


def load_pairs(config: DataConfig) -> dict[str, list[Pair]]:
    """train / valid / test pairs of the configured dataset (test may be empty for user files)."""
    if config.dataset == "files":
        splits = {"train": read_parallel(config.train), "valid": read_parallel(config.valid)}
        splits["test"] = read_parallel(config.test) if config.test else []
    else:
        splits = load_builtin(config.dataset, config.cache_dir).splits
        if config.include_phrases:
            # The dictionary's phrase pairs are extra training data only: valid and test stay the example
            # sentences, so scores compare with and without them (both splits hash the source: no leak).
            phrases = load_builtin(config.dataset, config.cache_dir, include_phrases=True).splits
            splits = dict(splits, train=phrases["train"])
    if config.max_train_pairs:
        splits = dict(splits, train=splits["train"][: config.max_train_pairs])
    if config.reverse:
        splits = {name: [(tgt, src) for src, tgt in pairs] for name, pairs in splits.items()}
    return splits


def data_label(config: DataConfig) -> str:
    """The configured data as `rnnlab eval` names it: "de-en", or "de-en (reversed: target to source)"."""
    return f"{config.dataset} (reversed: target to source)" if config.reverse else str(config.dataset)


def target_language(config: TranslationConfig) -> str:
    """The target side's language ("en", "zh") for BLEU's tokenizer; "en" for user files."""
    if not is_builtin(config.data.dataset):
        return "en"
    source, target = config.data.dataset.split("-")
    return source if config.data.reverse else target


def model_from_config(config: TranslationConfig, src_vocab: SubwordVocab, tgt_vocab: SubwordVocab) -> Seq2Seq:
    """A freshly initialised Seq2Seq of the configured shape for these vocabularies."""
    try:
        return build_seq2seq(config.model, len(src_vocab), len(tgt_vocab), BOS_ID, EOS_ID, PAD_ID)
    except ValueError as error:
        raise ConfigError(f"model: {error}") from None
