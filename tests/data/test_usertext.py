"""User text corpora: files, directories, globs, given splits and the errors that name file and line."""

import pytest

from rnnlab.data.corpora import load_corpus
from rnnlab.data.splits import split_by_blocks
from rnnlab.errors import DataError


def test_split_by_blocks_partitions_lines_in_order():
    text = "".join(f"line {i}\n" for i in range(1000))
    splits = split_by_blocks(text)
    got = {name: part.splitlines() for name, part in splits.items()}
    assert sorted(sum(got.values(), []), key=lambda s: int(s.split()[1])) == text.splitlines()
    assert len(got["train"]) == 900 and len(got["valid"]) == 50 and len(got["test"]) == 50
    # blocks of 2 lines (1000 // 400): lines 36,37 are block 18 of the first cycle -> valid
    assert got["valid"][:2] == ["line 36", "line 37"] and got["test"][:2] == ["line 38", "line 39"]
    assert split_by_blocks(text) == splits


def test_small_text():
    assert split_by_blocks("a\nb\nc\nd\n") == {"train": "a\nb\n", "valid": "c\n", "test": "d\n"}
    with pytest.raises(DataError, match="at least 3"):
        split_by_blocks("a\n\n\nb\n")


def test_file_directory_and_glob(tmp_path):
    (tmp_path / "a.txt").write_text("".join(f"a{i}\n" for i in range(30)), encoding="utf-8")
    (tmp_path / "b.txt").write_text("".join(f"b{i}\n" for i in range(30)), encoding="utf-8")
    (tmp_path / ".hidden").write_text("secret\n", encoding="utf-8")
    one = load_corpus(tmp_path / "a.txt")
    assert one.level == "char" and "a0" in one.train and one.name == "a.txt"
    both = load_corpus(tmp_path)
    globbed = load_corpus(str(tmp_path / "*.txt"))
    assert (globbed.train, globbed.valid, globbed.test) == (both.train, both.valid, both.test)
    text = both.train + both.valid + both.test
    assert sorted(text.splitlines()) == sorted([f"a{i}" for i in range(30)] + [f"b{i}" for i in range(30)])
    assert "secret" not in text
    assert load_corpus(tmp_path / "a.txt", level="word").level == "word"


def test_given_splits(tmp_path):
    (tmp_path / "train.txt").write_text("one two\n", encoding="utf-8")
    (tmp_path / "dev.txt").write_text("three\n", encoding="utf-8")
    corpus = load_corpus(tmp_path)
    assert (corpus.train, corpus.valid, corpus.test) == ("one two\n", "three\n", "")
    (tmp_path / "dev.txt").unlink()
    with pytest.raises(DataError, match="expected valid.txt"):
        load_corpus(tmp_path)


def test_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "gbk.txt"
    bad.write_bytes("第一行\n".encode() + "第二行\n".encode("gbk"))
    with pytest.raises(DataError, match=r"gbk\.txt:2: expected UTF-8"):
        load_corpus(bad)
    binary = tmp_path / "x.bin"
    binary.write_bytes(b"abc\ndef\x00\x01")
    with pytest.raises(DataError, match=r"x\.bin:2: .*binary"):
        load_corpus(binary)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(DataError, match="empty"):
        load_corpus(empty)
    with pytest.raises(DataError, match="none"):
        load_corpus(str(tmp_path / "*.nothing"))
    with pytest.raises(DataError, match="expected a built-in dataset name"):
        load_corpus(tmp_path / "missing.txt")
    with pytest.raises(DataError, match="level"):
        load_corpus("tang", level="byte")
