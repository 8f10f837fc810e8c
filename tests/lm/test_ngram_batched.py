"""Batched n-gram scoring (issue #28 §4): hash indexes and vectorised words equal the one-token-at-a-time path."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from rnnlab.lm import ngram_index
from rnnlab.lm.ngram import NGramModel
from rnnlab.lm.ngram_hash import KeyIndex
from rnnlab.lm.ngram_tokens import BOS_ID, UNK_ID
from rnnlab.lm.ngram_words import OTHER_SPACE, WordLookup

FALLBACK = {"kn": [0.75], "mkn": [0.5, 1.0, 1.5]}


def zipf_lines(count: int, seed: int, vocabulary: int = 40) -> list[str]:
    rng = np.random.default_rng(seed)
    return [
        " ".join(f"w{i}" for i in rng.zipf(1.5, size=rng.integers(0, 12)) % vocabulary) for _ in range(count)
    ]


def probe_lines(seed: int) -> list[str]:
    """Known words, unknown ones, empty and blank lines, literal sentence markers, long words."""
    lines = zipf_lines(60, seed, vocabulary=50)  # w40..w49 never occur in training: unknown
    return lines + ["", "   ", "w1 <s> w2 </s> w3", "zebra w1 unknown-word-longer-than-16-bytes", "<unk> w2"]


def per_token_logprob(model: NGramModel, history: list[int], word: int) -> float:
    """KenLM's rule, one token at a time with one lookup per n-gram (`NGramTables.lookup_one`): the
    longest stored n-gram ending in `word`, plus the backoffs of the longer stored contexts."""
    tables = model.tables
    context = history[-(tables.order - 1) :] if tables.order > 1 else []
    total = 0.0
    for length in range(len(context), -1, -1):  # longest first
        gram = context[len(context) - length :] + [word]
        row = tables.lookup_one(gram)
        if row >= 0:
            return float(tables.logprob[length][row]) + total
        context_row = tables.lookup_one(context[len(context) - length :])
        if length and context_row >= 0:
            total += float(tables.backoff[length - 1][context_row])
    raise AssertionError("unigrams are always stored")


def one_by_one(model: NGramModel, sentence: str) -> list[float]:
    ids, _ = model.vocab.encode(sentence.replace("</s>", " ").replace("<s>", " ").split())
    history, values = [BOS_ID], []
    for word in ids.tolist() + [model.vocab.index["</s>"]]:
        values.append(per_token_logprob(model, history, word))
        history.append(word)
    return values


@pytest.fixture
def hashed(monkeypatch):
    """Every batch, however small, through the hash indexes."""
    monkeypatch.setattr(ngram_index, "HASH_MIN_TOKENS", 0)


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("method", ["mkn", "kn", "wb", "mle"])
def test_batched_scores_equal_the_per_token_path(hashed, order, method):
    model = NGramModel.train(zipf_lines(300, order), order, method, discount_fallback=FALLBACK.get(method))
    sentences = probe_lines(order + 10)
    scores = model.score(sentences)
    assert model.tables._hash_indexes is not None or order == 1
    for sentence, score in zip(sentences, scores):
        expected = one_by_one(model, sentence)
        assert len(score.token_logprobs) == len(expected)
        for got, want in zip(score.token_logprobs, expected):
            assert (got == want == -math.inf) or abs(got - want) <= 1e-9, (sentence, got, want)
    total, count, oov = model.corpus_logprob(sentences)
    assert count == sum(len(s.token_logprobs) for s in scores)
    assert oov == sum(len(s.unknown) for s in scores) > 0
    assert total == pytest.approx(sum(sum(s.token_logprobs) for s in scores), rel=1e-12)


@pytest.mark.parametrize("method", ["mkn", "addk"])
def test_hash_indexes_and_binary_search_give_the_same_numbers(method):
    model = NGramModel.train(zipf_lines(300, 1), 4, method, discount_fallback=FALLBACK.get(method))
    sentences = probe_lines(2) * 3
    searched = model.score(sentences)  # a small batch: binary search
    assert model.tables._hash_indexes is None
    model.tables.build_hash_indexes()
    for a, b in zip(searched, model.score(sentences)):
        assert (a.tokens, a.unknown) == (b.tokens, b.unknown)
        np.testing.assert_allclose(a.token_logprobs, b.token_logprobs, rtol=0, atol=1e-12)


def test_hashed_scores_match_the_distributions_that_sum_to_one(hashed):
    model = NGramModel.train(zipf_lines(200, 3), 3, "mkn", discount_fallback=FALLBACK["mkn"])
    for score in model.score(["w1 w2 w3 w1", "w40 w1", ""]):
        history = ["<s>"]
        for token, logprob in zip(score.tokens, score.token_logprobs):
            distribution = model.next_token_distribution(history)
            assert sum(distribution.values()) == pytest.approx(1.0, abs=1e-9)
            p = distribution[token if token in distribution else "<unk>"]
            assert logprob == pytest.approx(math.log(p), abs=1e-9)
            history.append(token)


def test_hashed_scores_match_kenlm(hashed, tmp_path):
    kenlm = pytest.importorskip("kenlm")
    model = NGramModel.train(zipf_lines(400, 5), 5, "mkn", discount_fallback=FALLBACK["mkn"])
    model.write_arpa(tmp_path / "model.arpa")
    reference = kenlm.Model(str(tmp_path / "model.arpa"))
    sentences = [s for s in probe_lines(6) if "<" not in s]
    for sentence, score in zip(sentences, model.score(sentences)):
        assert score.total_log10prob == pytest.approx(reference.score(sentence, bos=True, eos=True), abs=1e-4)


def test_key_index_finds_exactly_the_stored_keys():
    rng = np.random.default_rng(0)
    for n in (0, 1, 7, 3000):
        keys = rng.choice(10**7, size=n, replace=False).astype(np.int64)
        index = KeyIndex(keys)
        queries = np.concatenate([keys, rng.integers(0, 10**7, 2000)])
        found, slots = index.find(queries)
        rows = np.full(len(queries), -1)
        rows[found] = index.rows[slots]
        expected = {int(k): i for i, k in enumerate(keys)}
        assert rows.tolist() == [expected.get(int(q), -1) for q in queries]


def test_other_space_is_every_non_ascii_whitespace():
    assert OTHER_SPACE == "".join(c for c in map(chr, range(128, sys.maxunicode + 1)) if c.isspace())


VOCAB = [
    "<unk>",
    "<s>",
    "</s>",
    "a",
    "b",
    "ab",
    "abcdefgh",
    "abcdefghi",
    "abcdefgh1",
    "é",
    "中中",
    "x" * 17,
    "\x00",
    "a\x00",
]


def test_words_as_bytes_equal_split_and_a_dict():
    rng = np.random.default_rng(0)
    pieces = ["a", "b", "é", "中", "x", " ", "  ", "\t", "\x1c", "\x1f", "\r\n", "<s>", "\x00", "zz", "\x85"]
    lookup, index = WordLookup(VOCAB), {t: i for i, t in enumerate(VOCAB)}
    assert lookup.usable
    for _ in range(200):
        sentences = ["".join(str(rng.choice(pieces)) * int(rng.choice([1, 2, 8, 9, 17])) for _ in range(rng.integers(0, 7)))
                     for _ in range(rng.integers(0, 5))]  # fmt: skip
        encoded = lookup.encode(sentences)
        if any(c in OTHER_SPACE for s in sentences for c in s):
            assert encoded is None  # left to str.split
            continue
        words = [s.split() for s in sentences]
        flat = [w for ws in words for w in ws]
        assert encoded.ids.tolist() == [index.get(w, -1) for w in flat]
        assert encoded.lengths.tolist() == [len(ws) for ws in words]
        assert [encoded.text(i) for i in range(len(flat))] == flat


def test_a_hash_collision_never_maps_a_word_to_the_wrong_id(monkeypatch):
    lookup = WordLookup(VOCAB)
    hashes, _ = lookup._hash(lookup._chunks, lookup._offsets, lookup._sizes)
    real = WordLookup._hash

    def colliding(chunks, starts, sizes):  # every word hashes like "abcdefgh1"
        _, first = real(chunks, starts, sizes)
        return np.full(len(starts), hashes[VOCAB.index("abcdefgh1")]), first

    monkeypatch.setattr(lookup, "_hash", colliding)
    encoded = lookup.encode(["abcdefgh1 abcdefgh2 Xbcdefgh1 abcdefgh a abcdefgh1x"])
    assert encoded.ids.tolist() == [VOCAB.index("abcdefgh1"), -1, -1, -1, -1, -1]


def test_model_scores_the_same_through_bytes_and_through_str_split(monkeypatch):
    model = NGramModel.train(["a b é", "中中 a", "b b a"], 2, "mkn", discount_fallback=[0.5, 1.0, 1.5])
    sentences = ["a b é", "中中 a x", "", "<s> a </s> b", "x\x1cé"]
    as_bytes = [(s.tokens, s.token_logprobs, s.unknown) for s in model.score(sentences)]
    assert model._words.usable
    assert (
        as_bytes[1][2] == ["x"]
        and as_bytes[3][0] == ["a", "b", "</s>"]
        and as_bytes[4][0] == ["x", "é", "</s>"]
    )
    model._words = None
    monkeypatch.setattr(WordLookup, "usable", False, raising=False)  # as if the vocabulary's hashes collided
    monkeypatch.setattr(WordLookup, "__init__", lambda self, tokens: None)
    assert [(s.tokens, s.token_logprobs, s.unknown) for s in model.score(sentences)] == as_bytes
    assert model.corpus_logprob(sentences)[2] == 2  # the two x
    assert model.encode_sentences(["x"], with_tokens=False)[1].tolist() == [BOS_ID, UNK_ID, 2]


def test_unicode_whitespace_splits_words_as_str_split_does():
    model = NGramModel.train(["a b é", "b a"], 2, "wb")
    spaced, plain = model.score(["a\u3000b\xa0é", "a b é"])
    assert (spaced.tokens, spaced.token_logprobs) == (plain.tokens, plain.token_logprobs)
