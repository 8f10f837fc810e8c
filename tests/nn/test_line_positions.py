"""The language model's optional line-position embedding (`model.line_positions`)."""

from __future__ import annotations

import pytest
import torch

from rnnlab.config import config_from_dict
from rnnlab.errors import ConfigError
from rnnlab.nn.decoding import index_select_state
from rnnlab.nn.language_model import RNNLanguageModel, RNNLMConfig, detach_state

BOUNDARY, COMMA, STOP = 2, 3, 4  # token ids used below; 5.. are "characters"


def make(cell: str = "gru", positions: int = 4, layers: int = 2) -> RNNLanguageModel:
    torch.manual_seed(0)
    config = RNNLMConfig(cell=cell, embedding_size=6, hidden_size=6, num_layers=layers, line_positions=positions)
    return RNNLanguageModel(10, config, line_mark_ids=[COMMA, STOP], boundary_id=BOUNDARY).eval()


def column(*ids: int) -> torch.Tensor:
    return torch.tensor(ids).unsqueeze(1)


def test_line_index_counts_marks_since_the_boundary_and_is_capped():
    model = make(positions=3)
    #               \n a  ,  a  .  a  ,  ,  \n a  ,
    tokens = column(2, 5, 3, 5, 4, 5, 3, 3, 2, 5, 3)
    assert model.line_index(tokens)[:, 0].tolist() == [0, 0, 1, 1, 2, 2, 2, 2, 0, 0, 1]
    # A count carried in from the previous window continues until the next boundary resets it.
    carried = model.line_index(column(5, 3, 2, 3), start=torch.tensor([1]))
    assert carried[:, 0].tolist() == [1, 2, 0, 1]


@pytest.mark.parametrize("cell", ["gru", "lstm", "layernorm_lstm"])
def test_windows_with_a_carried_state_equal_one_pass(cell):
    model = make(cell)
    tokens = torch.tensor([[2, 5, 3, 6, 4, 2, 7, 3, 3, 8, 4, 5], [5, 3, 6, 4, 3, 2, 5, 5, 3, 4, 2, 6]]).t()
    whole, final = model(tokens)
    first, state = model(tokens[:5])
    second, state = model(tokens[5:], detach_state(state))
    assert torch.allclose(whole, torch.cat([first, second]), atol=1e-6)
    assert final[1].flatten().tolist() == state[1].flatten().tolist() == [3, 0]  # 3 marks since the last boundary; none
    zeros, _ = model(tokens, model.init_state(2))  # init_state is the state None stands for
    assert torch.allclose(zeros, whole)
    with pytest.raises(ValueError, match="takes the state it returned"):
        model(tokens, torch.zeros(2, 2, 6))  # a bare layer state would unpack along its first dimension


def test_the_line_embedding_reaches_the_softmax():
    model = make(layers=1)
    tokens = column(2, 5, 3, 5)  # the last two steps differ only by the line count (1 vs 0 at step 1)
    with torch.no_grad():
        before, _ = model(tokens)
        model.line_embedding.weight[1] += 1.0  # move line 1 only
        after, _ = model(tokens)
    assert torch.allclose(before[:2], after[:2]) and not torch.allclose(before[2:], after[2:])


def test_state_survives_beam_reordering():
    model = make()
    _, state = model(torch.tensor([[2, 2, 2], [5, 3, 3], [3, 5, 4]]))
    picked = index_select_state(state, torch.tensor([2, 0]), dim=1)
    assert picked[1].flatten().tolist() == [2, 1] and picked[0].shape == (2, 2, 6)


def test_saved_weights_gain_one_key_and_no_buffers():
    plain = RNNLanguageModel(10, RNNLMConfig(cell="gru", embedding_size=6, hidden_size=6)).state_dict()
    lines = make().state_dict()
    assert set(lines) - set(plain) == {"line_embedding.weight"}
    assert lines["line_embedding.weight"].shape == (4, 6)


def test_bad_settings_are_refused():
    with pytest.raises(ConfigError, match="line_positions: expected an integer from 0 to 1,000"):
        config_from_dict(RNNLMConfig, {"line_positions": -1})
    with pytest.raises(ConfigError, match="line_marks"):
        config_from_dict(RNNLMConfig, {"line_positions": 4, "line_marks": ""})
    with pytest.raises(ValueError, match="ids of the line marks"):
        RNNLanguageModel(10, RNNLMConfig(line_positions=4))
