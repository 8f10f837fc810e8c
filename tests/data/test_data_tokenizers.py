"""Tokenizers: round trips, PTB conventions, sentencepiece training and save/load."""

import pytest

from rnnlab.data.tokenizers import (
    CharTokenizer,
    SubwordTokenizer,
    WordTokenizer,
    load_tokenizer,
    make_tokenizer,
)
from rnnlab.data.vocab import Vocabulary
from rnnlab.errors import DataError

POEMS = "白日依山尽，黄河入海流。\n欲穷千里目，更上一层楼。\n"
PTB_LIKE = " aer banknote berlitz <unk>\n the n stock fell \n"


def test_char_keeps_newlines():
    tok = CharTokenizer()
    tokens = tok.tokenize(POEMS)
    assert tokens[:3] == ["白", "日", "依"] and tokens.count("\n") == 2
    assert tok.detokenize(tokens) == POEMS


def test_word_ptb_convention():
    tok = WordTokenizer()
    tokens = tok.tokenize(PTB_LIKE)
    assert tokens == ["aer", "banknote", "berlitz", "<unk>", "</s>", "the", "n", "stock", "fell", "</s>"]
    assert tok.detokenize(tokens) == "aer banknote berlitz <unk>\nthe n stock fell\n"
    assert WordTokenizer(eol=None).tokenize(PTB_LIKE)[-1] == "fell"
    # Vocabulary ids follow: <unk> in the text is the special, </s> is id 3
    vocab = Vocabulary.build(tokens)
    assert vocab.encode(["<unk>", "</s>"]) == [1, 3]


def test_subword_train_round_trip(tmp_path):
    text = "the quick brown fox jumps over the lazy dog\n  two  spaces\nthe dog sleeps\n" * 20
    tok = SubwordTokenizer.train(text, vocab_size=40)
    tokens = tok.tokenize(text)
    assert len(tokens) < len(text)  # pieces longer than one character exist
    assert "\n" in tokens
    assert tok.detokenize(tokens) == text
    tok.save(tmp_path / "tok")
    loaded = load_tokenizer(tmp_path / "tok")
    assert isinstance(loaded, SubwordTokenizer) and loaded.tokenize(text) == tokens
    # training is deterministic
    assert SubwordTokenizer.train(text, vocab_size=40).model_proto == tok.model_proto


@pytest.mark.parametrize("tok", [CharTokenizer(), WordTokenizer(eol="<eol>")])
def test_save_load(tmp_path, tok):
    tok.save(tmp_path)
    loaded = load_tokenizer(tmp_path)
    assert type(loaded) is type(tok) and loaded.config() == tok.config()
    assert loaded.tokenize(PTB_LIKE) == tok.tokenize(PTB_LIKE)


def test_load_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_tokenizer(tmp_path)
    (tmp_path / "tokenizer.json").write_text('{"kind": "morse"}', encoding="utf-8")
    with pytest.raises(DataError, match="morse"):
        load_tokenizer(tmp_path)
    (tmp_path / "tokenizer.json").write_text('{"kind": "subword"}', encoding="utf-8")
    with pytest.raises(DataError, match="tokenizer.model"):
        load_tokenizer(tmp_path)
    (tmp_path / "tokenizer.model").write_bytes(b"garbage")
    with pytest.raises(DataError, match="sentencepiece"):
        load_tokenizer(tmp_path)
    with pytest.raises(DataError, match="empty"):
        SubwordTokenizer.train("\n \n", vocab_size=10)


def test_make_tokenizer():
    assert isinstance(make_tokenizer("char"), CharTokenizer)
    assert make_tokenizer("word", eol=None).eol is None
    with pytest.raises(ValueError):
        make_tokenizer("subword")


def test_char_nfkc_makes_ascii_and_full_width_one_symbol(tmp_path):
    from rnnlab.data.tokenizers import CharTokenizer, load_tokenizer

    tokenizer = CharTokenizer(normalize="NFKC")
    assert tokenizer.tokenize("报告!") == tokenizer.tokenize("报告！") == ["报", "告", "!"]
    assert tokenizer.tokenize("１９９８，。") == ["1", "9", "9", "8", ",", "。"]
    tokenizer.save(tmp_path)
    assert load_tokenizer(tmp_path).tokenize("！") == ["!"]
    assert CharTokenizer().tokenize("！") == ["！"] and CharTokenizer().config() == {}
    with pytest.raises(DataError, match="normalisation"):
        CharTokenizer(normalize="nfkd")
