"""Tagged formats: parse, round-trip, and clear errors with file and line."""

from __future__ import annotations

import pytest

from rnnlab.data.tagged import (
    bio_to_bioes,
    bioes_to_bio,
    check_scheme,
    detect_format,
    format_tagged,
    parse_tagged,
    read_tagged,
)
from rnnlab.errors import DataError
from rnnlab.labelling.metrics import accuracy, confusion, entities, entity_scores

CONLLU = """# sent_id = 1
# text = Don't go.
1-2\tDon't\t_\t_\t_\t_\t_\t_\t_\t_
1\tDo\tdo\tAUX\tVBP\t_\t3\taux\t_\t_
2\tn't\tnot\tPART\tRB\t_\t3\tadvmod\t_\t_
3\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\tSpaceAfter=No
4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\t_

1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_
"""


def test_slash_format_splits_on_last_slash_and_round_trips():
    lines = ["The/DT 1/2/CD cats/NNS ./.", "", "Go/VB"]
    sentences = parse_tagged(lines)
    assert [s.tokens for s in sentences] == [["The", "1/2", "cats", "."], ["Go"]]
    assert sentences[0].tags == ["DT", "CD", "NNS", "."]
    assert sentences[1].line == 3
    assert format_tagged(sentences, "slash") == "The/DT 1/2/CD cats/NNS ./.\nGo/VB\n"


def test_conll_reads_last_column_and_writes_it_back(tmp_path):
    text = "-DOCSTART- O\n\nEU NNP B-ORG\nrejects VBZ O\n\n\nPeter NNP B-PER\nBlackburn NNP I-PER\n"
    path = tmp_path / "a.conll"
    path.write_text(text)
    sentences = read_tagged(path)
    assert [s.tags for s in sentences] == [["B-ORG", "O"], ["B-PER", "I-PER"]]
    assert sentences[1].line == 7
    sentences[0].tags = ["O", "O"]
    assert format_tagged(sentences, "conll").splitlines()[:2] == ["EU NNP O", "rejects VBZ O"]


def test_conllu_skips_ranges_keeps_comments_and_picks_column():
    sentences = parse_tagged(CONLLU.splitlines())
    assert sentences[0].tokens == ["Do", "n't", "go", "."]
    assert sentences[0].tags == ["AUX", "PART", "VERB", "PUNCT"]
    assert parse_tagged(CONLLU.splitlines(), tag_column="xpos")[1].tags == ["UH"]
    sentences[1].tags = ["X"]
    out = format_tagged(sentences, "conllu")
    assert "# text = Don't go." in out and "1\tHi\thi\tX\tUH" in out


def test_untagged_conllu_is_accepted_for_tagging_only():
    lines = ["1\tHi\thi\t_\t_\t_\t0\troot\t_\t_", ""]
    assert parse_tagged(lines, require_tags=False)[0].tags is None
    with pytest.raises(DataError, match=r"f:1: token 'Hi' has no tag"):
        parse_tagged(lines, source="f")


def test_detect_format():
    assert detect_format(CONLLU.splitlines()) == "conllu"
    assert detect_format(["the/DT cat/NN"]) == "slash"
    assert detect_format(["EU\tB-ORG"]) == "conll"
    assert detect_format(["the cat sat on the mat"]) == "text"


@pytest.mark.parametrize(
    "lines, fmt, message",
    [
        (["the/DT cat NN"], "slash", r"f\.txt:1: expected word/TAG, found 'cat'"),
        (["a B-X", "b c d B-X"], "conll", r"f\.txt:2: expected 2 columns"),
        (["a B-X", "the/DT cat/NN sat/VBD on/IN mats/NNS"], "conll", r"f\.txt:2: .*mixed formats"),
        (["the cat", "", "a dog"], "text", r"f\.txt:2: empty sentence"),
        (["only"], "conll", r"f\.txt:1: expected 'token TAG'"),
        (CONLLU.splitlines()[:4] + ["4\tx\tx"], "conllu", r"f\.txt:5: expected 10 tab-separated"),
    ],
)
def test_errors_name_file_and_line(lines, fmt, message):
    with pytest.raises(DataError, match=message):
        parse_tagged(lines, fmt, source="f.txt", require_tags=fmt != "text")


def test_token_tag_count_mismatch_and_scheme_check():
    from rnnlab.data.tagged import TaggedSentence

    with pytest.raises(DataError, match="x:3: 2 tokens but 1 tags"):
        TaggedSentence(["a", "b"], ["O"], "x", 3)
    sentence = parse_tagged(["a B-X", "b Q-X"], source="y")[0]
    with pytest.raises(DataError, match="y:2: tag 'Q-X' is not BIO"):
        check_scheme(sentence, "bio")


def test_missing_file_and_bad_encoding(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_tagged(tmp_path / "nope.txt")
    (tmp_path / "bin").write_bytes(b"\xff\xfe\x00abc")
    with pytest.raises(DataError, match="not UTF-8"):
        read_tagged(tmp_path / "bin")


def test_bio_bioes_conversion_round_trip():
    bio = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "I-LOC", "I-ORG"]
    bioes = bio_to_bioes(bio)
    assert bioes == ["B-PER", "E-PER", "O", "S-LOC", "B-LOC", "I-LOC", "E-LOC", "S-ORG"]
    assert bioes_to_bio(bioes) == bio[:-1] + ["B-ORG"]


def test_entities_and_scores_hand_computed():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "I-ORG"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["O", "I-ORG", "I-ORG"]]  # I-ORG after O starts a chunk
    assert entities(pred[1]) == [("ORG", 1, 2)]
    assert entities(["B-X", "E-X", "S-Y", "B-X", "I-Y"]) == [("X", 0, 1), ("Y", 2, 2), ("X", 3, 3), ("Y", 4, 4)]
    scores = entity_scores(gold, pred)
    assert scores["micro"].precision == pytest.approx(2 / 3) and scores["micro"].recall == pytest.approx(2 / 3)
    assert scores["LOC"].recall == 0 and scores["PER"].f1 == 1
    assert accuracy(gold, pred) == pytest.approx(5 / 7)
    assert confusion(["a", "b", "b"], ["a", "a", "b"], ["a", "b"]) == [[1, 0], [1, 1]]


def test_entity_scores_match_seqeval_if_installed():
    seqeval = pytest.importorskip("seqeval.metrics")
    gold = [["B-PER", "I-PER", "O", "B-LOC", "I-LOC"], ["I-ORG", "O", "B-MISC"]]
    pred = [["B-PER", "I-PER", "I-LOC", "B-LOC", "O"], ["I-ORG", "B-ORG", "B-MISC"]]
    assert entity_scores(gold, pred)["micro"].f1 == pytest.approx(seqeval.f1_score(gold, pred))
