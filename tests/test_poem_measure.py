"""Measuring poems: `rnnlab poem` (a user's own poem) and the poem figures `rnnlab eval` adds
(rnnlab.poetry.report.describe_poem, rnnlab.poetry.evaluation)."""

from __future__ import annotations

import json

import pytest
import torch

from rnnlab.cli import main
from rnnlab.data.tokenizers import CharTokenizer
from rnnlab.data.vocab import Vocabulary
from rnnlab.lm.neural import NeuralLanguageModel
from rnnlab.nn.language_model import RNNLanguageModel, RNNLMConfig
from rnnlab.poetry.evaluation import format_poem_evaluation, is_poem_corpus, is_poem_like, poem_evaluation
from tests.cli_run import run_cli

DENG_GUANQUE = "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"  # 流/楼 下平十一尤, 仄起首句不入韵
FENG_QIAO = "月落乌啼霜满天，江枫渔火对愁眠。姑苏城外寒山寺，夜半钟声到客船。"  # 啼 is not in the table
MADE_UP_UNKNOWN = "白日依山尽，黄河入海啼。欲穷千里目，更上一层楼。"  # an even line ends in 啼
MADE_UP_NO_RHYME = "白日依山尽，黄河入海流。欲穷千里目，更上一层山。"  # 流 十一尤 vs 山 十五删


def test_a_famous_poem_is_described_line_by_line(capsys):
    out = run_cli(capsys, "poem", DENG_GUANQUE)
    assert "form: 五言绝句" in out and "rhymes in 下平声十一尤 (流 楼)" in out
    assert "meter: conforms (仄起首句不入韵: 4/4 lines fit)" in out and "黄河入海流  平平仄仄平" in out


def test_json_and_characters_the_table_lacks_count_as_unknown(capsys):
    records = [json.loads(line) for line in run_cli(capsys, "poem", FENG_QIAO, MADE_UP_UNKNOWN, "--json").splitlines()]
    assert records[0]["rhyme"]["status"] == "rhymes" and records[0]["rhyme"]["first_line_rhymes"]
    assert records[0]["meter"]["status"] == "unknown" and "?" in records[0]["meter"]["tones"][0]  # 啼, a key position
    assert records[1]["rhyme"] | {"groups": []} == {"status": "unknown", "groups": [], "ends": ["啼", "楼"],
                                                   "first_line_rhymes": False, "unknown_characters": ["啼"]}  # fmt: skip
    out = run_cli(capsys, "poem", MADE_UP_UNKNOWN, MADE_UP_NO_RHYME)
    assert "lacks 啼 (counted as unknown, not as non-rhyming)" in out and "no rhyme: 流 山 share no Pingshui group" in out


def test_poems_from_a_file_and_a_rhyme_group(tmp_path, capsys):
    poems = tmp_path / "poems.txt"
    poems.write_text(f"{DENG_GUANQUE}\n\n{FENG_QIAO}\n", encoding="utf-8")
    assert run_cli(capsys, "poem", "--input", poems).count("form: 七言绝句") == 1
    group = json.loads(run_cli(capsys, "poem", "--group", "十一尤", "--json"))
    assert group["group"] == "下平声十一尤" and group["tone"] == "平" and {"流", "楼", "秋"} <= set(group["characters"])


@pytest.mark.parametrize("argv,message", [
    (["poem", "hello world"], "expected a Chinese poem"),
    (["poem", DENG_GUANQUE, "hello"], "poem 2: expected a Chinese poem"),
    (["poem", "--group", "八阳"], "unknown Pingshui rhyme group '八阳'"),
    (["poem"], "expected a poem"),
    (["poem", "白日依山尽，" * 2000], "poem 1: at most 10,000 characters per poem, got 12,000"),
])  # fmt: skip
def test_bad_input_is_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rnnlab: error:") and message in err and "\n" not in err


def test_poem_corpora_are_told_from_prose():
    assert is_poem_like(DENG_GUANQUE) and not is_poem_like("The cat sat. It slept.") and not is_poem_like("白日依山尽")
    assert is_poem_corpus([DENG_GUANQUE, FENG_QIAO, "", "一句话。"]) and not is_poem_corpus(["the cat sat .", "a b"])
    assert not is_poem_corpus([])


def test_poem_evaluation_of_free_samples_beside_the_reference():
    tokens = ["\n", *"光霜乡长流楼秋白日依山尽黄河入海月花欲穷千里目更上一层", "，", "。"]
    torch.manual_seed(0)
    model = RNNLanguageModel(len(tokens) + 1, RNNLMConfig(embedding_size=8, hidden_size=8, num_layers=1))
    lm = NeuralLanguageModel(model, CharTokenizer(), Vocabulary.build([tokens]), "\n")
    result = poem_evaluation(lm, [DENG_GUANQUE, MADE_UP_NO_RHYME, "not a poem"], [DENG_GUANQUE], count=8, seed=3)
    assert result["samples"] == 8 and result["rhyme"]["measured"] + result["rhyme"]["unknown"] == 8
    assert result["reference"]["poems"] == 2 and result["reference"]["rhyme"]["rate"] == 0.5  # the prose line is left out
    assert result == poem_evaluation(lm, [DENG_GUANQUE, MADE_UP_NO_RHYME], [DENG_GUANQUE], count=8, seed=3)  # seeded
    text = format_poem_evaluation(result)
    assert text.startswith("poems: 8 free samples (seed 3") and "the evaluated poems rhyme 50%" in text


def test_eval_of_a_character_ngram_poem_model_measures_its_samples(tmp_path, capsys):
    from rnnlab.lm.ngram import NGramModel

    poems = tmp_path / "poems.txt"
    poems.write_text(f"{DENG_GUANQUE}\n{MADE_UP_NO_RHYME}\n{FENG_QIAO}\n", encoding="utf-8")
    model = NGramModel.train(poems.read_text(encoding="utf-8").split("\n")[:3], 2, "wb", level="char")
    model.save(tmp_path / "ngram")
    out = run_cli(capsys, "eval", tmp_path / "ngram", "--data", poems)
    assert "perplexity" in out and "poems: 64 free samples (seed 0" in out and "the evaluated poems rhyme 67%" in out
    assert "copying not measured" in out  # trained from a list: no training poems to compare with
    result = json.loads(run_cli(capsys, "eval", tmp_path / "ngram", "--data", poems, "--json"))
    assert result["poems"]["samples"] == 64 and result["poems"]["reference"]["poems"] == 3
    assert result["poems"]["copied_lines"] is None
