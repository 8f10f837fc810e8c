"""The embedded Tang corpus: present in the package, every poem regular, splits deterministic."""

import hashlib
from collections import Counter

from rnnlab.data.corpora import load_corpus
from rnnlab.data.poetry import FORMS, poem_form
from rnnlab.data.splits import split_of
from rnnlab.data.tang import load_poems, tang_splits


def test_every_poem_is_regular_and_simplified():
    poems = load_poems()
    assert 5000 < len(poems) < 10000
    forms = Counter(poem_form(p.body) for p in poems)
    assert set(forms) == set(FORMS)  # all four forms present, nothing malformed (None)
    assert len({p.body for p in poems}) == len(poems)  # no duplicates
    text = "".join(p.body for p in poems)
    assert "□" not in text and "::" not in text
    # simplified script: common traditional characters are absent, their simplified forms present
    assert not set("國來時無為門風長書") & set(text)
    assert set("国来时无为门风长书") <= set(text)
    assert any(p.body == "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。" for p in poems)


def test_corpus_splits():
    corpus = load_corpus("tang")
    assert corpus.level == "char" and corpus.name == "tang"
    lines = {split: corpus.split(split).splitlines() for split in ("train", "valid", "test")}
    total = sum(map(len, lines.values()))
    assert total == len(load_poems())
    assert 0.85 < len(lines["train"]) / total < 0.95
    assert 0.03 < len(lines["valid"]) / total < 0.07 and 0.03 < len(lines["test"]) / total < 0.07
    assert not set(lines["train"]) & set(lines["valid"]) and not set(lines["train"]) & set(lines["test"])
    assert all(poem_form(line) for split in lines.values() for line in split)
    assert tang_splits() == {"train": corpus.train, "valid": corpus.valid, "test": corpus.test}


def test_split_of_is_the_documented_hash():
    for text in ["a", "床前明月光", "x" * 50]:
        bucket = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) % 100
        expected = "train" if bucket < 90 else "valid" if bucket < 95 else "test"
        assert split_of(text) == expected
