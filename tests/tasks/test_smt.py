"""Statistical translation: IBM Models 1 and 2 against hand-computed EM steps and a naive reference, the
noisy-channel decoder, and the task through the command line."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rnnlab.cli import main
from rnnlab.lm.ngram import NGramModel
from rnnlab.smt.decoder import NoisyChannelDecoder, proposal_table
from rnnlab.smt.ibm import train_ibm
from rnnlab.smt.words import detokenize, words

DE = ["das haus", "das buch", "ein buch", "das haus ist klein", "ein haus", "das buch ist gut", "ein haus ist gut"]
EN = ["the house", "the book", "a book", "the house is small", "a house", "the book is good", "a house is good"]


def test_model_1_two_em_steps_by_hand():
    # f = a | e = x, and f = a b | e = x y; NULL is e_0. Uniform start t = 1/2.
    # Step 1 posteriors: pair 1 a: NULL .5, x .5; pair 2 a and b: 1/3 each -> t(a|NULL) = t(a|x) = 5/7, t(a|y) = 1/2.
    # Step 2: pair 2 a: (5/7, 5/7, 1/2) / (27/14) -> 10/27, 10/27, 7/27; b: (2/7, 2/7, 1/2) / (15/14) -> 4/15, 4/15, 7/15.
    model, report = train_ibm([["a"], ["a", "b"]], [["x"], ["x", "y"]], model1_iterations=2, model2_iterations=0)
    t = lambda f, e: float(model.t(model.source.index[f], model.target.index[e]))  # noqa: E731
    a_null = (0.5 + 10 / 27) / (0.5 + 10 / 27 + 4 / 15)
    assert t("a", "<null>") == pytest.approx(a_null)
    assert t("a", "x") == pytest.approx(a_null)
    assert t("a", "y") == pytest.approx((7 / 27) / (7 / 27 + 7 / 15))
    assert t("b", "y") == pytest.approx((7 / 15) / (7 / 27 + 7 / 15))
    assert t("a", "x") + t("b", "x") == pytest.approx(1.0)
    assert report.log_likelihood[0] == pytest.approx(3 * math.log(0.5))  # every f_j: 1/(l+1) Σ_i 1/2 = 1/2


def _naive_em(sources, targets, it1, it2):
    """EM written out with loops over sentences and positions: the reference for the vectorised version."""
    f_words = sorted({w for s in sources for w in s})
    t: dict[tuple[str, str], float] = {}
    a: dict[tuple[int, int, int, int], float] = {}
    for f, e in zip(sources, targets):
        for fw in f:
            for ew in ["<null>", *e]:
                t[fw, ew] = 1.0 / len(f_words)
    for iteration in range(it1 + it2):
        model2 = iteration >= it1
        count_t: dict = {}
        count_a: dict = {}
        for f, e in zip(sources, targets):
            e0, l, m = ["<null>", *e], len(e), len(f)  # noqa: E741
            for j, fw in enumerate(f, start=1):
                weights = [t[fw, ew] * (a.get((i, j, l, m), 1 / (l + 1)) if model2 else 1 / (l + 1))
                           for i, ew in enumerate(e0)]  # fmt: skip
                total = sum(weights)
                for i, ew in enumerate(e0):
                    count_t[fw, ew] = count_t.get((fw, ew), 0.0) + weights[i] / total
                    count_a[i, j, l, m] = count_a.get((i, j, l, m), 0.0) + weights[i] / total
        per_e: dict = {}
        for (_, ew), c in count_t.items():
            per_e[ew] = per_e.get(ew, 0.0) + c
        t = {(fw, ew): c / per_e[ew] for (fw, ew), c in count_t.items()}
        if model2:
            per_jlm: dict = {}
            for (_, j, l, m), c in count_a.items():  # noqa: E741
                per_jlm[j, l, m] = per_jlm.get((j, l, m), 0.0) + c
            a = {(i, j, l, m): c / per_jlm[j, l, m] for (i, j, l, m), c in count_a.items()}  # noqa: E741
    return t, a


def test_models_1_and_2_equal_em_written_out_with_loops():
    rng = np.random.default_rng(0)
    vocab_f, vocab_e = list("abcdefg"), list("pqrstuv")
    sources = [list(rng.choice(vocab_f, rng.integers(1, 5))) for _ in range(12)]
    targets = [list(rng.choice(vocab_e, rng.integers(1, 5))) for _ in range(12)]
    model, report = train_ibm(sources, targets, model1_iterations=3, model2_iterations=3)
    t, a = _naive_em(sources, targets, 3, 3)
    for (fw, ew), value in t.items():
        assert float(model.t(model.source.index[fw], model.target.index[ew])) == pytest.approx(value, rel=1e-9)
    for (i, j, l, m), value in a.items():  # noqa: E741
        assert float(model.a(i, j, l, m)) == pytest.approx(value, rel=1e-9)
    assert all(b >= a - 1e-9 for a, b in zip(report.log_likelihood, report.log_likelihood[1:]))  # EM never loses


def test_em_learns_the_textbook_example_and_its_alignments():
    model, _ = train_ibm([s.split() for s in DE], [s.split() for s in EN], 10, 5)
    t = lambda f, e: float(model.t(model.source.index[f], model.target.index[e]))  # noqa: E731
    assert t("das", "the") > 0.9 and t("haus", "house") > 0.9 and t("buch", "book") > 0.9
    f, e = model.source.ids("das haus ist klein".split()), model.target.ids("the house is small".split())
    assert model.viterbi_alignment(f, e) == [1, 2, 3, 4]
    assert model.log_likelihood(f, e) > model.log_likelihood(f, model.target.ids("small is house the".split()))


def _decoder():
    sources, targets = [s.split() for s in DE], [s.split() for s in EN]
    model, _ = train_ibm(sources, targets, 10, 5)
    counts = np.zeros(len(model.target))
    for sentence in targets:
        np.add.at(counts, model.target.ids(sentence), 1)
    lm = NGramModel.train(EN, 3, "mkn", discount_fallback=(0.5, 1.0, 1.5))
    return NoisyChannelDecoder(model, lm, proposal_table(model, counts, 3), np.argsort(-counts[1:])[:5] + 1)


def test_the_decoder_finds_the_translation_and_passes_unseen_words_through():
    decoder = _decoder()
    best, unknown = decoder.decode("ein haus ist gut".split(), n_best=3)
    assert best[0].words == "a house is good".split() and unknown == []
    assert [h.score for h in best] == sorted((h.score for h in best), reverse=True)
    best, unknown = decoder.decode("das auto".split())
    assert "auto" in best[0].words and unknown == ["auto"]


def test_proposals_rank_by_t_and_the_prior():
    decoder = _decoder()
    target = decoder.channel.target
    assert target.words[decoder.proposals[decoder.channel.source.index["haus"], 0]] == "house"
    assert (decoder.proposals != 0).all()  # NULL is never proposed


def test_words_and_detokenize():
    assert words("Es regnet, oder?") == ["es", "regnet", ",", "oder", "?"]
    assert words("Don't use E-Mail.") == ["don't", "use", "e-mail", "."]
    assert detokenize(["i", "think", "it", "rains", ",", "doesn't", "it", "?"]) == "I think it rains, doesn't it?"


def _files(tmp_path):
    pairs = [f"{de.capitalize()}.\t{en.capitalize()}." for de, en in zip(DE, EN)]  # as real sentences are written
    for name in ("train", "valid", "test"):
        (tmp_path / f"{name}.tsv").write_text("\n".join(pairs) + "\n", encoding="utf-8")
    return tmp_path


def test_train_translate_and_eval_through_the_cli(tmp_path, capsys):
    data, run = _files(tmp_path), tmp_path / "run"
    args = ["train", "smt", "--data.dataset", "files", "--data.train", str(data / "train.tsv"), "--data.valid",
            str(data / "valid.tsv"), "--data.test", str(data / "test.tsv"), "--model.model1_iterations", "10",
            "--tune_sentences", "7", "--output_dir", str(run)]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "EM 15 (Model 2)" in out and "weights tuned on 7 valid sentences" in out
    assert main(["translate", str(run), "Ein Haus ist gut.", "Das Buch ist klein.", "--json"]) == 0
    results = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["translations"][0]["text"] for r in results] == ["A house is good.", "The book is small."]
    assert main(["translate", str(run), "das auto", "--n-best", "2"]) == 0
    captured = capsys.readouterr()
    assert "passed through unchanged: auto" in captured.err and captured.out.startswith("# das auto")
    assert main(["translate", str(run), "Das Buch ist Zorblax."]) == 0  # a name passes through as written
    assert capsys.readouterr().out.strip() == "The book is Zorblax."
    assert main(["eval", str(run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["sentences"] == 7 and result["bleu"] == pytest.approx(100) and "nrefs:1" in result["bleu_signature"]


@pytest.mark.parametrize("extra, message", [
    (["--alpha", "1"], "--alpha is a neural translator's length penalty"),
    (["--attention", "--out", "ART"], "this model has no attention"),
])  # fmt: skip
def test_neural_only_options_are_one_clear_line(tmp_path, capsys, extra, message):
    data, run = _files(tmp_path), tmp_path / "run"
    assert main(["train", "smt", "--data.dataset", "files", "--data.train", str(data / "train.tsv"), "--data.valid",
                 str(data / "valid.tsv"), "--tune_sentences", "0", "--output_dir", str(run)]) == 0  # fmt: skip
    capsys.readouterr()
    extra = [str(tmp_path / "art") if part == "ART" else part for part in extra]
    assert main(["translate", str(run), "ein haus", *extra]) != 0
    assert message in capsys.readouterr().err
