"""Poem quality of a language model's free samples, beside its corpus: what `rnnlab eval` adds for a
model trained on poems (neural or n-gram).

    poems = poem_evaluation(model, reference=test_poems, training=train_poems)
    poems["rhyme"]["rate"], poems["reference"]["rhyme"]["rate"], poems["chance_rhyme"]["rate"]

`POEM_SAMPLES` free samples with the demo's sampling settings (`POEM_SAMPLING`, fixed seed, so two runs
of `rnnlab eval` agree), measured for regular shape, rhyme (Pingshui, `rnnlab.poetry.rhyme`), tonal meter
(`rnnlab.poetry.meter`) and copying; the reference poems (the evaluated split) measured the same way, and
chance: the reference poems with random even-line final characters. Nothing is constrained: these are the
free-sample figures (`generate --rhyme` is never used here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from rnnlab.data.poetry import couplets, is_verse, poem_quality, split_lines
from rnnlab.lm.verbs import SamplingOptions, run_generate
from rnnlab.poetry.meter import MeterRate, meter_rate
from rnnlab.poetry.rhyme import RhymeRate, chance_rate, repeated_rhyme_rate, rhyme_rate

POEM_SAMPLES = 64
SAMPLE_SEED = 0
# How poem samples are drawn everywhere they are measured (the demo, its report, `rnnlab eval`).
POEM_SAMPLING = SamplingOptions(temperature=0.8, top_k=40, top_p=0.95, max_tokens=120, stream=False)


def is_poem_like(text: str) -> bool:
    """Two or more half-lines of Chinese characters, each ended by a line mark (，。！？；)."""
    lines = split_lines(text)
    return len(couplets(text)) >= 1 and len(lines) >= 2 and all(map(is_verse, lines))


def is_poem_corpus(texts: Sequence[str], looked_at: int = 200) -> bool:
    """True if at least half of the first `looked_at` non-empty texts are poem-like."""
    sample = [text for text in texts if text.strip()][:looked_at]
    return bool(sample) and 2 * sum(is_poem_like(text) for text in sample) >= len(sample)


def poem_samples(model: Any, count: int = POEM_SAMPLES, seed: int = SAMPLE_SEED, **options: Any) -> list[str]:
    """`count` texts of `model` from the `generate` verb with `POEM_SAMPLING` and one seed: free samples, or
    with `options` (form=, acrostic=, rhyme=) constrained poems."""
    chosen = replace(POEM_SAMPLING, num_samples=count, seed=seed, **options)
    return [record["text"] for record in run_generate(model, [], chosen) if isinstance(record, dict)]


def _rates(poems: Sequence[str]) -> dict[str, Any]:
    rhyme, meter = rhyme_rate(poems), meter_rate(poems)
    return {"poems": len(poems), "rhyme": _rhyme_dict(rhyme), "meter": _meter_dict(meter)}


def _rhyme_dict(rate: RhymeRate) -> dict[str, Any]:
    return {"rate": rate.rate, "rhyming": rate.rhyming, "measured": rate.measured, "unknown": rate.unknown}


def _meter_dict(rate: MeterRate) -> dict[str, Any]:
    return {"rate": rate.rate, "conforming": rate.conforming, "measured": rate.measured, "line_rate": rate.line_rate}


def poem_evaluation(model: Any, reference: Sequence[str], training: Sequence[str] | None,
                    count: int = POEM_SAMPLES, seed: int = SAMPLE_SEED) -> dict[str, Any]:  # fmt: skip
    """The free samples' shape, rhyme, meter and copying, with the reference poems' rhyme and meter and the
    chance rhyme rate beside them (see the module docstring). `training`: the poems copying is checked
    against (None: not known, copying is not measured)."""
    samples = poem_samples(model, count, seed)
    if not samples:
        return {"samples": 0}
    quality = poem_quality(samples, list(training or []))
    reference = [text for text in reference if is_poem_like(text)]
    return {
        "samples": len(samples), "seed": seed, "temperature": POEM_SAMPLING.temperature,
        "regular": quality.regular, **_rates(samples), "repeated_rhyme": repeated_rhyme_rate(samples),
        "copied_lines": None if training is None else quality.copied_lines,
        "copied_samples": None if training is None else quality.copied_samples,
        "reference": _rates(reference), "chance_rhyme": _rhyme_dict(chance_rate(reference, seed=0)),
        "examples": samples[:3],
    }  # fmt: skip


def format_poem_evaluation(poems: dict[str, Any]) -> str:
    """Three lines for `rnnlab eval`'s text output."""
    if not poems.get("samples"):
        return "poems: the model wrote no sample"
    rhyme, meter, ref = poems["rhyme"], poems["meter"], poems["reference"]
    return "\n".join([
        f"poems: {poems['samples']} free samples (seed {poems['seed']}, temperature {poems['temperature']}): "
        f"regular shape {poems['regular']:.0%}, rhyme {rhyme['rate']:.0%} ({rhyme['rhyming']}/{rhyme['measured']}, "
        f"{rhyme['unknown']} unknown; {poems['repeated_rhyme']:.0%} of those by a repeated character), meter {meter['rate']:.0%} of {meter['measured']} measurable "
        f"({meter['line_rate']:.0%} of lines)",
        f"  beside them: the evaluated poems rhyme {ref['rhyme']['rate']:.0%} and keep the meter "
        f"{ref['meter']['rate']:.0%}; chance rhyme {poems['chance_rhyme']['rate']:.0%} (Pingshui scheme)",
        (f"  lines copied from training {poems['copied_lines']:.1%}, samples with a copied couplet "
         f"{poems['copied_samples']:.0%}" if poems["copied_lines"] is not None
         else "  copying not measured (the model's training poems could not be read)")
        + f"; e.g. {poems['examples'][0]}",
    ])  # fmt: skip
