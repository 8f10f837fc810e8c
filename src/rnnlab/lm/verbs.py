"""`generate` and `score`: the verbs of every language model, neural and n-gram alike.

Both language-model tasks (`lm`, `ngram`) offer these two verbs with these options, so `rnnlab generate`,
`rnnlab score` and a server call the same functions whatever the model. What a model can do beyond plain
sampling it declares in `decoding` (rnnlab.lm.interface.LanguageModel): "greedy", "beam", "stream" (tokens
as they are made) and "poem" (regular poem forms and acrostics); asking for more is a one-line error.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from rnnlab.validation import is_greedy
from rnnlab.verbs import TextDelta, Verb, stream_with_callback


@dataclass
class SamplingOptions:
    """How to generate text from a language model: the one spelling of these options (CLI, server, demo)."""

    prompt: str = field(default="", metadata={"help": "text the samples continue"})
    num_samples: int = field(default=1, metadata={"help": "how many samples"})
    max_tokens: int = field(default=200, metadata={"help": "at most this many tokens per sample"})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature (0, or below 1e-4, = greedy)"})
    top_k: int | None = field(default=None, metadata={"help": "sample from the k most probable tokens"})
    top_p: float | None = field(default=None, metadata={"help": "sample from the smallest set with this mass"})
    seed: int | None = field(default=None, metadata={"help": "random seed, 0..2**63-1 (the same seed, the same samples)"})
    stop: list[str] = field(default_factory=list, metadata={"help": "stop at this string (repeatable)"})
    greedy: bool = field(default=False, metadata={"help": "greedy decoding instead of sampling"})
    beam: int | None = field(default=None, metadata={"help": "beam search with this beam size (at most 256)"})
    form: str | None = field(default=None, metadata={"help": "poem form for poem models, e.g. 五言绝句"})
    acrostic: str | None = field(default=None, metadata={"help": "characters that start each poem line"})
    stream: bool = field(default=True, metadata={"help": "print samples only when complete"})
    rhyme: str | None = field(default=None, metadata={"help": "poem models: end even lines in one Pingshui rhyme "
                              "group: auto, a group (七阳), or off (free); --json adds each poem's rhyme and meter"})

    def sampling(self) -> dict[str, Any]:
        """The keyword arguments every model's `generate` takes for sampling."""
        return {"num_samples": self.num_samples, "temperature": self.temperature, "top_k": self.top_k,
                "top_p": self.top_p, "seed": self.seed}  # fmt: skip

    @property
    def shown_count(self) -> int:
        """How many texts come back: one for greedy decoding, the n best for beam search, else the samples."""
        if self.form or self.acrostic:
            return 1  # poems print one after another, without headers
        if self.greedy or is_greedy(self.temperature):
            return 1
        return min(self.beam or self.num_samples, self.num_samples)


@dataclass
class ScoreOptions:
    tokens: bool = field(default=False, metadata={"help": "print the per-token breakdown"})


def capabilities(lm: Any) -> frozenset[str]:
    return frozenset(getattr(lm, "decoding", ("sample",)))


def run_generate(lm: Any, inputs: list, options: SamplingOptions) -> Iterator[dict | TextDelta]:
    """Samples (or the greedy text, or the beam's n best) as `{"sample": i, "text": ...}`, prompt included."""
    from rnnlab.errors import UserError

    can = capabilities(lm)
    if options.rhyme is not None:  # rhyme-constrained poems, or free ones measured (rnnlab.poetry.decoding)
        from rnnlab.poetry.decoding import run_rhyming

        yield from run_rhyming(lm, options, can, run_generate)
        return
    if options.form or options.acrostic:
        if "poem" not in can:
            raise UserError("--form / --acrostic need a neural poem model; this model cannot constrain forms")
        texts = lm.iter_generate_poem(options.form, options.acrostic, **options.sampling())
        yield from _numbered(texts)
        return
    for name in ("beam", "greedy"):
        if getattr(options, name) and name not in can:
            raise UserError(f"--{name} is not available for this model (it offers: {', '.join(sorted(can))})")
    extra = {name: getattr(options, name) for name in ("beam", "greedy") if name in can}

    def produce(on_token=None):
        if on_token is not None:
            extra["on_token"] = on_token
        return lm.iter_generate(options.prompt, max_tokens=options.max_tokens, stop=options.stop,
                                **options.sampling(), **extra)  # fmt: skip

    streamed = (options.stream and options.num_samples == 1 and not options.beam and not options.stop
                and "stream" in can)  # fmt: skip
    if not streamed:
        yield from _numbered(produce())
        return
    yield TextDelta(lm.prompt_text(options.prompt))
    texts = []
    for item in stream_with_callback(produce):
        if isinstance(item, TextDelta):
            yield item
        else:
            texts.append(item)
    yield from _numbered(texts)


def _numbered(texts) -> Iterator[dict]:
    for index, text in enumerate(texts, start=1):
        yield {"sample": index, "text": text}


def format_sample(result: dict, options: SamplingOptions) -> str:
    return f"--- sample {result['sample']}\n{result['text']}" if options.shown_count > 1 else result["text"]


def run_score(lm: Any, sentences: list[str], options: ScoreOptions) -> Iterator[dict]:
    """Per sentence: ln P and log10 P, tokens, perplexity, unknown symbols and the per-token log-probs."""
    for score in lm.score([sentence.strip() for sentence in sentences]):
        yield {"text": score.text, "logprob": score.total_logprob, "log10prob": score.total_log10prob,
               "tokens": len(score.tokens), "perplexity": score.perplexity, "unknown": score.unknown,
               "token_logprobs": [[t, p] for t, p in zip(score.tokens, score.token_logprobs)]}  # fmt: skip


def format_scores(results: list[dict], options: ScoreOptions) -> str:
    """One block per sentence, the ranking and the corpus perplexity (`rnnlab.lm.scoring.print_scores`)."""
    from rnnlab.lm.interface import SentenceScore
    from rnnlab.lm.scoring import print_scores

    scores = [SentenceScore(r["text"], [t for t, _ in r["token_logprobs"]], [p for _, p in r["token_logprobs"]],
                            list(r["unknown"])) for r in results]  # fmt: skip
    out = io.StringIO()
    print_scores(scores, show_tokens=options.tokens or len(scores) <= 4, out=out)
    return out.getvalue()


GENERATE = Verb(
    name="generate",
    help="sample text from a language model",
    options=SamplingOptions,
    run=run_generate,
    inputs="none",
    what="prompts",
    format=format_sample,
)
SCORE = Verb(
    name="score",
    help="log-probability and perplexity of sentences",
    options=ScoreOptions,
    run=run_score,
    what="sentences",
    format_all=format_scores,
)
