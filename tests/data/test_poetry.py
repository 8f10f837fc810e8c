"""Poem forms on real poems (from the Tang corpus) and on malformed text."""

import pytest

from rnnlab.data.poetry import FORMS, is_well_formed, poem_form, split_lines

# Real poems: 王之涣 登鹳雀楼, 王维 送元二使安西, 杜甫 春望, 杜甫 登高.
JUEJU_5 = "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"
JUEJU_7 = "渭城朝雨浥轻尘，客舍青青柳色新。劝君更尽一杯酒，西出阳关无故人。"
LUSHI_5 = "国破山河在，城春草木深。感时花溅泪，恨别鸟惊心。烽火连三月，家书抵万金。白头搔更短，浑欲不胜簪。"
LUSHI_7 = (
    "风急天高猿啸哀，渚清沙白鸟飞回。无边落木萧萧下，不尽长江滚滚来。"
    "万里悲秋常作客，百年多病独登台。艰难苦恨繁霜鬓，潦倒新停浊酒杯。"
)


def test_forms_table():
    assert {name: (f.lines, f.chars) for name, f in FORMS.items()} == {
        "五言绝句": (4, 5),
        "七言绝句": (4, 7),
        "五言律诗": (8, 5),
        "七言律诗": (8, 7),
    }


@pytest.mark.parametrize(
    "poem, form",
    [(JUEJU_5, "五言绝句"), (JUEJU_7, "七言绝句"), (LUSHI_5, "五言律诗"), (LUSHI_7, "七言律诗")],
)
def test_real_poems(poem, form):
    assert poem_form(poem) == form
    assert poem_form("  " + poem + "\n") == form
    assert is_well_formed(poem)


def test_split_lines():
    assert split_lines(JUEJU_5) == ["白日依山尽", "黄河入海流", "欲穷千里目", "更上一层楼"]
    assert split_lines("春眠不觉晓；处处闻啼鸟！夜来风雨声？花落知多少") == [
        "春眠不觉晓",
        "处处闻啼鸟",
        "夜来风雨声",
        "花落知多少",
    ]
    assert split_lines("") == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        "白日依山尽，黄河入海流。欲穷千里目，更上一层楼",  # no final mark
        "白日依山尽，黄河入海流。欲穷千里目，更上一层。",  # a short line
        "白日依山尽，黄河入海流。",  # two lines only
        "白日依山尽，黄河入海流。欲穷千里目，，更上一层楼。",  # doubled mark
        "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。白日依山尽，黄河入海流。",  # six lines
        "白日依山尽，黄河入海流。欲穷千里目，更上 一层楼。",  # space inside
        "白日依山尽，黄河入海流。欲穷千里目，更上□层楼。",  # placeholder character
        "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。" * 3,  # twelve lines
        "渭城朝雨浥轻尘，客舍青青柳色新。欲穷千里目，更上一层楼。",  # mixed 7 and 5
        "abcde，fghij。klmno，pqrst。",
    ],
)
def test_malformed(text):
    assert poem_form(text) is None
    assert not is_well_formed(text)


def test_poem_quality_on_hand_made_poems():
    from rnnlab.data.poetry import couplets, poem_quality

    training = ["白日依山尽，黄河入海流。欲穷千里目，更上一层楼。", "床前明月光，疑是地上霜。举头望明月，低头思故乡。"]
    assert couplets(training[0]) == ["白日依山尽，黄河入海流。", "欲穷千里目，更上一层楼。"]
    samples = [
        "白日依山尽，黄河入海流。春风花草香，山水远相望。",  # regular; copies one couplet (2 lines)
        "春春春春春，花花花花花。",  # irregular (2 lines); 8 of its 10 characters repeat within a line
        "明月照高楼，流光正徘徊。上有愁思妇，悲叹有余哀。",  # regular, not in training, no repeats
    ]
    quality = poem_quality(samples, training)
    assert quality.samples == 3
    assert quality.regular == pytest.approx(2 / 3)
    assert quality.copied_samples == pytest.approx(1 / 3)
    assert quality.copied_lines == pytest.approx(2 / 10)  # 白日依山尽 and 黄河入海流 of 10 lines
    assert quality.repeated_chars == pytest.approx(8 / 50)  # 50 characters in all lines
    with pytest.raises(ValueError):
        poem_quality([], training)
    # An editorial note or a stray mark shared with training is not copied verse (the full Tang collection
    # has 1,601 poems with a "）。" couplet and 87 with "（同前）。").
    noted = ["白日依山尽，黄河入海流。（同前）。", "春风花草香，山水远相望。）。"]
    quality = poem_quality(["明月照高楼，流光正徘徊。（同前）。）。"], noted)
    assert quality.copied_samples == 0 and quality.copied_lines == 0
