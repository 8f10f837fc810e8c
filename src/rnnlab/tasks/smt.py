"""Statistical machine translation, the chapter's noisy channel: ê = argmax_e p(f | e) p(e).

    rnnlab train configs/smt/de-en.yaml          # IBM Models 1+2 by EM, a target-side n-gram LM, tuned weights
    rnnlab translate runs/smt-de-en "Es regnet."  # the same verb (and options) as a neural translator
    rnnlab eval runs/smt-de-en                    # sacrebleu BLEU and chrF on the test split

Training is one pass (`resumable=False`): tokenise the pairs (`rnnlab.smt.words`), EM for the translation
model p(f | e) (`rnnlab.smt.ibm`, the source side f given the target e: the noisy channel's direction), a
modified-Kneser-Ney n-gram model p(e) of the target side (`rnnlab.lm.ngram`), then a small grid search of the
decoder's language-model weight and word penalty for BLEU on valid sentences (a minimal MERT). The decoder is
`rnnlab.smt.decoder`. The saved model directory holds the tables (safetensors), the two word lists and the
language model as an ARPA file, the format Moses and KenLM read.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnlab.config import require, require_sizes
from rnnlab.data.parallel import read_parallel
from rnnlab.errors import ConfigError, DataError, UserError
from rnnlab.lm.ngram import NGramModel
from rnnlab.smt.decoder import DecoderSettings, NoisyChannelDecoder, proposal_table
from rnnlab.smt.ibm import IBMModel, WordVocab, train_ibm
from rnnlab.smt.words import detokenize, words
from rnnlab.tasks.registry import EvalRequest, TaskDescriptor, register_task
from rnnlab.tasks.translate_verb import TRANSLATE_VERB
from rnnlab.tasks.translation_config import DataConfig, data_label, load_pairs, target_language
from rnnlab.tasks.translator import Translation
from rnnlab.text_metrics import corpus_scores

TASK = "smt"
LM_WEIGHTS = (0.25, 0.5, 1.0, 1.5)
WORD_PENALTIES = (-1.0, 0.0, 1.0, 2.0)


@dataclass
class SMTModelConfig:
    model1_iterations: int = 5  # EM iterations of Model 1 (t only)
    model2_iterations: int = 5  # then of Model 2 (t and a(i | j, l, m)); 0: Model 1 alone
    lm_order: int = 3  # the target-side n-gram language model
    candidates: int = 8  # target words each source word may become
    frequent: int = 3  # most frequent target words that may precede the best one ("the house" for "haus")

    def __post_init__(self) -> None:
        require_sizes(self, "model1_iterations", high=1000)
        require_sizes(self, "model2_iterations", low=0, high=1000)
        require_sizes(self, "lm_order", high=10)
        require_sizes(self, "candidates", high=1000)
        require_sizes(self, "frequent", low=0, high=100)


@dataclass
class SMTDecodeConfig:
    beam_size: int = 10
    n_best: int = 1
    lm_weight: float = 1.0  # tuned on valid when tune_sentences > 0
    tm_weight: float = 1.0
    word_penalty: float = 0.0  # tuned on valid when tune_sentences > 0
    distortion_weight: float = 0.5  # cost per source position jumped
    distortion_limit: int = 4  # reorder within this many source positions

    def __post_init__(self) -> None:
        require_sizes(self, "beam_size", high=256)
        require(1 <= self.n_best <= self.beam_size, "n_best", "1 <= n_best <= beam_size",
                {"n_best": self.n_best, "beam_size": self.beam_size})  # fmt: skip
        for name in ("lm_weight", "tm_weight"):
            require(0.0 <= getattr(self, name) <= 100.0, name, "a weight in [0, 100]", getattr(self, name))
        require(-100.0 <= self.word_penalty <= 100.0, "word_penalty", "a value in [-100, 100]", self.word_penalty)
        require(0.0 <= self.distortion_weight <= 100.0, "distortion_weight", "a weight in [0, 100]",
                self.distortion_weight)  # fmt: skip
        require_sizes(self, "distortion_limit", low=0, high=20)


@dataclass
class SMTConfig:
    output_dir: str = "runs/smt"
    data: DataConfig = field(default_factory=DataConfig)
    model: SMTModelConfig = field(default_factory=SMTModelConfig)
    decode: SMTDecodeConfig = field(default_factory=SMTDecodeConfig)
    tune_sentences: int = 200  # valid sentences for the weight grid search (0: keep decode's weights)

    def __post_init__(self) -> None:
        require_sizes(self, "tune_sentences", low=0, high=100_000)


# ------------------------------------------------------------------------------------------- model
class StatisticalTranslator:
    """A trained noisy-channel translator with the interface `rnnlab translate` uses (like `Translator`)."""

    def __init__(self, config: SMTConfig, channel: IBMModel, lm: NGramModel, proposals: np.ndarray,
                 frequent: np.ndarray):  # fmt: skip
        self.config, self.channel, self.lm = config, channel, lm
        self.proposals, self.frequent = proposals, frequent
        self.unknown_words = 0  # source words passed through unseen, over this translator's life

    def decoder(self, decode: SMTDecodeConfig | None = None) -> NoisyChannelDecoder:
        d, m = decode or self.config.decode, self.config.model
        settings = DecoderSettings(beam_size=d.beam_size, candidates=m.candidates, frequent=m.frequent,
                                   lm_weight=d.lm_weight, tm_weight=d.tm_weight, word_penalty=d.word_penalty,
                                   distortion_weight=d.distortion_weight,
                                   distortion_limit=d.distortion_limit)  # fmt: skip
        return NoisyChannelDecoder(self.channel, self.lm, self.proposals, self.frequent, settings)

    def translate(self, sentences, *, method: str | None = None, beam_size: int | None = None,
                  n_best: int | None = None, alpha: float | None = None, warn: bool = True,
                  decode: SMTDecodeConfig | None = None) -> list[list[Translation]]:  # fmt: skip
        """n-best translations of each sentence; unseen source words are passed through (and counted)."""
        if alpha is not None:
            raise UserError("--alpha is a neural translator's length penalty; a statistical model has "
                            "decode.word_penalty in its config")  # fmt: skip
        beam_size = 1 if method == "greedy" else beam_size or self.config.decode.beam_size
        n_best = min(n_best or self.config.decode.n_best, beam_size)
        decoder = self.decoder(decode)
        results, unseen = [], []
        for sentence in sentences:
            tokens = words(sentence)
            if not tokens:
                results.append([Translation("", 0.0, 0.0, [])])
                continue
            hypotheses, unknown = decoder.decode(tokens, n_best=n_best, beam_size=beam_size,
                                                 shown=words(sentence, lower=False))  # fmt: skip
            unseen += unknown
            results.append([Translation(detokenize(h.words), h.score, h.score, list(h.lm_ids[1:]))
                            for h in hypotheses] or [Translation(detokenize(tokens), -1e9, -1e9, [])])  # fmt: skip
        self.unknown_words += len(unseen)
        if warn and unseen:
            shown = ", ".join(dict.fromkeys(unseen[:8]))
            print(f"note: {len(unseen)} source word(s) never seen in training passed through unchanged: {shown}",
                  file=sys.stderr)  # fmt: skip
        return results


# ---------------------------------------------------------------------------------------- training
def _tokenised(pairs) -> tuple[list[list[str]], list[list[str]]]:
    return [words(s) for s, _ in pairs], [words(t) for _, t in pairs]


def _train_lm(sentences: list[list[str]], order: int) -> NGramModel:
    lines = [" ".join(sentence) for sentence in sentences if sentence]
    from rnnlab.lm.ngram_smoothing import DiscountError

    try:
        return NGramModel.train(lines, order, "mkn")
    except DiscountError:  # too little data to estimate Kneser-Ney discounts (a tiny corpus): lmplz's fallback
        return NGramModel.train(lines, order, "mkn", discount_fallback=(0.5, 1.0, 1.5))


def tune_weights(translator: StatisticalTranslator, pairs, language: str) -> tuple[SMTDecodeConfig, float, float]:
    """Grid search of (lm_weight, word_penalty) for corpus BLEU on `pairs`; the best decode config, its BLEU
    and the BLEU of the config's own weights."""
    sources, references = [s for s, _ in pairs], [t for _, t in pairs]
    base = translator.config.decode
    results = {}
    for lm_weight, penalty in itertools.product(LM_WEIGHTS, WORD_PENALTIES):
        decode = dataclasses.replace(base, lm_weight=lm_weight, word_penalty=penalty)
        outputs = translator.translate(sources, warn=False, decode=decode)
        results[(lm_weight, penalty)] = corpus_scores([o[0].text for o in outputs], references, language)["bleu"]
    (lm_weight, penalty), bleu = max(results.items(), key=lambda item: item[1])  # ties: the first
    baseline = results.get((base.lm_weight, base.word_penalty))
    if baseline is None:  # the config's own weights are not on the grid
        outputs = translator.translate(sources, warn=False, decode=base)
        baseline = corpus_scores([o[0].text for o in outputs], references, language)["bleu"]
    return dataclasses.replace(base, lm_weight=lm_weight, word_penalty=penalty), bleu, baseline


def train(config: SMTConfig, resume: bool = False) -> dict:
    """EM, the language model and the weight search; the model saved to output_dir/best."""
    if resume:
        raise UserError("a statistical translator is estimated in one pass; --resume does not apply")
    start = time.perf_counter()
    splits = load_pairs(config.data)  # with include_phrases the phrase pairs are training data only
    if not splits["train"]:
        raise DataError("no training pairs")
    sources, targets = _tokenised(splits["train"])
    channel, report = train_ibm(sources, targets, config.model.model1_iterations, config.model.model2_iterations)
    for iteration, (model, ll) in enumerate(zip(report.model, report.log_likelihood), start=1):
        print(f"EM {iteration:2d} (Model {model}): corpus log p(f | e) = {ll:.1f}")
    lm = _train_lm(targets, config.model.lm_order)
    counts = np.zeros(len(channel.target))
    for sentence in targets:
        ids = channel.target.ids(sentence)
        np.add.at(counts, ids[ids >= 0], 1)
    proposals = proposal_table(channel, counts, config.model.candidates)
    frequent = np.argsort(-counts[1:], kind="stable")[: config.model.frequent] + 1  # skip NULL
    translator = StatisticalTranslator(config, channel, lm, proposals, frequent)
    tuned = {}
    if config.tune_sentences and splits["valid"]:
        valid = splits["valid"][: config.tune_sentences]
        decode, bleu, baseline = tune_weights(translator, valid, target_language(config))
        config.decode = translator.config.decode = decode
        tuned = {"tune_bleu": bleu, "tune_bleu_untuned": baseline, "lm_weight": decode.lm_weight,
                 "word_penalty": decode.word_penalty}  # fmt: skip
        print(f"weights tuned on {len(valid)} valid sentences: lm_weight {decode.lm_weight}, word_penalty "
              f"{decode.word_penalty} (BLEU {baseline:.2f} -> {bleu:.2f})")  # fmt: skip
    output = Path(config.output_dir) / "best"
    save(translator, output, {"em_log_likelihood": report.log_likelihood, "pairs": len(sources), **tuned})
    seconds = time.perf_counter() - start
    print(f"model: {output}  (Model {channel.model}, {len(channel.t_keys)} word pairs, {len(channel.source)} source "
          f"and {len(channel.target) - 1} target words; {seconds:.1f} s)")  # fmt: skip
    return {"steps": 0, "wall_time": seconds, "metric": "bleu" if tuned else None,
            "best_value": tuned.get("tune_bleu"), "best_step": None, "best_checkpoint": str(output),
            "last_checkpoint": None}  # fmt: skip


# -------------------------------------------------------------------------------------- save, load
def save(translator: StatisticalTranslator, directory: Path, report: dict[str, Any]) -> None:
    from rnnlab.train.checkpoint import save_checkpoint

    channel = translator.channel
    tables = {"t_keys": channel.t_keys, "t_values": channel.t_values, "proposals": translator.proposals,
              "frequent": translator.frequent}  # fmt: skip
    if channel.a_keys is not None:
        tables |= {"a_keys": channel.a_keys, "a_values": channel.a_values}
    with tempfile.TemporaryDirectory() as scratch:
        arpa = Path(scratch) / "lm.arpa"
        translator.lm.write_arpa(arpa)
        save_checkpoint(directory, config={"task": TASK, **asdict(translator.config), "report": report},
                        model={name: torch.from_numpy(np.ascontiguousarray(array)) for name, array in tables.items()},
                        extra_files={"source_words.txt": "\n".join(channel.source.words) + "\n",
                                     "target_words.txt": "\n".join(channel.target.words) + "\n",
                                     "lm.arpa": arpa.read_bytes()})  # fmt: skip


def _config_from(payload: dict[str, Any]) -> SMTConfig:
    payload = {k: v for k, v in payload.items() if k not in ("task", "report")}
    return SMTConfig(output_dir=payload.get("output_dir", "runs/smt"), data=DataConfig(**payload.get("data", {})),
                     model=SMTModelConfig(**payload.get("model", {})),
                     decode=SMTDecodeConfig(**payload.get("decode", {})),
                     tune_sentences=payload.get("tune_sentences", 0))  # fmt: skip


def load(path: str | Path) -> StatisticalTranslator:
    from rnnlab.train.checkpoint import load_model_dir

    checkpoint = load_model_dir(path, TASK)
    directory = Path(checkpoint.path)
    try:
        config = _config_from(checkpoint.config)
    except (TypeError, ConfigError) as error:
        raise DataError(f"{directory / 'config.json'}: not a valid smt config ({error})") from None
    tensors = {name: value.numpy() for name, value in checkpoint.state_dict.items()}
    read = lambda name: checkpoint.file_path(name).read_text(encoding="utf-8").splitlines()  # noqa: E731
    channel = IBMModel(WordVocab(read("source_words.txt")), WordVocab(read("target_words.txt")),
                       tensors["t_keys"], tensors["t_values"], tensors.get("a_keys"), tensors.get("a_values"))  # fmt: skip
    lm = NGramModel.from_arpa(checkpoint.file_path("lm.arpa"))
    return StatisticalTranslator(config, channel, lm, tensors["proposals"], tensors["frequent"])


# -------------------------------------------------------------------------------------- evaluation
def evaluate(path: str | Path, request: EvalRequest) -> dict[str, Any]:
    """BLEU and chrF (sacrebleu, with signatures) on a split of the model's pairs, or a parallel file."""
    translator = load(path)
    config = translator.config
    if request.data_file:
        pairs, where = read_parallel(request.data_file), request.data_file
    else:
        pairs, where = request.examples_of(load_pairs(config.data)), f"{data_label(config.data)} {request.split}"
    start = time.perf_counter()
    outputs = translator.translate([s for s, _ in pairs], warn=False)
    seconds = time.perf_counter() - start
    scores = corpus_scores([o[0].text for o in outputs], [t for _, t in pairs], target_language(config))
    d = config.decode
    how = f"beam {d.beam_size}, lm_weight {d.lm_weight}, word_penalty {d.word_penalty}"
    return {"data": where, "sentences": len(pairs), "decoding": how, "unknown_words": translator.unknown_words,
            "sentences_per_second": round(len(pairs) / max(seconds, 1e-9), 2), **scores}  # fmt: skip


def format_evaluation(result: dict[str, Any]) -> str:
    out = io.StringIO()
    print(f"{result['data']}: {result['sentences']} sentences, noisy channel ({result['decoding']}), "
          f"{result['sentences_per_second']} sentences/s, {result['unknown_words']} unseen source words "
          "passed through", file=out)  # fmt: skip
    print(f"BLEU = {result['bleu']:.2f}   ({result['bleu_signature']})", file=out)
    print(f"chrF = {result['chrf']:.2f}   ({result['chrf_signature']})", file=out)
    return out.getvalue() + result["bleu_text"]


DESCRIPTOR = register_task(TaskDescriptor(
    name=TASK,
    summary="statistical translation: IBM Models 1-2 by EM and an n-gram LM, ê = argmax p(f|e) p(e)",
    docs="docs/translation.md#statistical-translation-the-noisy-channel",
    config_class=SMTConfig,
    train=train,
    load=load,
    evaluate=evaluate,
    format_eval=format_evaluation,
    verbs=(TRANSLATE_VERB,),
    resumable=False,
))  # fmt: skip
