"""The `translate` verb: typed options, `run_translate(translator, sentences, options)` and its human output.

    rnnlab translate runs/de-en-attn "Es regnet in Strömen." --beam 5 --n-best 3
    rnnlab translate runs/de-en-attn "Es regnet." --attention --out figures/     # figures/attention.png
    rnnlab translate runs/de-en-attn --lm runs/en-4gram --reverse runs/en-de --tune

The command line (`rnnlab.commands.verbs`) builds the sub-command from `TRANSLATE_VERB` (reading the
sentences, the interactive prompt, `--json`, writing artifacts under `--out`); a server or another task
calls the same function with no argparse:

    from rnnlab.verbs import make_options
    for result in run_translate(translator, ["Es regnet."], make_options(TranslateOptions, {"n_best": 2})):
        ...   # {"source": ..., "translations": [{"text": ..., "score": ...}, ...]}, then any Artifact

With `--lm` / `--reverse` the beam's n-best list is reranked by the noisy channel
(`rnnlab.tasks.noisy_channel`); `--tune` grid-searches those weights on the valid split instead of
translating.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from rnnlab.errors import ConfigError, UserError
from rnnlab.files import read_input_lines
from rnnlab.tasks.noisy_channel import NoisyChannelReranker, build_reranker
from rnnlab.tasks.translation_config import load_pairs, target_language
from rnnlab.tasks.translator import Translator
from rnnlab.text_metrics import corpus_scores
from rnnlab.validation import check_option
from rnnlab.verbs import Artifact, Verb

__all__ = ["TRANSLATE_VERB", "TranslateOptions", "format_translation", "plot_attention", "read_sentence_file",
           "run_translate", "tune_reranker"]  # fmt: skip


@dataclass
class TranslateOptions:
    beam: int | None = field(default=None, metadata={"help": "beam size (default: the model's config)"})
    n_best: int = field(default=1, metadata={"help": "return this many hypotheses per sentence"})
    greedy: bool = field(default=False, metadata={"help": "greedy decoding instead of beam search"})
    alpha: float | None = field(default=None, metadata={"help": "length penalty ((5+len)/6)^alpha (default: the model's config)"})  # fmt: skip
    attention: bool = field(default=False, metadata={"help": "return the attention heatmap of the first translation as a PNG"})  # fmt: skip
    lm: str | None = field(default=None, metadata={"help": "target-side language model for noisy-channel reranking", "path": True})  # fmt: skip
    reverse: str | None = field(default=None, metadata={"help": "reverse (target->source) model for reranking", "path": True})
    lm_weight: float = field(default=0.3, metadata={"help": "reranking weight of the language model"})
    reverse_weight: float = field(default=0.5, metadata={"help": "reranking weight of the reverse model"})
    length_weight: float = field(default=0.0, metadata={"help": "reranking bonus per target subword"})
    tune: bool = field(default=False, metadata={"help": "tune the reranking weights on the valid split (grid search) instead of translating"})  # fmt: skip

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):  # the shared rules: --beam / --n-best >= 1, finite weights
            setattr(self, item.name, check_option(item.name, getattr(self, item.name)))
        if self.greedy and self.n_best > 1:
            raise ConfigError("--n-best > 1 needs beam search (drop --greedy)")
        if self.tune and not (self.lm or self.reverse):
            raise ConfigError("--tune needs --lm and/or --reverse")


def run_translate(translator: Translator, sentences: list[str], options: TranslateOptions) -> Iterator[dict | Artifact]:
    """Per sentence `{"source", "translations": [{"text", "score"}, ...][:n_best]}` (best first), then with
    `attention` the heatmap of the first sentence's best translation as a PNG `Artifact`; with `tune`, the
    inputs are ignored and the one result is the tuned weights with the valid BLEU before and after."""
    method = "greedy" if options.greedy else "beam"
    beam = options.beam or translator.config.decode.beam_size
    if options.attention and getattr(translator.config.model, "attention", None) is None:  # (a statistical model has none)
        raise UserError("--attention: this model has no attention (plain seq2seq)")
    reranker = build_reranker(options.lm, options.reverse, options.lm_weight, options.reverse_weight,
                              options.length_weight)  # fmt: skip
    if options.tune:
        if reranker is None:
            raise ConfigError("--tune needs --lm and/or --reverse")
        yield tune_reranker(translator, reranker, beam)
        return
    # The reranker needs candidates: with one, the beam returns all its hypotheses.
    n_best = max(options.n_best, beam if reranker else 1) if method == "beam" else 1
    beam = max(beam, n_best)
    outputs = translator.translate(sentences, method=method, beam_size=beam, n_best=n_best, alpha=options.alpha)
    if reranker is not None:
        outputs = reranker.rerank(sentences, outputs)
    for sentence, nbest in zip(sentences, outputs):
        yield {"source": sentence,
               "translations": [{"text": t.text, "score": t.score} for t in nbest[: options.n_best]]}  # fmt: skip
    if options.attention and sentences:
        yield Artifact("image/png", plot_attention(translator, sentences[0], outputs[0][0].ids), "attention.png")


def format_translation(result: dict[str, Any], options: TranslateOptions) -> str:
    """The text of one result: the best translation; with n_best > 1 a `# source` line then
    `rank<TAB>score<TAB>text` lines; for `tune`, the weights found."""
    if "bleu_beam" in result:
        return (f"valid BLEU: beam {result['bleu_beam']:.2f} -> reranked {result['bleu_reranked']:.2f} with "
                f"--lm-weight {result['lm_weight']} --reverse-weight {result['reverse_weight']} "
                f"--length-weight {result['length_weight']}")  # fmt: skip
    translations = result["translations"]
    if options.n_best == 1:
        return translations[0]["text"]
    ranked = [f"{rank}\t{t['score']:.4f}\t{t['text']}" for rank, t in enumerate(translations, start=1)]
    return "\n".join([f"# {result['source']}", *ranked])


def read_sentence_file(path: str, options: TranslateOptions | None = None) -> list[str]:
    """Every line of a UTF-8 file ('-': stdin), empty ones included: output line N translates input line N,
    so the command's sentence check refuses an empty line (`in.txt:2: empty sentence`) instead of skipping it."""
    return read_input_lines(path, "sentences", keep_empty=True)


def tune_reranker(translator: Translator, reranker: NoisyChannelReranker, beam: int) -> dict[str, Any]:
    """Grid-search the noisy-channel weights on the valid split; the weights and BLEU before/after."""
    pairs = load_pairs(translator.config.data)["valid"]
    sources, references = [s for s, _ in pairs], [t for _, t in pairs]
    nbest = translator.translate(sources, beam_size=beam, n_best=beam, warn=False)
    language = target_language(translator.config)
    weights, bleu = reranker.tune(sources, references, nbest, language)
    baseline = corpus_scores([n[0].text for n in nbest], references, language)["bleu"]
    return {"bleu_beam": baseline, "bleu_reranked": bleu, "lm_weight": weights.lm,
            "reverse_weight": weights.reverse, "length_weight": weights.length}  # fmt: skip


def plot_attention(translator: Translator, source: str, target_ids: list[int]) -> bytes:
    """The attention weights of one translation as a PNG heatmap (target subwords x source subwords)."""
    src, tgt, weights = translator.attention(source, target_ids)
    if weights is None:
        raise UserError("--attention: this model has no attention (plain seq2seq)")
    # A bare Figure, no pyplot: no global backend or figure list (a server may call this from any thread).
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(4, 0.45 * len(src) + 2), max(3, 0.4 * len(tgt) + 1.5)))
    ax = fig.subplots()
    ax.imshow(weights.numpy(), cmap="viridis", aspect="auto", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(src)), src, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(tgt)), tgt, fontsize=8)
    ax.set_xlabel("source subwords")
    ax.set_ylabel("target subwords")
    ax.set_title("attention weights")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    return buffer.getvalue()


TRANSLATE_VERB = Verb(
    name="translate",
    help="translate sentences with a trained model",
    description="Translate sentences given as arguments, from --input FILE, or typed interactively.",
    options=TranslateOptions,
    run=run_translate,
    inputs="text",
    what="sentences",
    interactive=True,
    needs_inputs=lambda options: not options.tune,
    artifacts=True,
    format=format_translation,
    read_file=read_sentence_file,
)
