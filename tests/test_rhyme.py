"""Rhyme and tonal meter with the Pingshui rhyme scheme (rnnlab.poetry), and `generate --rhyme`.

The poems are famous Tang poems whose rhymes any 平水韵 rhyme dictionary confirms (groups as listed in
the 平水韵 of Wikisource and in 《诗韵新编》's 平水韵 table): 王之涣《登鹳雀楼》 流/楼 下平十一尤; 杜甫《春望》
深/心/金/簪 下平十二侵; 杜甫《登高》 哀/回/来/台/杯 上平十灰 (line 1 rhymes); 李白《早发白帝城》 间/还/山 上平
十五删; 孟浩然《春晓》 晓/鸟/少 上声十七筱 (an oblique-tone rhyme). 《登鹳雀楼》 and 《春望》 are textbook
regulated verse (仄起首句不入韵); 崔颢《黄鹤楼》 famously breaks the tonal rules, 李白《静夜思》 is an old-style
quatrain (古绝) that does too.
"""

from __future__ import annotations

import pytest
import torch

from rnnlab.cli import main
from rnnlab.data.poetry import FORMS, split_lines
from rnnlab.data.tokenizers import CharTokenizer
from rnnlab.data.vocab import Vocabulary
from rnnlab.errors import UserError
from rnnlab.lm.neural import NeuralLanguageModel
from rnnlab.lm.verbs import SamplingOptions, run_generate
from rnnlab.nn.language_model import RNNLanguageModel, RNNLMConfig
from rnnlab.poetry.decoding import iter_generate_rhyming, parse_rhyme
from rnnlab.poetry.meter import check_meter, line_tones
from rnnlab.poetry.pingshui import pingshui_table
from rnnlab.poetry.pinyin import check_pinyin_rhyme, pinyin_rhyme_rate, rhyme_class
from rnnlab.poetry.report import measure_poem
from rnnlab.poetry.rhyme import chance_rate, check_rhyme, rhyme_rate

DENG_GUANQUE = "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"
CHUN_WANG = "国破山河在，城春草木深。感时花溅泪，恨别鸟惊心。烽火连三月，家书抵万金。白头搔更短，浑欲不胜簪。"
DENG_GAO = ("风急天高猿啸哀，渚清沙白鸟飞回。无边落木萧萧下，不尽长江滚滚来。"
            "万里悲秋常作客，百年多病独登台。艰难苦恨繁霜鬓，潦倒新停浊酒杯。")  # fmt: skip
BAIDI = "朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。"
CHUN_XIAO = "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。"
HUANGHE = ("昔人已乘黄鹤去，此地空余黄鹤楼。黄鹤一去不复返，白云千载空悠悠。"
           "晴川历历汉阳树，芳草萋萋鹦鹉洲。日暮乡关何处是，烟波江上使人愁。")  # fmt: skip
JINGYESI = "床前明月光，疑是地上霜。举头望明月，低头思故乡。"


# ----------------------------------------------------------------------------------------- the table
def test_lookup_of_hand_checked_characters_in_both_scripts():
    table = pingshui_table()
    assert table.groups_of("光") == {"下平声七阳"} and table.groups_of("东") == table.groups_of("東") == {"上平声一东"}
    assert table.groups_of("楼") == table.groups_of("樓") == {"下平声十一尤"}
    assert table.tone_of("山") == "平" and table.tone_of("尽") == "仄" and table.tone_of("日") == "仄"  # 日: 入声
    assert table.groups_of("看") == {"上平声十四寒", "去声十五翰"} and table.tone_of("看") == "either"
    assert table.level_groups("看") == {"上平声十四寒"}
    assert table.groups_of("a") == frozenset() and table.tone_of("a") is None and "a" not in table
    assert len(table.groups) == 106 and sum(g.tone == "平" for g in table.groups.values()) == 30


def test_group_names_resolve_in_any_spelling_and_unknown_ones_are_one_line():
    table = pingshui_table()
    for name in ("七阳", "七陽", "下平声七阳", "下平聲七陽", " 七阳 "):
        assert table.resolve(name) == "下平声七阳"
    assert "光" in table.members("七阳") and "东" not in table.members("七阳")
    with pytest.raises(UserError, match="unknown Pingshui rhyme group '七样'") as error:
        table.resolve("七样")
    assert "\n" not in str(error.value) and "七阳" in str(error.value)


# ------------------------------------------------------------------------------------------- rhyme
@pytest.mark.parametrize(("poem", "group", "first_line"), [
    (DENG_GUANQUE, "下平声十一尤", False), (CHUN_WANG, "下平声十二侵", False), (DENG_GAO, "上平声十灰", True),
    (BAIDI, "上平声十五删", True), (JINGYESI, "下平声七阳", True), (CHUN_XIAO, "上声十七筿", True),
])  # fmt: skip
def test_famous_poems_rhyme_in_their_group(poem, group, first_line):
    rhyme = check_rhyme(poem)
    assert rhyme.rhymes and group in rhyme.groups and rhyme.first_line == first_line


def test_shuffled_and_mixed_poems_do_not_rhyme():
    lines = split_lines(CHUN_WANG)
    odd_first = [*lines[1::2], *lines[0::2]]  # the even lines now end in 在/泪/月/短
    shuffled = "".join(line + ("，" if i % 2 == 0 else "。") for i, line in enumerate(odd_first))
    assert check_rhyme(shuffled).status == "no rhyme"
    assert check_rhyme("白日依山尽，黄河入海流。欲穷千里目，疑是地上霜。").status == "no rhyme"  # 流 / 霜


def test_unknown_characters_are_counted_apart_and_non_chinese_text_is_one_line():
    poem = "白日依山尽，黄河入海疎。欲穷千里目，更上一层楼。"  # 疎 (a variant of 疏) is not in the table
    rhyme = check_rhyme(poem)
    assert rhyme.status == "unknown" and rhyme.unknown == ("疎",)
    rate = rhyme_rate([poem, DENG_GUANQUE, "hello world"])
    assert (rate.measured, rate.rhyming, rate.unknown, rate.rate) == (1, 1, 2, 1.0)
    with pytest.raises(UserError, match="expected a Chinese poem") as error:
        check_rhyme("roses are red, violets are blue")
    assert "\n" not in str(error.value)
    assert measure_poem("hello")["rhyme"] == "unknown"


def test_the_corpus_rhymes_and_chance_does_not():
    from rnnlab.data.tang import load_poems

    bodies = [poem.body for poem in load_poems()][:2000]
    corpus, chance = rhyme_rate(bodies), chance_rate(bodies, seed=0)
    assert corpus.rate > 0.9 and chance.rate < 0.06  # measured: 95% and 2% on all 6,082 poems
    assert corpus.unknown < 0.06 * len(bodies)


def test_the_modern_pinyin_measure_is_rougher_but_agrees_on_clear_cases():
    assert [rhyme_class(c) for c in "流楼光霜心金"] == ["由求", "由求", "江阳", "江阳", "人辰", "人辰"]
    assert rhyme_class("斜") != rhyme_class("家")  # rhymed in 六麻 under the Tang, not today
    assert check_pinyin_rhyme(DENG_GUANQUE) == "rhymes"
    assert check_pinyin_rhyme("葡萄美酒夜光杯，欲饮琵琶马上催。醉卧沙场君莫笑，古来征战几人回。") == "rhymes"  # 催/回 ui
    assert check_pinyin_rhyme(BAIDI) == "no rhyme"  # the most common reading of 还 is hái, not huán
    assert check_pinyin_rhyme(CHUN_WANG) == "no rhyme"  # 簪 (zān) no longer rhymes with 深/心/金 (侵 under the Tang)
    assert check_pinyin_rhyme(DENG_GAO) == "no rhyme"  # 十灰 split: 回/杯 (ui) and 来/台 (ai)
    assert check_pinyin_rhyme("白日依山尽，黄河入海流。欲穷千里目，疑是地上霜。") == "no rhyme"
    rate = pinyin_rhyme_rate([DENG_GUANQUE, JINGYESI, "hello"])
    assert (rate.measured, rate.rhyming, rate.unknown) == (2, 2, 1)


# ------------------------------------------------------------------------------------------- meter
def test_tones_and_meter_of_regulated_and_irregular_poems():
    assert line_tones("白日依山尽") == "仄仄平平仄" and line_tones("月胜") == "仄*" and line_tones("x") == "?"
    meter = check_meter(DENG_GUANQUE)
    assert meter.conforms and meter.scheme == "仄起首句不入韵" and meter.lines_fit == 4
    assert check_meter(CHUN_WANG).conforms and check_meter(DENG_GAO).conforms and check_meter(BAIDI).conforms
    assert check_meter(BAIDI).scheme == "平起首句入韵"
    assert check_meter(HUANGHE).status == "breaks" and check_meter(JINGYESI).status == "breaks"
    # a made-up quatrain of level tones only fits no scheme; an 8-character line is no regulated verse
    assert check_meter("东风吹春山，春山开花枝。青天云中飞，长江流东西。").status == "breaks"
    assert check_meter("白日依山尽黄，黄河入海流。欲穷千里目，更上一层楼。").status == "unknown"


# ------------------------------------------------------------------------------ constrained decoding
def _tiny_model() -> NeuralLanguageModel:
    """An untrained model over a few characters of 七阳 (光霜乡长), 十一尤 (流楼秋), others, and marks."""
    tokens = ["\n", *"光霜乡长流楼秋白日依山尽黄河入海月花", "，", "。", "a"]
    vocab = Vocabulary.build([tokens])
    torch.manual_seed(0)
    model = RNNLanguageModel(len(vocab), RNNLMConfig(embedding_size=8, hidden_size=8, num_layers=1))
    return NeuralLanguageModel(model, CharTokenizer(), vocab, "\n")


@pytest.mark.parametrize("form", list(FORMS))
def test_constrained_poems_end_every_even_line_in_the_group(form):
    lm, table = _tiny_model(), pingshui_table()
    poems = list(iter_generate_rhyming(lm, "下平声七阳", form=form, num_samples=16, temperature=1.5, seed=1))
    for poem in poems:
        ends = [line[-1] for line in split_lines(poem)[1::2]]
        assert all("下平声七阳" in table.groups_of(end) for end in ends)
        assert len(set(ends)) == len(ends)  # 光霜乡长: enough characters for 4 even lines without 重韵
    for poem in iter_generate_rhyming(lm, "auto", form=form, num_samples=16, temperature=1.5, seed=2):
        assert check_rhyme(poem).rhymes


def test_free_constrained_samples_end_even_lines_of_line_one_length_in_the_group():
    lm, table = _tiny_model(), pingshui_table()
    checked = 0
    for poem in iter_generate_rhyming(lm, "下平声十一尤", num_samples=32, max_tokens=40, temperature=1.0, seed=3):
        lines = split_lines(poem)  # "a" counts as a character of its line, as the decoder counts it
        for line in lines[1::2]:
            if len(line) >= len(lines[0]) >= 1:  # the position line 1's length marks as the end
                assert "下平声十一尤" in table.groups_of(line[len(lines[0]) - 1])
                checked += 1
    assert checked > 0


def test_rhyme_option_values_and_combinations_give_one_clear_line():
    lm = _tiny_model()
    assert parse_rhyme(None) is None and parse_rhyme("off") is None and parse_rhyme("auto") == "auto"
    assert parse_rhyme("十一尤") == "下平声十一尤"
    for value, message in (("七样", "unknown Pingshui rhyme group"), ("", "got an empty value")):
        with pytest.raises(UserError, match=message):
            list(run_generate(lm, [], SamplingOptions(rhyme=value)))
    with pytest.raises(UserError, match="cannot be combined with --prompt"):
        list(run_generate(lm, [], SamplingOptions(rhyme="auto", prompt="白日")))
    with pytest.raises(UserError, match="knows no character of the rhyme group 上平声一东"):
        list(iter_generate_rhyming(lm, "上平声一东", num_samples=1))
    out = list(run_generate(lm, [], SamplingOptions(rhyme="off", num_samples=2, max_tokens=12, seed=1, stream=False)))
    assert [set(item) for item in out] == [{"sample", "text", "poem"}] * 2


def test_cli_rhyme_option(tmp_path, capsys):
    """A bad group name through the CLI: exit 2 and one line (the fuzz table holds more rows)."""
    from tests.verb_models import build_ngram

    model = build_ngram(tmp_path)
    assert main(["generate", str(model), "--rhyme", "auto"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rnnlab: error:") and "needs a neural poem model" in err and "\n" not in err
