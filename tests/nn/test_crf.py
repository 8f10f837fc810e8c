"""CRF against brute-force enumeration of every tag path on tiny inputs."""

from __future__ import annotations

import itertools

import pytest
import torch

from rnnlab.nn.crf import CRF, bio_constraints


def brute_force(crf: CRF, emissions: torch.Tensor, length: int) -> tuple[torch.Tensor, list[float], list]:
    """All T^length paths of one sequence: (log Z, scores, paths)."""
    paths = list(itertools.product(range(crf.num_tags), repeat=length))
    scores = []
    for path in paths:
        tags = torch.tensor([path])
        scores.append(crf.path_score(emissions[None, :length], tags).item())
    return torch.logsumexp(torch.tensor(scores, dtype=torch.float64), 0), scores, paths


def hand_score(crf: CRF, emissions: torch.Tensor, path: list[int]) -> float:
    """s(y) written out term by term, independent of the vectorised path_score."""
    total = crf.start_transitions[path[0]] + crf.end_transitions[path[-1]]
    for t, tag in enumerate(path):
        total = total + emissions[t, tag]
        if t:
            total = total + crf.transitions[path[t - 1], tag]
    return float(total.detach())


@pytest.fixture
def setup():
    torch.manual_seed(0)
    crf = CRF(3).double()
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    lengths = torch.tensor([4, 1, 3, 2])
    emissions = torch.randn(4, 4, 3, dtype=torch.float64)
    mask = torch.arange(4)[None, :] < lengths[:, None]
    return crf, emissions, mask, lengths


def test_path_score_matches_hand_sum(setup):
    crf, emissions, mask, lengths = setup
    tags = torch.tensor([[0, 1, 2, 1], [2, -100, -100, -100], [1, 1, 0, 0], [2, 0, 0, 0]])
    scores = crf.path_score(emissions, tags, mask)
    for i, length in enumerate(lengths.tolist()):
        assert scores[i].item() == pytest.approx(hand_score(crf, emissions[i], tags[i, :length].tolist()))


def test_log_partition_and_viterbi_match_enumeration(setup):
    crf, emissions, mask, lengths = setup
    log_z = crf.log_partition(emissions, mask)
    best_tags, best_scores = crf.decode(emissions, mask)
    for i, length in enumerate(lengths.tolist()):
        expected_z, scores, paths = brute_force(crf, emissions[i], length)
        assert log_z[i].item() == pytest.approx(expected_z.item(), abs=1e-9)
        best = max(range(len(paths)), key=scores.__getitem__)
        assert best_tags[i, :length].tolist() == list(paths[best])
        assert (best_tags[i, length:] == -1).all()
        assert best_scores[i].item() == pytest.approx(scores[best])


def test_probabilities_over_all_paths_sum_to_one(setup):
    crf, emissions, mask, lengths = setup
    length = 3
    paths = torch.tensor(list(itertools.product(range(3), repeat=length)))
    em = emissions[2:3, :length].expand(len(paths), -1, -1)
    total = crf.log_likelihood(em, paths).exp().sum()
    assert total.item() == pytest.approx(1.0, abs=1e-9)


def test_padding_does_not_change_results(setup):
    crf, emissions, mask, lengths = setup
    for i, length in enumerate(lengths.tolist()):
        alone = crf.log_partition(emissions[i : i + 1, :length])
        assert alone.item() == pytest.approx(crf.log_partition(emissions, mask)[i].item())
        # garbage in the padded positions must not leak in
        noisy = emissions.clone()
        noisy[i, length:] = 1e3
        assert crf.log_partition(noisy, mask)[i].item() == pytest.approx(alone.item())


def test_nll_gradient_is_expected_counts_minus_observed():
    # d(-log P)/d start[k] = P(y_1 = k) - [gold y_1 = k]; check against enumeration.
    torch.manual_seed(1)
    crf = CRF(2).double()
    emissions = torch.randn(1, 3, 2, dtype=torch.float64)
    gold = torch.tensor([[1, 0, 1]])
    crf(emissions, gold, reduction="sum").backward()
    paths = torch.tensor(list(itertools.product(range(2), repeat=3)))
    with torch.no_grad():
        probs = crf.log_likelihood(emissions.expand(len(paths), -1, -1), paths).exp()
    marginal_first = torch.stack([probs[paths[:, 0] == k].sum() for k in range(2)])
    expected = marginal_first - torch.nn.functional.one_hot(gold[0, 0], 2).double()
    assert torch.allclose(crf.start_transitions.grad, expected)


def test_gradcheck():
    torch.manual_seed(2)
    crf = CRF(3).double()
    emissions = torch.randn(2, 3, 3, dtype=torch.float64, requires_grad=True)
    tags = torch.tensor([[0, 2, 1], [1, 1, 0]])
    mask = torch.tensor([[True, True, True], [True, True, False]])
    assert torch.autograd.gradcheck(lambda e: crf(e, tags, mask, reduction="sum"), (emissions,))


def test_bio_constraints_forbid_invalid_paths():
    labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    allowed, start, end = bio_constraints(labels)
    assert not allowed[0, 2] and not allowed[3, 2] and allowed[1, 2] and allowed[2, 2]
    assert not start[2] and start[1] and end.all()
    crf = CRF(5, allowed, start, end)
    # emissions strongly prefer the illegal "O I-PER": Viterbi must not output it
    emissions = torch.full((1, 2, 5), -5.0)
    emissions[0, 0, 0] = 5.0
    emissions[0, 1, 2] = 5.0
    tags, _ = crf.decode(emissions)
    assert tags[0].tolist() != [0, 2]
    bioes = ["O", "B-X", "I-X", "E-X", "S-X"]
    allowed, start, end = bio_constraints(bioes)
    assert not allowed[1, 0] and allowed[3, 0] and not end[1] and end[3] and not start[3]


def test_matches_pytorch_crf_if_installed():
    torchcrf = pytest.importorskip("torchcrf")
    torch.manual_seed(3)
    theirs = torchcrf.CRF(4, batch_first=True)
    ours = CRF(4)
    ours.load_state_dict(theirs.state_dict(), strict=False)
    emissions = torch.randn(3, 5, 4)
    tags = torch.randint(0, 4, (3, 5))
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.bool)
    assert torch.allclose(ours.log_likelihood(emissions, tags, mask), theirs(emissions, tags, mask, "none"))
    decoded, _ = ours.decode(emissions, mask)
    for row, path in zip(decoded, theirs.decode(emissions, mask)):
        assert row[: len(path)].tolist() == path


def test_rejects_empty_sentences_and_bad_shapes():
    crf = CRF(3)
    with pytest.raises(ValueError, match="at least one token"):
        crf.decode(torch.zeros(2, 3, 3), torch.tensor([[1, 1, 0], [0, 0, 0]], dtype=torch.bool))
    with pytest.raises(ValueError, match="expected"):
        crf.decode(torch.zeros(2, 3, 4))
