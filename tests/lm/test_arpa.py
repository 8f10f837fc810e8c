"""ARPA files: ours load in KenLM and score the same; others' load here and score like KenLM; bad ones refused."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from rnnlab.errors import ConfigError, DataError
from rnnlab.lm.ngram import NGramModel

kenlm = pytest.importorskip("kenlm")

LN10 = math.log(10)
PROBES = [
    "w1 w2 w3 w1 w4 w0 w2",
    "w0 w0 w0 w0 w0 w0 w0 w0",
    "unseen w1 w2 w3 w7 w11 w8 w9 w2 w2",
    "w5",
    "",
]


def zipf_corpus(sentences=500, seed=0):
    rng = np.random.default_rng(seed)
    return [" ".join(f"w{i}" for i in rng.zipf(1.5, size=rng.integers(1, 15)) % 80) for _ in range(sentences)]


def kenlm_log10(path, sentences):
    model = kenlm.Model(str(path))
    return [[p for p, _, _ in model.full_scores(s, bos=True, eos=True)] for s in sentences]


def assert_same_as_kenlm(model, path, sentences, tolerance=1e-4):
    ours = model.score(sentences)
    theirs = kenlm_log10(path, sentences)
    for score, reference in zip(ours, theirs):
        assert len(score.token_logprobs) == len(reference)
        for a, b in zip(score.token_logprobs, reference):
            if a == -math.inf:  # maximum likelihood zero: written as -99 in ARPA
                continue
            assert a / LN10 == pytest.approx(b, abs=tolerance)


@pytest.mark.parametrize(
    ("method", "order", "options"),
    [
        ("mkn", 2, {}),
        ("mkn", 3, {}),
        ("mkn", 5, {}),
        ("mkn", 4, {"prune": [0, 1, 1, 2]}),
        ("mkn", 3, {"min_count": 2}),
        ("kn", 3, {}),
        ("wb", 4, {}),
        ("mle", 3, {}),
    ],
)
def test_our_arpa_scores_the_same_in_kenlm(tmp_path, method, order, options):
    corpus = zipf_corpus()
    fallback = {"kn": [0.75], "mkn": [0.5, 1.0, 1.5]}.get(method)  # high orders of random text: no repeats
    model = NGramModel.train(corpus, order, method, discount_fallback=fallback, **options)
    path = tmp_path / "model.arpa"
    model.write_arpa(path)
    assert_same_as_kenlm(model, path, PROBES + corpus[:30], tolerance=1e-5)
    reloaded = NGramModel.from_arpa(path)
    for a, b in zip(model.score(PROBES), reloaded.score(PROBES)):
        finite = np.isfinite(a.token_logprobs)  # ARPA writes probability 0 as -99
        np.testing.assert_allclose(
            np.array(a.token_logprobs)[finite], np.array(b.token_logprobs)[finite], atol=1e-5
        )


def test_add_k_has_no_arpa_form(tmp_path):
    model = NGramModel.train(zipf_corpus(50), 2, "addk")
    with pytest.raises(ConfigError, match="add-k"):
        model.write_arpa(tmp_path / "x.arpa")


FOREIGN = """\\data\\
ngram 1=6
ngram 2=6
ngram 3=2

\\1-grams:
-0.8\t</s>
-99\t<s>\t-0.5
-0.9\tthe\t-0.25
-1.1\tcat\t-0.2
-1.2\tsat
-1.3\ton\t-0.1

\\2-grams:
-0.2\t<s> the\t-0.3
-0.4\tthe cat\t-0.1
-0.5\tcat sat
-0.3\tsat </s>
-0.6\ton the
-0.7\tthe sat

\\3-grams:
-0.05\t<s> the cat
-0.15\tthe cat sat

\\end\\
"""


def test_foreign_arpa_scores_like_kenlm(tmp_path):
    path = tmp_path / "foreign.arpa"
    path.write_text(FOREIGN, encoding="utf-8")
    model = NGramModel.from_arpa(path)
    sentences = ["the cat sat", "on the cat sat", "the dog sat on the the", "cat", "sat on the"]
    assert_same_as_kenlm(model, path, sentences, tolerance=1e-4)
    # <unk> is not listed: KenLM (and we) give it log10 probability -100, plus the backoff of <s>
    assert model.score(["dog"])[0].token_logprobs[0] / LN10 == pytest.approx(-100.0 - 0.5)


def malformed(text, tmp_path):
    path = tmp_path / "bad.arpa"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda t: t.replace("ngram 2=6", "ngram 2=7"),
            r"bad\.arpa:\d+: \\data\\ declares 7 2-grams but the section lists 6",
        ),
        (lambda t: t.replace("-0.4\tthe cat", "-0.4x\tthe cat"), r"bad\.arpa:16: expected a number"),
        (
            lambda t: t.replace("-1.1\tcat\t-0.2", "-1.1\tcat\toops"),
            r"bad\.arpa:10: expected a number for the backoff",
        ),
        (
            lambda t: t.replace("-0.05\t<s> the cat", "-0.05\t<s> the cat\t-0.2"),
            r"bad\.arpa:23: a backoff weight on a 3-gram",
        ),
        (lambda t: t.replace("\\2-grams:", "\\4-grams:"), r"bad\.arpa:14: expected the \\2-grams: section"),
        (lambda t: t.replace("\\end\\\n", ""), r"bad\.arpa:\d+: missing \\end\\"),
        (lambda t: t.replace("\\data\\", "data"), r"missing the \\data\\ header"),
        (
            lambda t: t.replace("-0.6\ton the", "-0.6\ton the the the"),
            r"bad\.arpa:19: expected a probability, 2 word",
        ),
        (
            lambda t: t.split("\\2-grams:")[0].replace("ngram 3=2", "ngram 3=2"),
            r"missing the \\2-grams: section",
        ),
        (lambda t: t.replace("ngram 2=6\n", ""), r"expected the count of 2-grams, got one for 3-grams"),
        (lambda t: t.replace("-0.9\tthe", "0.9\tthe"), r"bad\.arpa:9: expected a log10 probability <= 0"),
        # non-finite values: an `inf` backoff once scored p=inf, perplexity 0.00
        (lambda t: t.replace("-1.1\tcat\t-0.2", "-1.1\tcat\tinf"), r"bad\.arpa:10: expected a finite number for the backoff, got 'inf'"),
        (lambda t: t.replace("-1.1\tcat\t-0.2", "-1.1\tcat\tnan"), r"bad\.arpa:10: expected a finite number for the backoff"),
        (lambda t: t.replace("-0.4\tthe cat", "-inf\tthe cat"), r"bad\.arpa:16: expected a finite number for the log10 probability.*-99"),
        (lambda t: t.replace("-0.05\t<s>", "NaN\t<s>"), r"bad\.arpa:23: expected a finite number for the log10 probability"),
    ],
)
def test_malformed_arpa_is_refused_with_the_line(tmp_path, edit, message):
    with pytest.raises(DataError, match=message):
        NGramModel.from_arpa(malformed(edit(FOREIGN), tmp_path))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("-0.7\tthe sat", "-0.7\tthe cat"), r"a 2-gram is listed twice"),
        (
            lambda t: t.replace("-0.15\tthe cat sat", "-0.15\tcat the sat"),
            r"'cat the sat' has no context 'cat the'",
        ),
        (
            lambda t: t.replace("-0.7\tthe sat", "-0.7\tthe dog"),
            r"'the dog' has a word missing from the unigrams",
        ),
        (lambda t: t.replace("-0.8\t</s>\n", "").replace("ngram 1=6", "ngram 1=5"), r"do not list </s>"),
    ],
)
def test_inconsistent_arpa_is_refused(tmp_path, edit, message):
    with pytest.raises(DataError, match=message):
        NGramModel.from_arpa(malformed(edit(FOREIGN), tmp_path))


def test_arpa_module_does_not_import_the_model():
    """The file format sits below the model: arpa.py must not import rnnlab.lm.ngram (no import circle)."""
    import ast

    import rnnlab.lm.arpa as arpa_module

    tree = ast.parse(Path(arpa_module.__file__).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert "rnnlab.lm.ngram" not in imported
