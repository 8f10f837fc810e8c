"""Vocabulary: fixed specials, deterministic order, unknowns, JSON round trip and bad files."""

import json

import pytest

from rnnlab.data.vocab import BOS_ID, EOS_ID, PAD_ID, SPECIALS, UNK_ID, Vocabulary
from rnnlab.errors import DataError, UserError


def test_specials_and_order():
    vocab = Vocabulary.build(["b", "a", "c", "a", "b", "a", "d", "c"])
    # a:3, b:2, c:2, d:1 -> frequency desc, ties by token
    assert vocab.tokens == [*SPECIALS, "a", "b", "c", "d"]
    assert (
        vocab.token_to_id("<pad>"),
        vocab.token_to_id("<unk>"),
        vocab.token_to_id("<s>"),
        vocab.token_to_id("</s>"),
    ) == (0, 1, 2, 3)
    assert (PAD_ID, UNK_ID, BOS_ID, EOS_ID) == (0, 1, 2, 3)
    assert len(vocab) == 8 and "a" in vocab and "z" not in vocab


def test_build_from_sequences_is_order_independent():
    lines = [["x", "y", "x"], ["z", "y", "x"], ["</s>", "<unk>"]]
    one = Vocabulary.build(lines)
    two = Vocabulary.build(reversed(lines))
    assert one == two
    assert one.tokens == [*SPECIALS, "x", "y", "z"]  # specials in the data are not added twice


def test_min_freq_and_max_size():
    tokens = list("aaaabbbccd")
    assert Vocabulary.build(tokens, min_freq=2).tokens == [*SPECIALS, "a", "b", "c"]
    assert Vocabulary.build(tokens, max_size=6).tokens == [*SPECIALS, "a", "b"]
    with pytest.raises(ValueError):
        Vocabulary.build(tokens, max_size=3)
    with pytest.raises(ValueError):
        Vocabulary.build(tokens, min_freq=0)


def test_encode_decode_unknown():
    vocab = Vocabulary.build(list("床前明月光"))
    ids = vocab.encode(list("床前看月光"), add_bos=True, add_eos=True)
    assert ids[0] == BOS_ID and ids[-1] == EOS_ID
    assert ids[3] == UNK_ID
    assert vocab.decode(ids) == ["<s>", "床", "前", "<unk>", "月", "光", "</s>"]
    assert vocab.decode(ids, skip_specials=True) == ["床", "前", "<unk>", "月", "光"]
    assert vocab.unknown(list("看床看山")) == ["看", "山"]
    with pytest.raises(DataError, match="看"):
        vocab.encode(list("看"), strict=True)
    with pytest.raises(IndexError, match="outside"):
        vocab.id_to_token(len(vocab))


def test_save_load_round_trip(tmp_path):
    vocab = Vocabulary.build(list("白日依山尽\n黄河入海流"))
    path = tmp_path / "vocab.json"
    vocab.save(path)
    loaded = Vocabulary.load(path)
    assert loaded == vocab and loaded.token_to_id("\n") == vocab.token_to_id("\n")


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "expected a JSON"),
        ('["a"]', "format"),
        ('{"format": "rnnlab-vocabulary", "version": 9, "tokens": []}', "version"),
        ('{"format": "rnnlab-vocabulary", "version": 1, "tokens": "abc"}', "list"),
        ('{"format": "rnnlab-vocabulary", "version": 1, "tokens": ["a", "b"]}', "must start with"),
        (
            json.dumps({"format": "rnnlab-vocabulary", "version": 1, "tokens": [*SPECIALS, "a", "a"]}),
            "duplicate",
        ),
    ],
)
def test_malformed_files(tmp_path, content, message):
    path = tmp_path / "vocab.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message) as info:
        Vocabulary.load(path)
    assert str(path) in str(info.value) and isinstance(info.value, UserError)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        Vocabulary.load(tmp_path / "nope.json")
