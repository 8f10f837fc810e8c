"""Padded batches at padded speed: `run_padded` gives `run_packed`'s numbers, and the models' switch."""

from __future__ import annotations

import pytest
import torch

from rnnlab.nn import GRU, LSTM, RNN, LayerNormLSTMCell, Recurrent
from rnnlab.nn.classifier import BiRNNClassifier, ClassifierModelConfig
from rnnlab.nn.padded import reverse_within_lengths, run_bucketed, run_padded
from rnnlab.nn.pooling import last_state
from rnnlab.nn.recurrent import run_packed
from rnnlab.nn.seq2vec import SequenceToVector, SequenceToVectorConfig
from rnnlab.nn.tagger import BiRNNTagger, TaggerModelConfig

LENGTHS = torch.tensor([7, 1, 4, 2, 6])  # every length differs, one sequence of length 1, one full


def test_reverse_within_lengths_keeps_padding_and_is_its_own_inverse():
    x = torch.arange(10.0).view(2, 5, 1)
    flipped = reverse_within_lengths(x, torch.tensor([3, 5]))
    assert flipped[:, :, 0].tolist() == [[2, 1, 0, 3, 4], [9, 8, 7, 6, 5]]
    assert torch.equal(reverse_within_lengths(flipped, torch.tensor([3, 5])), x)


LAYERS = {
    "lstm-2-bi": lambda: LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True),
    "gru-1-bi": lambda: GRU(3, 5, bidirectional=True, batch_first=True),
    "rnn-relu-3-uni": lambda: RNN(3, 5, num_layers=3, nonlinearity="relu", batch_first=True),
    "torch-lstm-proj-2-bi": lambda: torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True, proj_size=2),
    "torch-gru-2-bi-time-major": lambda: torch.nn.GRU(3, 5, num_layers=2, bidirectional=True),
}


@pytest.mark.parametrize("name", LAYERS)
def test_padded_equals_packed_outputs_last_states_and_gradients(name):
    torch.manual_seed(0)
    rnn = LAYERS[name]().double()
    x = torch.randn(5, 7, 3, dtype=torch.double, requires_grad=True)
    results = []
    for run in (run_packed, run_padded):
        out = run(rnn, x, LENGTHS)
        last = last_state(out, torch.arange(7) < LENGTHS.unsqueeze(1), rnn.bidirectional)
        loss = out.pow(2).sum() + last.pow(3).sum()
        results.append((out, last, torch.autograd.grad(loss, [x, *rnn.parameters()])))
    (out_a, last_a, grads_a), (out_b, last_b, grads_b) = results
    torch.testing.assert_close(out_b, out_a, rtol=0, atol=1e-6)
    torch.testing.assert_close(last_b, last_a, rtol=0, atol=1e-6)
    assert bool((out_b[1, 1:] == 0).all())  # zeros on padding, like the packed path
    for a, b in zip(grads_a, grads_b):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-6)
    # the last states are the layer's own final hidden states (the packed kernel's h_n, top layer)
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        x if rnn.batch_first else x.transpose(0, 1), LENGTHS, batch_first=rnn.batch_first, enforce_sorted=False
    )
    h_n = rnn(packed)[1]
    h_n = h_n[0] if isinstance(h_n, tuple) else h_n
    top = torch.cat(list(h_n[-2:]), dim=1) if rnn.bidirectional else h_n[-1]
    torch.testing.assert_close(last_b, top, rtol=0, atol=1e-6)


def test_length_buckets_equal_packed():
    torch.manual_seed(0)
    rnn = LSTM(3, 4, bidirectional=True, batch_first=True).double()
    x = torch.randn(9, 6, 3, dtype=torch.double, requires_grad=True)
    lengths = torch.tensor([6, 1, 3, 1, 2, 5, 4, 2, 1])
    a, b = run_bucketed(rnn, x, lengths, buckets=4), run_packed(rnn, x, lengths)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    for ga, gb in zip(torch.autograd.grad(a.pow(2).sum(), [x, *rnn.parameters()]),
                      torch.autograd.grad(b.pow(2).sum(), [x, *rnn.parameters()])):  # fmt: skip
        torch.testing.assert_close(ga, gb, rtol=0, atol=1e-6)


@pytest.mark.parametrize("lengths", [[5, 5, 5], [3, 3, 3], [4, 2, 4]])
def test_equal_lengths_and_extra_padding_columns(lengths):
    """All lengths equal (one fused call) and batches padded past their longest sequence."""
    torch.manual_seed(0)
    rnn = GRU(3, 4, num_layers=2, bidirectional=True, batch_first=False).double()
    x = torch.randn(3, 5, 3, dtype=torch.double, requires_grad=True)
    lengths = torch.tensor(lengths)
    a, b = run_padded(rnn, x, lengths), run_packed(rnn, x, lengths)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    for ga, gb in zip(torch.autograd.grad(a.pow(2).sum(), [x, *rnn.parameters()]),
                      torch.autograd.grad(b.pow(2).sum(), [x, *rnn.parameters()])):  # fmt: skip
        torch.testing.assert_close(ga, gb, rtol=0, atol=1e-6)


def test_custom_cell_and_explicit_layers_use_their_own_lengths_masking():
    torch.manual_seed(0)
    x = torch.randn(5, 7, 3, dtype=torch.double)
    for rnn in (Recurrent(LayerNormLSTMCell, 3, 4, bidirectional=True, batch_first=True).double(),
                GRU(3, 4, bidirectional=True, batch_first=True, path="explicit").double()):  # fmt: skip
        torch.testing.assert_close(run_padded(rnn, x, LENGTHS), run_packed(rnn, x, LENGTHS), rtol=0, atol=1e-6)


def _ids_and_mask():
    torch.manual_seed(1)
    mask = torch.arange(7) < LENGTHS.unsqueeze(1)
    return torch.randint(2, 20, (5, 7)).masked_fill(~mask, 0), mask


def _same_model_both_paths(make):
    padded, packed = make(False), make(True)
    packed.load_state_dict(padded.state_dict())
    return padded.double().eval(), packed.double().eval()


def _assert_same(run, padded, packed):
    out_a, out_b = run(padded), run(packed)
    torch.testing.assert_close(out_a, out_b, rtol=0, atol=1e-6)
    grads_a = torch.autograd.grad(out_a.pow(2).sum(), list(padded.parameters()), allow_unused=True)
    grads_b = torch.autograd.grad(out_b.pow(2).sum(), list(packed.parameters()), allow_unused=True)
    for a, b in zip(grads_a, grads_b):
        if a is not None or b is not None:
            torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_sequence_to_vector_padded_equals_packed(pooling):
    ids, mask = _ids_and_mask()
    make = lambda packed: SequenceToVector(  # noqa: E731
        SequenceToVectorConfig(cell="lstm", embedding_size=4, hidden_size=5, num_layers=2, pooling=pooling,
                               packed=packed), vocab_size=20, output_size=2)  # fmt: skip
    _assert_same(lambda model: model(ids, mask), *_same_model_both_paths(make))


def test_tagger_and_classifier_with_characters_padded_equal_packed():
    ids, mask = _ids_and_mask()
    chars = torch.randint(2, 9, (5, 7, 4)).masked_fill(~mask.unsqueeze(2), 0)
    chars[:, :, 2:] = 0  # words of 1-2 characters (lengths differ inside the character batch too)
    chars[0, 0, 1] = 0
    batch = {"words": ids, "mask": mask, "chars": chars, "tags": torch.randint(0, 3, (5, 7))}
    tagger = lambda packed: BiRNNTagger(  # noqa: E731
        TaggerModelConfig(word_dim=4, char_dim=3, char_hidden=2, hidden_size=5, num_layers=2, output="crf",
                          packed=packed), 20, 9, ["B-X", "I-X", "O"], "bio")  # fmt: skip
    _assert_same(lambda model: model.emissions(batch), *_same_model_both_paths(tagger))
    classifier = lambda packed: BiRNNClassifier(  # noqa: E731
        ClassifierModelConfig(rnn="gru", word_dim=4, char_dim=3, char_hidden=2, hidden_size=5, pooling="max",
                              packed=packed), 20, 9, 3)  # fmt: skip
    _assert_same(lambda model: model(batch)[0], *_same_model_both_paths(classifier))
