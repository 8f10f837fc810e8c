"""Seq2seq blocks: bridge plumbing for every layers/directions/cell combination, packing, teacher forcing
vs step-by-step, scheduled sampling, label smoothing, tying, batched beam on padded sources, overfitting."""

from __future__ import annotations

import itertools

import pytest
import torch

from rnnlab.nn.decoding import beam_search, greedy_decode
from rnnlab.nn.seq2seq import (
    Bridge,
    Decoder,
    Encoder,
    Seq2SeqConfig,
    TeacherForcingSchedule,
    build_seq2seq,
    drop_words,
    sequence_loss,
)

PAD, BOS, EOS = 0, 1, 2


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run fastest on one thread (and don't fight other tests for the 2 shared cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def padded_batch(lengths, vocab=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(3, vocab, (len(lengths), max(lengths)), generator=g)
    for row, n in enumerate(lengths):
        src[row, n:] = PAD
    return src, torch.tensor(lengths)


@pytest.mark.parametrize("enc_cell,bidirectional", [("lstm", True), ("gru", False), ("rnn", True), ("layernorm_lstm", True)])
def test_encoder_packing_ignores_padding(enc_cell, bidirectional):
    torch.manual_seed(0)
    enc = Encoder(9, 5, 4, num_layers=2, cell=enc_cell, bidirectional=bidirectional).eval()
    src, lengths = padded_batch([5, 2, 3])
    out = enc(src, lengths)
    for row, n in enumerate(lengths.tolist()):
        alone = enc(src[row : row + 1, :n], torch.tensor([n]))
        torch.testing.assert_close(out.memory[row, :n], alone.memory[0])
        assert (out.memory[row, n:] == 0).all()
        final, final_alone = (out.final, alone.final) if isinstance(out.final, tuple) else ((out.final,), (alone.final,))
        for a, b in zip(final, final_alone):
            torch.testing.assert_close(a[:, row], b[:, 0])
    assert out.mask.tolist() == [[True] * 5, [True, True, False, False, False], [True] * 3 + [False] * 2]


COMBOS = list(itertools.product([1, 2, 3], [1, 2, 3], [False, True], ["lstm", "gru"], ["lstm", "gru"]))


@pytest.mark.parametrize("enc_layers,dec_layers,bidirectional,enc_cell,dec_cell", COMBOS)
def test_bridge_every_combination(enc_layers, dec_layers, bidirectional, enc_cell, dec_cell):
    torch.manual_seed(1)
    H = 3
    D = 2 if bidirectional else 1
    enc = Encoder(9, 4, H, num_layers=enc_layers, cell=enc_cell, bidirectional=bidirectional).eval()
    src, lengths = padded_batch([4, 2])
    out = enc(src, lengths)
    h_n = out.final[0] if enc_cell == "lstm" else out.final
    c_n = out.final[1] if enc_cell == "lstm" else None
    offset = dec_layers - enc_layers
    expected_map = [min(max(j - offset, 0), enc_layers - 1) for j in range(dec_layers)]

    for kind in ("copy", "project", "zeros"):
        bridge = Bridge(kind, enc_layers, D, H, enc_cell == "lstm", dec_layers, D * H, dec_cell == "lstm")
        assert bridge.layer_map() == expected_map
        state = bridge(out.final)
        h0, c0 = state if dec_cell == "lstm" else (state, None)
        assert isinstance(state, tuple) == (dec_cell == "lstm")
        assert h0.shape == (dec_layers, 2, D * H)
        if c0 is not None:
            assert c0.shape == h0.shape
        if kind == "zeros":
            assert (h0 == 0).all() and (c0 is None or (c0 == 0).all())
            continue
        for j, layer in enumerate(expected_map):
            # torch's layout: h_n[layer * D + direction]
            joined_h = torch.cat([h_n[layer * D + d] for d in range(D)], dim=-1)
            if kind == "copy":
                torch.testing.assert_close(h0[j], joined_h)
            else:
                torch.testing.assert_close(h0[j], torch.tanh(bridge.project_h(joined_h)))
            if c0 is not None:
                if c_n is None:
                    assert (c0[j] == 0).all()  # GRU encoder -> LSTM decoder starts with zero memory
                else:
                    joined_c = torch.cat([c_n[layer * D + d] for d in range(D)], dim=-1)
                    ref = joined_c if kind == "copy" else bridge.project_c(joined_c)
                    torch.testing.assert_close(c0[j], ref)
        if kind == "copy":
            # The top encoder layer's states are the last real forward output and the first backward one.
            top = h0[-1]
            torch.testing.assert_close(top[:, :H], out.memory[torch.arange(2), lengths - 1, :H])
            if bidirectional:
                torch.testing.assert_close(top[:, H:], out.memory[:, 0, H:])


def test_bridge_copy_rejects_size_mismatch():
    with pytest.raises(ValueError, match="project"):
        Bridge("copy", 1, 2, 4, True, 1, 4, True)


def make_model(attention="bahdanau", input_feeding=True, cell="lstm", bidirectional=True, layers=2, bridge="project",
               tie=False, vocab=11):  # fmt: skip
    torch.manual_seed(2)
    config = Seq2SeqConfig(
        cell=cell, embed_dim=8 if not tie else 6, hidden_size=6, encoder_layers=layers, decoder_layers=layers,
        bidirectional=bidirectional, attention=attention, input_feeding=input_feeding, bridge=bridge, dropout=0.0,
        tie_embeddings=tie,
    )  # fmt: skip
    return build_seq2seq(config, vocab, vocab, BOS, EOS, PAD).eval()


@pytest.mark.parametrize(
    "attention,input_feeding,cell", [(None, False, "lstm"), ("bahdanau", True, "lstm"), ("dot", False, "gru"),
                                     ("general", True, "gru"), ("bahdanau", False, "rnn")]
)  # fmt: skip
def test_teacher_forcing_equals_step_by_step(attention, input_feeding, cell):
    model = make_model(attention, input_feeding, cell)
    src, lengths = padded_batch([5, 3, 4], vocab=11)
    tgt_in, _ = padded_batch([4, 4, 4], vocab=11, seed=3)
    tgt_in[:, 0] = BOS
    logits, weights = model(src, lengths, tgt_in)
    state = model.encode(src, lengths)
    for t in range(tgt_in.size(1)):
        step_logits, state, step_weights = model.decoder.step(tgt_in[:, t], state)
        torch.testing.assert_close(logits[:, t], step_logits)
        if attention:
            torch.testing.assert_close(weights[:, t], step_weights)
            assert (step_weights[1, 3:] == 0).all()  # padding of the 3-token source
    assert (weights is None) == (attention is None)


def test_plain_seq2seq_sees_source_only_through_initial_state():
    model = make_model(attention=None, bridge="zeros")
    src, lengths = padded_batch([4, 4], vocab=11)
    tgt_in = torch.tensor([[BOS, 5, 6], [BOS, 5, 6]])
    logits, _ = model(src, lengths, tgt_in)
    torch.testing.assert_close(logits[0], logits[1])  # different sources, zero bridge: same output
    model = make_model(attention=None, bridge="copy")
    logits, _ = model(src, lengths, tgt_in)
    assert not torch.allclose(logits[0], logits[1])
    logits.sum().backward()
    assert model.encoder.embedding.weight.grad.abs().sum() > 0  # gradient reaches the encoder


def test_scheduled_sampling_ratio_zero_feeds_own_predictions():
    model = make_model("general", True, "gru")
    src, lengths = padded_batch([5, 3], vocab=11)
    tgt_in = torch.tensor([[BOS, 7, 7, 7, 7], [BOS, 8, 8, 8, 8]])
    logits, _ = model(src, lengths, tgt_in, teacher_forcing_ratio=0.0)
    hyps = greedy_decode(model.step, model.encode(src, lengths), tgt_in[:, 0], eos_id=None, max_len=5)
    for row, hyp in enumerate(hyps):
        assert logits[row].argmax(-1).tolist() == hyp.tokens
    forced, _ = model(src, lengths, tgt_in, teacher_forcing_ratio=1.0)
    assert not torch.allclose(forced, logits)
    # ratio 0.5 under a seeded generator is reproducible
    a, _ = model(src, lengths, tgt_in, 0.5, torch.Generator().manual_seed(0))
    b, _ = model(src, lengths, tgt_in, 0.5, torch.Generator().manual_seed(0))
    torch.testing.assert_close(a, b)


def test_teacher_forcing_schedules():
    assert TeacherForcingSchedule().ratio(10**6) == 1.0
    lin = TeacherForcingSchedule("linear", start=1.0, end=0.5, steps=100)
    assert [lin.ratio(s) for s in (0, 50, 100, 1000)] == pytest.approx([1.0, 0.75, 0.5, 0.5])
    sig = TeacherForcingSchedule("inverse_sigmoid", start=1.0, end=0.0, k=10.0)
    assert sig.ratio(0) == pytest.approx(10 / 11)
    assert sig.ratio(50) == pytest.approx(10 / (10 + 2.718281828**5))
    exp = TeacherForcingSchedule("exponential", start=1.0, end=0.2, k=0.9)
    assert exp.ratio(2) == pytest.approx(0.81) and exp.ratio(100) == 0.2
    with pytest.raises(ValueError):
        TeacherForcingSchedule("cosine").ratio(0)


def test_label_smoothing_loss_matches_formula():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 5)
    targets = torch.tensor([[1, 2, PAD], [3, PAD, PAD]])
    loss, count = sequence_loss(logits, targets, PAD, label_smoothing=0.1)
    assert count == 3
    log_p = logits.log_softmax(-1)
    expected = 0.0
    for b, t in [(0, 0), (0, 1), (1, 0)]:
        expected += -(0.9 * log_p[b, t, targets[b, t]] + 0.1 * log_p[b, t].mean())
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_tied_embeddings_share_the_matrix():
    model = make_model(tie=True, bidirectional=False)
    assert model.decoder.output.weight is model.decoder.embedding.weight
    with pytest.raises(ValueError, match="tied"):
        Decoder(10, 8, 6, tie_embeddings=True)


def test_batched_beam_on_padded_sources_equals_one_at_a_time():
    model = make_model("bahdanau", True, "lstm")
    src, lengths = padded_batch([6, 2, 4], vocab=11)
    batched = model.translate(src, lengths, beam_size=3, n_best=3, max_len=7, alpha=0.5)
    for row, n in enumerate(lengths.tolist()):
        (alone,) = model.translate(src[row : row + 1, :n], lengths[row : row + 1], beam_size=3, n_best=3, max_len=7,
                                   alpha=0.5)  # fmt: skip
        assert [h.tokens for h in batched[row]] == [h.tokens for h in alone]
        assert [h.score for h in batched[row]] == pytest.approx([h.score for h in alone], abs=1e-4)
    # beam 1 == greedy through the model too
    greedy = model.translate(src, lengths, method="greedy", max_len=7)
    beam1 = beam_search(model.step, model.encode(src, lengths), torch.full((3,), BOS),
                        reorder_state=model.reorder_state, beam_size=1, eos_id=EOS, max_len=7)  # fmt: skip
    assert [g[0].tokens for g in greedy] == [b[0].tokens for b in beam1]


def test_learns_to_reverse_short_sequences():
    attention = "dot"
    """A few hundred Adam steps teach the model to reverse 3-token sequences (a real learning check)."""
    torch.manual_seed(0)
    config = Seq2SeqConfig(cell="gru", embed_dim=16, hidden_size=24, bidirectional=attention is not None,
                           attention=attention, input_feeding=False, dropout=0.0, bridge="project")  # fmt: skip
    model = build_seq2seq(config, 8, 8, BOS, EOS, PAD)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    g = torch.Generator().manual_seed(0)
    for _ in range(100):
        src = torch.randint(3, 8, (32, 3), generator=g)
        tgt = torch.cat([src.flip(1), torch.full((32, 1), EOS)], 1)
        tgt_in = torch.cat([torch.full((32, 1), BOS), tgt[:, :-1]], 1)
        logits, _ = model(src, torch.full((32,), 3), tgt_in)
        loss, count = sequence_loss(logits, tgt, PAD)
        optimizer.zero_grad()
        (loss / count).backward()
        optimizer.step()
    model.eval()
    src = torch.randint(3, 8, (20, 3), generator=g)
    hyps = model.translate(src, torch.full((20,), 3), beam_size=2)
    correct = sum(h[0].tokens == row.flip(0).tolist() for h, row in zip(hyps, src))
    assert correct >= 18


def test_word_dropout_drops_whole_tokens_in_training_only():
    embedded = torch.ones(8, 500, 6)
    torch.manual_seed(0)
    dropped = drop_words(embedded, 0.3, training=True)
    zero_rows = (dropped == 0).all(dim=-1)
    assert ((dropped == 0) == zero_rows[..., None]).all()  # a token is dropped whole or not at all
    assert 0.27 < zero_rows.float().mean() < 0.33
    torch.testing.assert_close(dropped[~zero_rows], torch.full_like(dropped[~zero_rows], 1 / 0.7))
    assert drop_words(embedded, 0.3, training=False) is embedded
    assert drop_words(embedded, 0.0, training=True) is embedded


def test_word_dropout_changes_training_outputs_and_not_evaluation():
    config = Seq2SeqConfig(embed_dim=8, hidden_size=8, word_dropout=0.5, target_word_dropout=0.5, dropout=0.0)
    model = build_seq2seq(config, 11, 11, BOS, EOS, PAD)
    src, lengths = padded_batch([5, 3, 4], vocab=11)
    tgt_in, _ = padded_batch([4, 4, 4], vocab=11, seed=3)
    tgt_in[:, 0] = BOS
    model.eval()
    torch.testing.assert_close(model(src, lengths, tgt_in)[0], model(src, lengths, tgt_in)[0])
    model.train()
    torch.manual_seed(1)
    first = model(src, lengths, tgt_in)[0]
    assert not torch.allclose(first, model(src, lengths, tgt_in)[0])
    plain = build_seq2seq(Seq2SeqConfig(embed_dim=8, hidden_size=8, dropout=0.0), 11, 11, BOS, EOS, PAD)
    plain.load_state_dict(model.state_dict())  # word dropout adds no parameters
    with pytest.raises(ValueError, match="word_dropout"):
        Seq2SeqConfig(word_dropout=1.0)
