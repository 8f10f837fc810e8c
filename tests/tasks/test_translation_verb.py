"""The translate verb (rnnlab.tasks.translate_verb): typed options and results with no argparse, the PNG
artifact, the reranker's cache, and golden command-line output.

The golden outputs are what `rnnlab translate` printed before the verb moved out of its argparse handler
(checked byte for byte against that version on this model); they are rebuilt here from the library call
that did not change, `Translator.translate` (and the noisy-channel reranker for --reverse / --tune).
"""

from __future__ import annotations

import io
import json
import warnings

import pytest
import torch
from tests.tasks.test_translation import toy_pairs  # the same toy de->en data

from rnnlab.cli import main
from rnnlab.data.subword import SubwordVocab
from rnnlab.errors import ConfigError, UserError
from rnnlab.tasks.noisy_channel import NoisyChannelReranker, NoisyChannelWeights, load_reranker_models
from rnnlab.tasks.registry import get_task
from rnnlab.tasks.translate_verb import TRANSLATE_VERB, TranslateOptions, format_translation, run_translate
from rnnlab.tasks.translation_config import TranslationConfig, load_pairs, model_from_config
from rnnlab.tasks.translator import Translator, load_translator
from rnnlab.text_metrics import corpus_scores
from rnnlab.verbs import Artifact, make_options

SENTENCES = ["eins zwei drei", "rot blau", "vier"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """The tiny de->en model of tests/tasks/test_translation.py (same data, same seed)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("translate-verb")
    for name, n, seed in (("train", 300, 0), ("valid", 20, 1), ("test", 20, 2)):
        (root / f"{name}.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in toy_pairs(n, seed)), encoding="utf-8")
    overrides = [
        f"output_dir={root / 'run'}", "data.dataset=files", f"data.train={root / 'train.tsv'}",
        f"data.valid={root / 'valid.tsv'}", f"data.test={root / 'test.tsv'}", "data.max_len=12", "vocab.size=40",
        "model.embed_dim=16", "model.hidden_size=16", "model.attention=dot", "model.dropout=0.0",
        "batch_size=16", "eval_bleu_sentences=5", "trainer.max_steps=40", "trainer.eval_every=20", "trainer.plot=false",
        "trainer.lr=0.01", "trainer.progress=false", "decode.beam_size=3",
    ]  # fmt: skip
    assert main(["train", "translate", *overrides]) == 0
    yield str(root / "run" / "best")
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def translator(model_dir):
    return load_translator(model_dir)


def expected_lines(translator: Translator, n_best: int = 1, greedy: bool = False, beam: int | None = None,
                   alpha: float | None = None, as_json: bool = False, reverse: Translator | None = None,
                   length_weight: float = 0.0) -> str:  # fmt: skip
    """What the argparse `rnnlab translate` printed for SENTENCES, from the unchanged library calls."""
    method = "greedy" if greedy else "beam"
    beam = beam or translator.config.decode.beam_size
    candidates = (beam if reverse is not None else n_best) if method == "beam" else 1
    beam = max(beam, candidates)
    outputs = translator.translate(SENTENCES, method=method, beam_size=beam, n_best=candidates, alpha=alpha)
    if reverse is not None:
        weights = NoisyChannelWeights(lm=0.0, reverse=0.5, length=length_weight)
        outputs = NoisyChannelReranker(None, reverse, weights).rerank(SENTENCES, outputs)
    lines = []
    for sentence, nbest in zip(SENTENCES, outputs):
        if as_json:
            translations = [{"text": t.text, "score": t.score} for t in nbest[:n_best]]
            lines.append(json.dumps({"source": sentence, "translations": translations}, ensure_ascii=False))
        elif n_best == 1:
            lines.append(nbest[0].text)
        else:
            lines.append(f"# {sentence}")
            lines += [f"{rank}\t{t.score:.4f}\t{t.text}" for rank, t in enumerate(nbest[:n_best], start=1)]
    return "".join(line + "\n" for line in lines)


GOLDEN_CASES = {
    "best": ([], {}),
    "n-best": (["--n-best", "2"], {"n_best": 2}),
    "greedy": (["--greedy"], {"greedy": True}),
    "beam and alpha": (["--beam", "2", "--alpha", "0.5"], {"beam": 2, "alpha": 0.5}),
    "json": (["--json"], {"as_json": True}),
    "json n-best": (["--json", "--n-best", "3"], {"n_best": 3, "as_json": True}),
}


@pytest.mark.parametrize("case", GOLDEN_CASES)
def test_cli_output_is_golden(model_dir, translator, capsys, case):
    flags, expected = GOLDEN_CASES[case]
    assert main(["translate", model_dir, *SENTENCES, *flags]) == 0
    assert capsys.readouterr().out == expected_lines(translator, **expected)


def test_cli_reranked_and_tuned_output_is_golden(model_dir, translator, capsys):
    assert main(["translate", model_dir, *SENTENCES, "--reverse", model_dir]) == 0
    assert capsys.readouterr().out == expected_lines(translator, reverse=translator)
    flags = ["--reverse", model_dir, "--n-best", "2", "--json", "--length-weight", "0.5"]
    assert main(["translate", model_dir, *SENTENCES, *flags]) == 0
    assert capsys.readouterr().out == expected_lines(translator, n_best=2, as_json=True, reverse=translator,
                                                     length_weight=0.5)  # fmt: skip
    # --tune: the grid search on the valid split, from the reranker itself.
    pairs = load_pairs(translator.config.data)["valid"]
    sources, references = [s for s, _ in pairs], [t for _, t in pairs]
    nbest = translator.translate(sources, beam_size=3, n_best=3, warn=False)
    weights, bleu = NoisyChannelReranker(None, translator).tune(sources, references, nbest)
    baseline = corpus_scores([n[0].text for n in nbest], references)["bleu"]
    assert main(["translate", model_dir, "--reverse", model_dir, "--tune"]) == 0
    assert capsys.readouterr().out == (
        f"valid BLEU: beam {baseline:.2f} -> reranked {bleu:.2f} with --lm-weight {weights.lm} "
        f"--reverse-weight {weights.reverse} --length-weight {weights.length}\n"
    )
    assert main(["translate", model_dir, "--reverse", model_dir, "--tune", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "bleu_beam": baseline, "bleu_reranked": bleu, "lm_weight": weights.lm, "reverse_weight": weights.reverse,
        "length_weight": weights.length,
    }  # fmt: skip


def test_cli_reads_stdin_one_line_at_a_time(model_dir, translator, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("eins zwei drei\n\nrot blau\nvier\n"))
    assert main(["translate", model_dir]) == 0
    assert capsys.readouterr().out == expected_lines(translator)


def test_cli_option_errors(model_dir, capsys):
    for flags, message in (
        (["--greedy", "--n-best", "2"], "--n-best > 1 needs beam search (drop --greedy)"),
        (["--tune"], "--tune needs --lm and/or --reverse"),
        (["--n-best", "0"], "--n-best must be an integer >= 1, got 0"),
        (["--beam", "0"], "--beam must be an integer >= 1, got 0"),
        (["--alpha", "nan"], "--alpha must be a finite number"),
    ):
        assert main(["translate", model_dir, "eins", *flags]) == 2
        assert f"rnnlab: error: {message}" in capsys.readouterr().err


def test_run_with_typed_options_and_no_argparse(translator):
    results = list(run_translate(translator, SENTENCES, TranslateOptions(n_best=2)))
    assert [r["source"] for r in results] == SENTENCES
    outputs = translator.translate(SENTENCES, n_best=2)
    assert results == [{"source": s, "translations": [{"text": t.text, "score": t.score} for t in nbest]}
                       for s, nbest in zip(SENTENCES, outputs)]  # fmt: skip
    # The same options from a JSON body (a server): checked by make_options, same results.
    assert list(run_translate(translator, SENTENCES, make_options(TranslateOptions, {"n_best": 2}))) == results
    assert format_translation(results[0], TranslateOptions(n_best=2)).split("\n")[0] == "# eins zwei drei"
    assert format_translation(results[1], TranslateOptions()) == outputs[1][0].text


def test_attention_is_a_png_artifact(translator, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may be written anywhere
    *results, artifact = run_translate(translator, ["eins zwei", "rot"], TranslateOptions(attention=True))
    assert len(results) == 2 and all(isinstance(r, dict) for r in results)
    assert isinstance(artifact, Artifact)
    assert (artifact.media_type, artifact.name) == ("image/png", "attention.png")
    assert artifact.data.startswith(b"\x89PNG") and len(artifact.data) > 1000
    assert list(tmp_path.iterdir()) == []


def test_attention_of_a_plain_model_is_refused():
    vocab = SubwordVocab.train([s for p in toy_pairs(50, 0) for s in p], 30)
    config = TranslationConfig()
    config.model.attention = None
    config.model.embed_dim = config.model.hidden_size = 8
    plain = Translator(model_from_config(config, vocab, vocab).eval(), vocab, vocab, config)
    with pytest.raises(UserError, match="--attention: this model has no attention"):
        list(run_translate(plain, ["eins"], TranslateOptions(attention=True)))


def test_options_are_checked_where_they_are_made():
    with pytest.raises(ConfigError, match=r"--n-best > 1 needs beam search \(drop --greedy\)"):
        TranslateOptions(greedy=True, n_best=2)
    with pytest.raises(ConfigError, match="--tune needs --lm and/or --reverse"):
        TranslateOptions(tune=True)
    with pytest.raises(ConfigError, match="--n-best must be an integer >= 1, got 0"):
        TranslateOptions(n_best=0)
    with pytest.raises(ConfigError, match="--beam must be an integer >= 1, got 0"):
        make_options(TranslateOptions, {"beam": 0})
    with pytest.raises(ConfigError, match="unknown option"):
        make_options(TranslateOptions, {"plot_attention": "x.png"})


def test_tune_ignores_inputs_and_formats_one_line(model_dir, translator):
    options = TranslateOptions(reverse=model_dir, tune=True)
    assert not TRANSLATE_VERB.requires_inputs(options) and TRANSLATE_VERB.requires_inputs(TranslateOptions())
    (result,) = run_translate(translator, [], options)
    assert set(result) == {"bleu_beam", "bleu_reranked", "lm_weight", "reverse_weight", "length_weight"}
    assert format_translation(result, options).startswith(f"valid BLEU: beam {result['bleu_beam']:.2f} -> reranked ")


def test_reranker_models_are_loaded_once(model_dir, translator):
    load_reranker_models.cache_clear()
    options = TranslateOptions(reverse=model_dir, reverse_weight=0.25)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = list(run_translate(translator, ["eins"], options))
        again = list(run_translate(translator, ["eins"], TranslateOptions(reverse=model_dir, reverse_weight=0.25)))
        list(run_translate(translator, ["rot"], TranslateOptions(reverse=model_dir, reverse_weight=1.0)))
    assert first == again
    info = load_reranker_models.cache_info()
    assert (info.misses, info.hits) == (1, 2)  # one load; other weights reuse the models


def test_the_task_offers_the_verb():
    task = get_task("translate")
    assert task.verb("translate") is TRANSLATE_VERB
    assert task.build is not None and task.resumable
