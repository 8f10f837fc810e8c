"""The language model's optional rhyme memory (`model.rhyme_memory`): the last character of the latest
even line, computed from the tokens read, shown to the softmax."""

from __future__ import annotations

import pytest
import torch

from rnnlab.config import config_from_dict
from rnnlab.errors import ConfigError
from rnnlab.nn.decoding import index_select_state
from rnnlab.nn.language_model import RNNLanguageModel, RNNLMConfig, detach_state

BOUNDARY, COMMA, STOP = 2, 3, 4  # token ids used below; 5.. are "characters"


def make(cell: str = "gru", layers: int = 1) -> RNNLanguageModel:
    torch.manual_seed(0)
    config = RNNLMConfig(cell=cell, embedding_size=6, hidden_size=6, num_layers=layers, line_positions=4,
                         rhyme_memory=True)  # fmt: skip
    return RNNLanguageModel(12, config, line_mark_ids=[COMMA, STOP], boundary_id=BOUNDARY).eval()


def column(*ids: int) -> torch.Tensor:
    return torch.tensor(ids).unsqueeze(1)


def rhymes_of(model: RNNLanguageModel, tokens: torch.Tensor) -> list[int]:
    counts = model.line_index(tokens, capped=False)
    return model.rhyme_characters(tokens, counts, None)[0][:, 0].tolist()


def test_the_memory_holds_the_last_character_of_the_latest_even_line():
    model = make()
    #              \n  a  b  ,  c  d  .  e  ,  f  g  .  h  ,  \n  a  ,  b  .
    tokens = column(2, 5, 6, 3, 7, 8, 4, 9, 3, 10, 11, 4, 5, 3, 2, 5, 3, 6, 4)
    assert rhymes_of(model, tokens) == [-1, -1, -1, -1, -1, -1, 8, 8, 8, 8, 8, 11, 11, 11, -1, -1, -1, -1, 6]
    # Line 5 (odd) never sets it; a count past line_positions - 1 still tells even from odd (uncapped).
    many = column(2, *[5, 3, 6, 4] * 3)  # 6 lines: ends 5, 6, 5, 6, 5, 6; even lines end in 6
    assert rhymes_of(model, many)[-1] == 6 and rhymes_of(model, many)[4] == 6


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_windows_and_single_steps_with_a_carried_state_equal_one_pass(cell):
    model = make(cell)
    tokens = torch.tensor([[2, 5, 6, 3, 7, 8, 4, 9, 3, 10, 11, 4], [5, 3, 6, 4, 7, 3, 8, 4, 2, 6, 3, 9]]).t()
    whole, final = model(tokens)
    for cut in (1, 6, 7, 11):  # the memory (and the token before a mark) crosses every kind of window edge
        first, state = model(tokens[:cut])
        second, state = model(tokens[cut:], detach_state(state))
        assert torch.allclose(whole, torch.cat([first, second]), atol=1e-6)
    state, steps = None, []
    for t in range(tokens.shape[0]):
        out, state = model(tokens[t : t + 1], state)
        steps.append(out)
    assert torch.allclose(whole, torch.cat(steps), atol=1e-6)
    assert final[2][0].tolist() == [[11, 4], [-1, 9]]  # [rhyme, last token]; the 2nd read a boundary since
    zeros, _ = model(tokens, model.init_state(2))
    assert torch.allclose(zeros, whole)
    with pytest.raises(ValueError, match=r"\(layer state, line, memory\)"):
        model(tokens, final[:2])


def test_the_remembered_character_reaches_the_softmax_only_after_an_even_line():
    model = make()
    a_then_b = column(2, 5, 3, 6, 4, 7)
    a_then_c = column(2, 5, 3, 8, 4, 7)  # line 2 ends in 8 instead of 6; the last token is the same
    with torch.no_grad():
        model.rhyme_map.weight.zero_()
        same_1, _ = model(a_then_b)
        same_2, _ = model(a_then_c)
        model.rhyme_map.weight.normal_()
        differ_1, _ = model(a_then_b)
        differ_2, _ = model(a_then_c)
    # With the map zeroed only the recurrent state differs; with it the memory adds a difference at the end.
    assert not torch.allclose(differ_1[-1] - differ_2[-1], same_1[-1] - same_2[-1], atol=1e-5)
    assert torch.allclose(differ_1[:3], same_1[:3])  # before line 2 ends there is nothing to remember


def test_state_survives_beam_reordering_and_weights_gain_three_keys():
    model = make()
    _, state = model(torch.tensor([[2, 2, 2], [5, 5, 5], [3, 3, 3], [6, 7, 9], [4, 4, 4]]))  # line 2 ends 6, 7, 9
    picked = index_select_state(state, torch.tensor([2, 0]), dim=1)
    assert picked[2][0].tolist() == [[9, 4], [6, 4]] and picked[0].shape == (1, 2, 6)
    plain = RNNLanguageModel(12, RNNLMConfig(cell="gru", embedding_size=6, hidden_size=6, num_layers=1,
                                             line_positions=4), line_mark_ids=[3, 4], boundary_id=2)  # fmt: skip
    assert set(model.state_dict()) - set(plain.state_dict()) == {"rhyme_map.weight", "rhyme_gate.weight", "rhyme_gate.bias"}


def test_rhyme_memory_needs_line_positions():
    with pytest.raises(ConfigError, match="rhyme_memory: expected line_positions > 0"):
        config_from_dict(RNNLMConfig, {"rhyme_memory": True})
