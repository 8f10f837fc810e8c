"""N-gram estimators against a textbook reference, sums to 1, counting, pruning, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnlab.errors import ConfigError, DataError
from rnnlab.lm.ngram import NGramModel
from rnnlab.lm.ngram_counts import count_ngrams
from rnnlab.lm.ngram_smoothing import DiscountError

from .ngram_reference import ReferenceModel

METHODS = ["mle", "addk", "wb", "kn", "mkn"]
FALLBACK = {"kn": [0.75], "mkn": [0.5, 1.0, 1.5]}
CORPUS = [
    "the cat sat on the mat",
    "the dog sat on the log",
    "the cat ate the fish",
    "a dog ate a bone",
    "the cat sat",
    "a cat saw the dog on the mat",
    "the dog saw a cat",
    "on the mat sat the dog",
] * 2 + ["a bird sang", "the bird sat on a log", "a fish swam"]


def train(lines, order, method, **kwargs):
    return NGramModel.train(lines, order, method, discount_fallback=FALLBACK.get(method), **kwargs)


def histories(model_order):
    return [
        ["<s>"],
        ["<s>", "the"],
        ["<s>", "the", "cat"],
        ["the", "cat", "sat", "on"],
        ["zebra", "the"],
        ["a"],
    ]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_matches_textbook_reference(method, order):
    model = train(CORPUS, order, method, k=0.5)
    reference = ReferenceModel(CORPUS, order, method, k=0.5, fallback=FALLBACK.get(method))
    assert sorted(t for t in model.vocab.tokens if t != "<s>") == reference.vocab
    for history in histories(order):
        ours = model.next_token_distribution(history)
        context = tuple(history if history[0] == "<s>" else ["<s>"] + history)
        for word, p in ours.items():
            assert p == pytest.approx(reference.prob(word, context), abs=1e-12), (history, word)
        assert sum(ours.values()) == pytest.approx(1.0, abs=1e-9)


def zipf_corpus(sentences=400, seed=0):
    rng = np.random.default_rng(seed)
    return [" ".join(f"w{i}" for i in rng.zipf(1.6, size=rng.integers(1, 12)) % 60) for _ in range(sentences)]


def test_mkn_discounts_follow_chen_goodman():
    corpus = zipf_corpus()
    model = NGramModel.train(corpus, 3, "mkn")
    counts = count_ngrams(corpus, 3)
    assert not model.report.fallback_orders
    for m, discounts in enumerate(model.report.discounts, start=1):
        a = counts.orders[m - 1].adjusted
        n = [int((a == j).sum()) for j in (1, 2, 3, 4)]
        y = n[0] / (n[0] + 2 * n[1])
        expected = [j - (j + 1) * y * n[j] / n[j - 1] for j in (1, 2, 3)]
        assert discounts == pytest.approx(expected)


sentences = st.lists(
    st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), min_size=0, max_size=7).map(" ".join),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corpus=sentences, order=st.integers(1, 4), method=st.sampled_from(METHODS), prune=st.booleans())
def test_every_distribution_sums_to_one_and_matches_scores(corpus, order, method, prune):
    if not any(line.split() for line in corpus):
        with pytest.raises(DataError):
            train(corpus, order, method)
        return
    thresholds = [0, 1] if prune and order > 1 else ()
    model = train(corpus, order, method, prune=thresholds)
    reference = None if thresholds else ReferenceModel(corpus, order, method, fallback=FALLBACK.get(method))
    probe = ["a b c", "e e e e", "z a", ""]
    for score in model.score(probe):
        history = ["<s>"]
        for token, logprob in zip(score.tokens, score.token_logprobs):
            distribution = model.next_token_distribution(history)
            assert sum(distribution.values()) == pytest.approx(1.0, abs=1e-9)
            p = distribution[token if token in distribution else "<unk>"]
            assert (logprob == -math.inf and p == 0) or logprob == pytest.approx(math.log(p), abs=1e-9)
            if reference is not None:
                assert p == pytest.approx(reference.prob(token, tuple(history)), abs=1e-12)
            history.append(token)


def test_chunked_counting_equals_one_pass():
    whole = count_ngrams(CORPUS, 4)
    for chunk in (1, 3, 17):
        chunked = count_ngrams(iter(CORPUS), 4, chunk_tokens=chunk)
        assert chunked.vocab.tokens == whole.vocab.tokens
        for a, b in zip(whole.orders, chunked.orders):
            np.testing.assert_array_equal(a.grams, b.grams)
            np.testing.assert_array_equal(a.raw, b.raw)
            np.testing.assert_array_equal(a.adjusted, b.adjusted)


def test_counts_match_brute_force():
    counts = count_ngrams(CORPUS, 3)
    reference = ReferenceModel(CORPUS, 3, "mkn", fallback=FALLBACK["mkn"])
    found = {}
    for level in counts.orders:
        for gram, raw, adjusted in zip(level.grams, level.raw, level.adjusted):
            words = tuple(counts.vocab.tokens[i] for i in gram)
            if raw:
                found[words] = (raw, adjusted)
    assert found == {g: (reference.raw[g], reference.adjusted[g]) for g in reference.raw}


def test_min_count_maps_rare_words_to_unk():
    model = NGramModel.train(CORPUS, 2, "wb", min_count=3)
    assert "bird" not in model.vocab and "cat" in model.vocab
    score = model.score(["the bird sat"])[0]
    assert score.unknown == ["bird"]
    assert model.next_token_distribution(["<unk>"])["sat"] > 0.1  # "bird sat" was counted as "<unk> sat"


def test_character_level_chinese():
    lines = ["那只猫在作报告", "那只狗在作报告", "猫在睡觉", "狗在报告"] * 2
    model = NGramModel.train(lines, 3, "wb", level="char")
    good, bad = model.score(["那只猫在作报告!", "! 在报那猫告做只"])
    assert good.tokens[:3] == ["那", "只", "猫"] and good.total_logprob > bad.total_logprob
    assert "▁" in bad.tokens  # a space is the token ▁ at character level
    assert model.generate("那只", seed=0, max_tokens=10)[0].startswith("那只")


def test_generation_is_seeded_and_filters():
    model = train(CORPUS, 3, "mkn")
    assert model.generate("the", num_samples=3, seed=1) == model.generate("the", num_samples=3, seed=1)
    greedy = model.generate("the", temperature=0.0, max_tokens=5)[0]
    top1 = model.generate("the", top_k=1, seed=5, max_tokens=5)[0]
    assert greedy == top1
    distribution = model.next_token_distribution(["<s>", "the"])
    assert greedy.split()[1] == max(distribution, key=distribution.get)
    for sample in model.generate("", num_samples=5, seed=0, top_p=0.5):
        assert sample.split()[0] in {"the", "a"}


def test_pruning_drops_rare_ngrams_and_stays_normalised():
    full = train(CORPUS, 3, "mkn")
    pruned = train(CORPUS, 3, "mkn", prune=[0, 1, 1])
    assert pruned.tables.sizes()[0] == full.tables.sizes()[0]
    assert all(p < f for p, f in zip(pruned.tables.sizes()[1:], full.tables.sizes()[1:]))
    for history in histories(3):
        assert sum(pruned.next_token_distribution(history).values()) == pytest.approx(1.0)
    assert pruned.memory_bytes() < full.memory_bytes()


def test_bad_settings_are_refused_clearly():
    with pytest.raises(ConfigError, match="order must be"):
        NGramModel.train(CORPUS, 0)
    with pytest.raises(DataError, match="empty"):
        NGramModel.train(["", "   "], 3)
    with pytest.raises(DataError, match="empty"):
        NGramModel.train([], 3)
    with pytest.raises(ConfigError, match="non-decreasing"):
        NGramModel.train(CORPUS, 3, prune=[0, 2, 1])
    with pytest.raises(ConfigError, match="first prune threshold must be 0"):
        NGramModel.train(CORPUS, 3, prune=[1])
    with pytest.raises(DiscountError, match=r"1-grams.*--discount-fallback.*0\.5, 1\.0, 1\.5"):
        NGramModel.train(["a b c d e f g"], 3, "mkn")
    model = NGramModel.train(["a b c d e f g"], 3, "mkn", discount_fallback=[0.5, 1.0, 1.5])
    assert model.report.fallback_orders == [1, 2, 3]
    assert not np.isnan(model.score(["a b c"])[0].total_logprob)


def test_save_and_load_round_trip(tmp_path):
    for method in ("addk", "mkn"):
        model = train(CORPUS, 3, method)
        model.save(tmp_path / method)
        loaded = NGramModel.load(tmp_path / method)
        sentences = ["the cat sat on the log", "zebra"]
        for a, b in zip(model.score(sentences), loaded.score(sentences)):
            assert a.token_logprobs == b.token_logprobs


def test_literal_sentence_markers_and_blank_lines_are_whitespace():
    messy = ["the <s> cat  sat", "", "   ", "\ton the </s> mat\n", "the cat"]
    clean = ["the cat sat", "on the mat", "the cat"]
    for chunk in (1, 1000):
        a, b = count_ngrams(messy, 3, chunk_tokens=chunk), count_ngrams(clean, 3)
        assert a.vocab.tokens == b.vocab.tokens and (a.token_count, a.sentence_count) == (8, 3)
        for x, y in zip(a.orders, b.orders):
            np.testing.assert_array_equal(x.grams, y.grams)
            np.testing.assert_array_equal(x.raw, y.raw)


def test_batch_scoring_equals_one_by_one():
    model = train(CORPUS, 3, "mkn")
    sentences = ["the cat sat", "", "zebra the <s> cat", "a \x00 b", "  on the   mat  ", "the"]
    for sentence, batched in zip(sentences, model.score(sentences)):
        alone = model.score([sentence])[0]
        assert (alone.tokens, alone.token_logprobs, alone.unknown) == (
            batched.tokens,
            batched.token_logprobs,
            batched.unknown,
        )
    assert model.score(["zebra the <s> cat"])[0].tokens == ["zebra", "the", "cat", "</s>"]
