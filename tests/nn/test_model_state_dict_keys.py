"""Saved checkpoints must keep loading: every model's state_dict keys and shapes are frozen here.

The lists were taken from the models before they moved into `rnnlab.nn` (issue 13); a change that renames
or reshapes a parameter breaks every saved model directory, so it has to change this file on purpose.
"""

import pytest
import torch

from rnnlab.nn.classifier import BiRNNClassifier, ClassifierModelConfig
from rnnlab.nn.cloze import BiCloze, ClozeModelConfig
from rnnlab.nn.language_model import RNNLanguageModel, RNNLMConfig
from rnnlab.nn.seq2seq import Seq2SeqConfig, build_seq2seq
from rnnlab.nn.tagger import BiRNNTagger, TaggerModelConfig

FROZEN = {
    "lm_lstm": (
        "embedding.weight:20x6 rnn.weight_ih_l0:24x6 rnn.weight_hh_l0:24x6 rnn.bias_ih_l0:24 "
        "rnn.bias_hh_l0:24 rnn.weight_ih_l1:24x6 rnn.weight_hh_l1:24x6 rnn.bias_ih_l1:24 rnn.bias_hh_l1:24 "
        "output.weight:20x6 output.bias:20"
    ),
    "lm_layernorm_lstm": (
        "embedding.weight:20x6 rnn.cells.l0.weight_ih:24x6 rnn.cells.l0.weight_hh:24x6 rnn.cells.l0.bias:24 "
        "rnn.cells.l0.norm_ih.weight:24 rnn.cells.l0.norm_ih.bias:24 rnn.cells.l0.norm_hh.weight:24 "
        "rnn.cells.l0.norm_hh.bias:24 rnn.cells.l0.norm_c.weight:6 rnn.cells.l0.norm_c.bias:6 "
        "rnn.cells.l1.weight_ih:24x6 rnn.cells.l1.weight_hh:24x6 rnn.cells.l1.bias:24 "
        "rnn.cells.l1.norm_ih.weight:24 rnn.cells.l1.norm_ih.bias:24 rnn.cells.l1.norm_hh.weight:24 "
        "rnn.cells.l1.norm_hh.bias:24 rnn.cells.l1.norm_c.weight:6 rnn.cells.l1.norm_c.bias:6 "
        "output.weight:20x6 output.bias:20"
    ),
    "lm_gru_tied": (
        "embedding.weight:20x6 rnn.weight_ih_l0:18x6 rnn.weight_hh_l0:18x6 rnn.bias_ih_l0:18 "
        "rnn.bias_hh_l0:18 rnn.weight_ih_l1:18x6 rnn.weight_hh_l1:18x6 rnn.bias_ih_l1:18 rnn.bias_hh_l1:18 "
        "output.weight:20x6 output.bias:20"
    ),
    "tagger_lstm_crf": (
        "embed.words.weight:15x5 embed.chars.weight:9x3 embed.char_rnn.weight_ih_l0:16x3 "
        "embed.char_rnn.weight_hh_l0:16x4 embed.char_rnn.bias_ih_l0:16 embed.char_rnn.bias_hh_l0:16 "
        "embed.char_rnn.weight_ih_l0_reverse:16x3 embed.char_rnn.weight_hh_l0_reverse:16x4 "
        "embed.char_rnn.bias_ih_l0_reverse:16 embed.char_rnn.bias_hh_l0_reverse:16 rnn.weight_ih_l0:24x13 "
        "rnn.weight_hh_l0:24x6 rnn.bias_ih_l0:24 rnn.bias_hh_l0:24 rnn.weight_ih_l0_reverse:24x13 "
        "rnn.weight_hh_l0_reverse:24x6 rnn.bias_ih_l0_reverse:24 rnn.bias_hh_l0_reverse:24 "
        "rnn.weight_ih_l1:24x12 rnn.weight_hh_l1:24x6 rnn.bias_ih_l1:24 rnn.bias_hh_l1:24 "
        "rnn.weight_ih_l1_reverse:24x12 rnn.weight_hh_l1_reverse:24x6 rnn.bias_ih_l1_reverse:24 "
        "rnn.bias_hh_l1_reverse:24 scores.weight:3x12 scores.bias:3 crf.start_transitions:3 "
        "crf.end_transitions:3 crf.transitions:3x3 crf.transition_penalty:3x3 crf.start_penalty:3 "
        "crf.end_penalty:3"
    ),
    "classifier_gru_attention": (
        "embed.words.weight:15x5 embed.chars.weight:9x3 embed.char_rnn.weight_ih_l0:12x3 "
        "embed.char_rnn.weight_hh_l0:12x4 embed.char_rnn.bias_ih_l0:12 embed.char_rnn.bias_hh_l0:12 "
        "embed.char_rnn.weight_ih_l0_reverse:12x3 embed.char_rnn.weight_hh_l0_reverse:12x4 "
        "embed.char_rnn.bias_ih_l0_reverse:12 embed.char_rnn.bias_hh_l0_reverse:12 rnn.weight_ih_l0:18x13 "
        "rnn.weight_hh_l0:18x6 rnn.bias_ih_l0:18 rnn.bias_hh_l0:18 rnn.weight_ih_l0_reverse:18x13 "
        "rnn.weight_hh_l0_reverse:18x6 rnn.bias_ih_l0_reverse:18 rnn.bias_hh_l0_reverse:18 "
        "pool.attention.project.weight:64x12 pool.attention.project.bias:64 pool.attention.query.weight:1x64 "
        "out.weight:3x12 out.bias:3"
    ),
    "cloze_lstm": (
        "embed.weight:15x5 forward_rnn.weight_ih_l0:24x5 forward_rnn.weight_hh_l0:24x6 "
        "forward_rnn.bias_ih_l0:24 forward_rnn.bias_hh_l0:24 forward_rnn.weight_ih_l1:24x6 "
        "forward_rnn.weight_hh_l1:24x6 forward_rnn.bias_ih_l1:24 forward_rnn.bias_hh_l1:24 "
        "backward_rnn.weight_ih_l0:24x5 backward_rnn.weight_hh_l0:24x6 backward_rnn.bias_ih_l0:24 "
        "backward_rnn.bias_hh_l0:24 backward_rnn.weight_ih_l1:24x6 backward_rnn.weight_hh_l1:24x6 "
        "backward_rnn.bias_ih_l1:24 backward_rnn.bias_hh_l1:24 forward_head.weight:15x6 forward_head.bias:15 "
        "both_head.weight:15x12 both_head.bias:15"
    ),
    "seq2seq_lstm_to_layernorm_lstm": (
        "encoder.embedding.weight:20x5 encoder.rnn.weight_ih_l0:24x5 encoder.rnn.weight_hh_l0:24x6 "
        "encoder.rnn.bias_ih_l0:24 encoder.rnn.bias_hh_l0:24 encoder.rnn.weight_ih_l0_reverse:24x5 "
        "encoder.rnn.weight_hh_l0_reverse:24x6 encoder.rnn.bias_ih_l0_reverse:24 "
        "encoder.rnn.bias_hh_l0_reverse:24 encoder.rnn.weight_ih_l1:24x12 encoder.rnn.weight_hh_l1:24x6 "
        "encoder.rnn.bias_ih_l1:24 encoder.rnn.bias_hh_l1:24 encoder.rnn.weight_ih_l1_reverse:24x12 "
        "encoder.rnn.weight_hh_l1_reverse:24x6 encoder.rnn.bias_ih_l1_reverse:24 "
        "encoder.rnn.bias_hh_l1_reverse:24 bridge.project_h.weight:12x12 bridge.project_h.bias:12 "
        "bridge.project_c.weight:12x12 bridge.project_c.bias:12 decoder.embedding.weight:20x5 "
        "decoder.rnn.cells.l0.weight_ih:48x17 decoder.rnn.cells.l0.weight_hh:48x12 "
        "decoder.rnn.cells.l0.bias:48 decoder.rnn.cells.l0.norm_ih.weight:48 "
        "decoder.rnn.cells.l0.norm_ih.bias:48 decoder.rnn.cells.l0.norm_hh.weight:48 "
        "decoder.rnn.cells.l0.norm_hh.bias:48 decoder.rnn.cells.l0.norm_c.weight:12 "
        "decoder.rnn.cells.l0.norm_c.bias:12 decoder.rnn.cells.l1.weight_ih:48x12 "
        "decoder.rnn.cells.l1.weight_hh:48x12 decoder.rnn.cells.l1.bias:48 "
        "decoder.rnn.cells.l1.norm_ih.weight:48 decoder.rnn.cells.l1.norm_ih.bias:48 "
        "decoder.rnn.cells.l1.norm_hh.weight:48 decoder.rnn.cells.l1.norm_hh.bias:48 "
        "decoder.rnn.cells.l1.norm_c.weight:12 decoder.rnn.cells.l1.norm_c.bias:12 "
        "decoder.attention.key_layer.weight:12x12 decoder.attention.query_layer.weight:12x12 "
        "decoder.attention.energy_layer.weight:1x12 decoder.combine.weight:12x24 decoder.combine.bias:12 "
        "decoder.output.weight:20x12 decoder.output.bias:20"
    ),
    "seq2seq_gru_to_lstm": (
        "encoder.embedding.weight:20x5 encoder.rnn.weight_ih_l0:18x5 encoder.rnn.weight_hh_l0:18x6 "
        "encoder.rnn.bias_ih_l0:18 encoder.rnn.bias_hh_l0:18 encoder.rnn.weight_ih_l0_reverse:18x5 "
        "encoder.rnn.weight_hh_l0_reverse:18x6 encoder.rnn.bias_ih_l0_reverse:18 "
        "encoder.rnn.bias_hh_l0_reverse:18 encoder.rnn.weight_ih_l1:18x12 encoder.rnn.weight_hh_l1:18x6 "
        "encoder.rnn.bias_ih_l1:18 encoder.rnn.bias_hh_l1:18 encoder.rnn.weight_ih_l1_reverse:18x12 "
        "encoder.rnn.weight_hh_l1_reverse:18x6 encoder.rnn.bias_ih_l1_reverse:18 "
        "encoder.rnn.bias_hh_l1_reverse:18 bridge.project_h.weight:12x12 bridge.project_h.bias:12 "
        "decoder.embedding.weight:20x5 decoder.rnn.weight_ih_l0:48x17 decoder.rnn.weight_hh_l0:48x12 "
        "decoder.rnn.bias_ih_l0:48 decoder.rnn.bias_hh_l0:48 decoder.rnn.weight_ih_l1:48x12 "
        "decoder.rnn.weight_hh_l1:48x12 decoder.rnn.bias_ih_l1:48 decoder.rnn.bias_hh_l1:48 "
        "decoder.combine.weight:12x24 decoder.combine.bias:12 decoder.output.weight:20x12 "
        "decoder.output.bias:20"
    ),
}


def build(name: str) -> torch.nn.Module:
    lm = dict(embedding_size=6, hidden_size=6, num_layers=2)
    labelling = dict(word_dim=5, char_dim=3, char_hidden=4, hidden_size=6)
    seq2seq = dict(embed_dim=5, hidden_size=6, encoder_layers=2, decoder_layers=2)
    builders = {
        "lm_lstm": lambda: RNNLanguageModel(20, RNNLMConfig(cell="lstm", **lm)),
        "lm_layernorm_lstm": lambda: RNNLanguageModel(20, RNNLMConfig(cell="layernorm_lstm", **lm)),
        "lm_gru_tied": lambda: RNNLanguageModel(20, RNNLMConfig(cell="gru", tie_weights=True, **lm)),
        "tagger_lstm_crf": lambda: BiRNNTagger(
            TaggerModelConfig(rnn="lstm", num_layers=2, output="crf", **labelling), 15, 9, ["O", "B-X", "I-X"], "bio"
        ),
        "classifier_gru_attention": lambda: BiRNNClassifier(
            ClassifierModelConfig(rnn="gru", pooling="attention", **labelling), 15, 9, 3
        ),
        "cloze_lstm": lambda: BiCloze(ClozeModelConfig(rnn="lstm", embedding_dim=5, hidden_size=6, num_layers=2), 15),
        "seq2seq_lstm_to_layernorm_lstm": lambda: build_seq2seq(
            Seq2SeqConfig(cell="lstm", decoder_cell="layernorm_lstm", attention="bahdanau", **seq2seq), 20, 20, 2, 3, 0
        ),
        "seq2seq_gru_to_lstm": lambda: build_seq2seq(
            Seq2SeqConfig(cell="gru", decoder_cell="lstm", attention="dot", **seq2seq), 20, 20, 2, 3, 0
        ),
    }
    return builders[name]()


@pytest.mark.parametrize("name", sorted(FROZEN))
def test_state_dict_keys_and_shapes_are_unchanged(name):
    state = build(name).state_dict()
    got = [f"{key}:{'x'.join(map(str, value.shape))}" for key, value in state.items()]
    assert got == FROZEN[name].split()


def test_lnlstm_is_the_same_model_as_layernorm_lstm():
    """The registry's canonical name and the old config spelling build identical modules."""
    config = dict(embedding_size=6, hidden_size=6, num_layers=2)
    old = RNNLanguageModel(20, RNNLMConfig(cell="layernorm_lstm", **config)).state_dict()
    new = RNNLanguageModel(20, RNNLMConfig(cell="lnlstm", **config)).state_dict()
    assert [(k, v.shape) for k, v in old.items()] == [(k, v.shape) for k, v in new.items()]
