"""Entity-level P/R/F1 of rnnlab.labelling.metrics against seqeval (the reference implementation).

seqeval's default mode is conlleval's chunking; ours must give the same entities on every sequence,
well-formed or not (I- without B-, E- after O, a type switch inside a chunk), and the same per-type and
micro precision / recall / F1 / support.
"""

from __future__ import annotations

import itertools
import random
import warnings

import pytest

from rnnlab.labelling.metrics import entities, entity_scores

seqeval_metrics = pytest.importorskip("seqeval.metrics")  # in the dev extra
get_entities = pytest.importorskip("seqeval.metrics.sequence_labeling").get_entities

BIO = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
BIOES = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"]
BARE = ["O", "B", "I", "E", "S", "B-", "I-PER"]  # prefixes without a type (seqeval's type "_")


def reference_entities(tags: list[str]) -> list[tuple[str, int, int]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return get_entities(tags)


@pytest.mark.parametrize("alphabet, length", [(BIO, 5), (BIOES, 4), (BARE, 4)], ids=["bio", "bioes", "bare"])
def test_entities_equal_seqeval_on_every_short_sequence(alphabet, length):
    checked = 0
    for n in range(1, length + 1):
        for sequence in itertools.product(alphabet, repeat=n):
            tags = list(sequence)
            assert entities(tags) == reference_entities(tags), tags
            checked += 1
    assert checked > 1000


@pytest.mark.parametrize(
    "tags, expected",
    [
        (["I-PER", "I-PER", "O"], [("PER", 0, 1)]),  # I- without B- starts a chunk
        (["O", "I-PER", "B-PER", "I-PER"], [("PER", 1, 1), ("PER", 2, 3)]),
        (["B-PER", "I-LOC", "I-LOC"], [("PER", 0, 0), ("LOC", 1, 2)]),  # a type switch splits
        (["O", "E-PER", "S-PER"], [("PER", 1, 1), ("PER", 2, 2)]),  # E- after O is a one-token chunk
        (["B-PER", "I-PER", "E-PER", "I-PER"], [("PER", 0, 2), ("PER", 3, 3)]),  # nothing continues past E-
        (["B", "I", "O", "I"], [("_", 0, 1), ("_", 3, 3)]),  # untyped chunk tags
        (["NN", "VB", "B-NP"], [("NP", 2, 2)]),  # not chunk tags: read as O
    ],
)
def test_malformed_sequences_hand_checked(tags, expected):
    assert entities(tags) == expected
    if "NN" not in tags:  # seqeval reads NN as prefix N, type "N"; we read it as O (documented)
        assert reference_entities(tags) == expected


def random_corpus(alphabet: list[str], sentences: int, seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    return [[rng.choice(alphabet) for _ in range(rng.randint(1, 12))] for _ in range(sentences)]


def corrupt(corpus: list[list[str]], alphabet: list[str], rate: float, seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    return [[rng.choice(alphabet) if rng.random() < rate else tag for tag in sentence] for sentence in corpus]


@pytest.mark.parametrize("alphabet", [BIO, BIOES, BIOES + ["B-ORG", "I-ORG", "B", "I"]], ids=["bio", "bioes", "mixed"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_per_type_and_micro_scores_equal_seqeval(alphabet, seed):
    gold = random_corpus(alphabet, 200, seed)
    predicted = corrupt(gold, alphabet, rate=0.25, seed=seed + 100)
    ours = entity_scores(gold, predicted)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = seqeval_metrics.classification_report(gold, predicted, output_dict=True, digits=6)
        micro_f1 = seqeval_metrics.f1_score(gold, predicted)
    types = {key for key in report if not key.endswith(" avg")}
    assert set(ours) - {"micro"} == types
    for kind in types:
        expected = report[kind]
        got = ours[kind]
        assert got.precision == pytest.approx(expected["precision"]), kind
        assert got.recall == pytest.approx(expected["recall"]), kind
        assert got.f1 == pytest.approx(expected["f1-score"]), kind
        assert got.support == expected["support"], kind
    micro = report["micro avg"]
    assert ours["micro"].precision == pytest.approx(micro["precision"])
    assert ours["micro"].recall == pytest.approx(micro["recall"])
    assert ours["micro"].f1 == pytest.approx(micro["f1-score"]) == pytest.approx(micro_f1)
    assert ours["micro"].support == micro["support"]


def test_a_type_only_predicted_scores_zero_like_seqeval():
    gold = [["B-PER", "O"]]
    predicted = [["B-PER", "B-LOC"]]
    ours = entity_scores(gold, predicted)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = seqeval_metrics.classification_report(gold, predicted, output_dict=True)
    assert ours["LOC"].precision == report["LOC"]["precision"] == 0.0
    assert ours["LOC"].recall == report["LOC"]["recall"] == 0.0 and ours["LOC"].support == 0
    assert ours["micro"].precision == pytest.approx(0.5) and ours["micro"].recall == 1.0


def test_confusion_and_accuracy_equal_scikit_learn():
    """scikit-learn comes with seqeval (a dependency of it), so the confusion matrix is checked as well."""
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    from rnnlab.labelling.metrics import accuracy, confusion

    gold = random_corpus(BIOES, 50, seed=7)
    predicted = corrupt(gold, BIOES, rate=0.3, seed=8)
    flat_gold = [tag for sentence in gold for tag in sentence]
    flat_pred = [tag for sentence in predicted for tag in sentence]
    expected = sklearn_metrics.confusion_matrix(flat_gold, flat_pred, labels=BIOES).tolist()
    assert confusion(flat_gold, flat_pred, BIOES) == expected
    assert accuracy(gold, predicted) == pytest.approx(sklearn_metrics.accuracy_score(flat_gold, flat_pred))
