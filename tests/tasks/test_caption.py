"""The `caption` task: the emoji join and its split by emoji, image files and their errors, the CNN encoder,
attention, CIDEr-D against hand-computed cases, and train + eval + the `caption` verb through the CLI."""

from __future__ import annotations

import io
import json
import math
import struct
import tarfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tests.cli_run import run_cli

from rnnlab.cli import main
from rnnlab.data.caption_images import caption_tokens, images_to_tensor, read_caption_file, read_image
from rnnlab.data.emoji_captions import STYLES, EmojiCaptions, join_packages
from rnnlab.data.splits import split_of
from rnnlab.errors import ConfigError, DataError
from rnnlab.nn.captioner import (
    Captioner,
    CaptionerConfig,
    ImageEncoder,
    ImageEncoderConfig,
    doubly_stochastic_penalty,
)
from rnnlab.tasks.captioner import caption_scores, cider_d

QUIET = ["--trainer.progress", "false", "--trainer.plot", "false", "--trainer.device", "cpu"]
TINY = ["--model.embed_dim", "8", "--model.hidden_size", "16", "--model.encoder.width", "4",
        "--model.encoder.feature_size", "8", "--model.encoder.stages", "2", "--data.image_size", "16",
        "--batch_size", "8"]  # fmt: skip


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


# -------------------------------------------------------------------------------------------- emoji data
EMOJI = [  # (unified, image file, en label, zh label, unicode name)
    ("1F600", "1f600.png", "grinning face", "嘿嘿", "GRINNING FACE"),
    ("2764-FE0F", "2764-fe0f.png", "red heart", "红心", "HEAVY BLACK HEART"),
    ("1F431", "1f431.png", "cat face", "猫脸", "CAT FACE"),
    ("1F680", "1f680.png", "rocket", "火箭", "ROCKET"),
    ("1F34E", "1f34e.png", "red apple", "红苹果", "RED APPLE"),
    ("1F697", "1f697.png", "automobile", "汽车", "AUTOMOBILE"),
    ("1F30D", "1f30d.png", "globe showing Europe-Africa", "地球上的欧洲非洲", "EARTH GLOBE EUROPE-AFRICA"),
    ("1F333", "1f333.png", "deciduous tree", "落叶树", "DECIDUOUS TREE"),
]


def npm_tarball(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def fake_packages(directory: Path) -> dict[str, Path]:
    """The four npm packages' files that the join reads, for the emoji above (plus one without a label)."""
    datasource = [{"unified": u, "image": f, "name": n, "category": "Test", "subcategory": "t", "sort_order": i}
                  for i, (u, f, _, _, n) in enumerate(EMOJI)]  # fmt: skip
    datasource.append({"unified": "1F9FF", "image": "1f9ff.png", "name": "NAZAR", "category": "Test",
                       "subcategory": "t", "sort_order": 99})  # no emojibase label: left out  # fmt: skip
    json_bytes = json.dumps(datasource).encode()
    tarballs = {}
    for number, style in enumerate(STYLES):
        files = {"emoji.json": json_bytes}
        for i, (_, name, *_) in enumerate([*EMOJI, ("", "1f9ff.png")]):
            colour = (40 * i % 256, 100 + 50 * number, 200, 255)
            image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))  # transparent: becomes white
            image.paste(colour, (16, 16, 48, 48))
            files[f"img/{style}/64/{name}"] = png_bytes(image)
        tarballs[f"emoji-datasource-{style}"] = npm_tarball(directory / f"{style}.tgz", files)
    emoji = {u: chr(int(u.split("-")[0], 16)) + ("\ufe0f" if "FE0F" in u else "") for u, *_ in EMOJI}
    data = {lang: json.dumps([{"hexcode": u, "emoji": emoji[u], "label": en if lang == "en" else zh, "tags": ["t"]}
                              for u, _, en, zh, _ in EMOJI]) for lang in ("en", "zh")}  # fmt: skip
    tarballs["emojibase-data"] = npm_tarball(directory / "base.tgz", {f"{k}/data.json": v.encode() for k, v in data.items()})
    cldr = {"annotations": {"annotations": {emoji["1F600"]: {"default": ["face", "grin"], "tts": ["grinning face"]},
                                            "\u2764": {"default": ["heart"], "tts": ["red heart", "love heart"]}}}}
    tarballs["cldr-annotations-full"] = npm_tarball(directory / "cldr.tgz", {
        "annotations/en/annotations.json": json.dumps(cldr).encode(),
        "annotations/zh/annotations.json": json.dumps({"annotations": {"annotations": {}}}).encode()})  # fmt: skip
    return tarballs


def test_the_emoji_join_names_each_image_and_splits_by_emoji(tmp_path):
    records, images = join_packages(fake_packages(tmp_path))
    assert [r["code"] for r in records] == [u.replace("-FE0F", "") for u, *_ in EMOJI]  # the unlabelled one left out
    heart = records[1]
    # emojibase label, CLDR's spoken names (found without the variation selector), the Unicode name
    assert heart["references"]["en"] == ["red heart", "love heart", "heavy black heart"]
    assert heart["references"]["zh"] == ["红心"] and "heart" in heart["tags"]["en"]
    assert records[0]["references"]["en"] == ["grinning face"]  # duplicates dropped
    assert records[6]["references"]["en"][0] == "globe showing europe-africa"
    for style in STYLES:
        assert images[style].shape == (len(EMOJI), 64, 64, 3) and images[style].dtype == np.uint8
        assert tuple(images[style][0, 0, 0]) == (255, 255, 255)  # transparency composited onto white
    assert all(r["split"] == split_of(r["code"], 10, 10) for r in records)

    data = EmojiCaptions(records, images)
    seen: dict[str, str] = {}
    for split in ("train", "valid", "test"):
        examples = data.examples(split, "en", "both", size=16)
        for example in examples:
            assert seen.setdefault(example.key, split) == split  # no emoji in two splits
            assert example.image.shape == (16, 16, 3)
        for key in {e.key for e in examples}:
            assert sorted(e.style for e in examples if e.key == key) == sorted(STYLES)  # both styles together
    assert set(seen) == {r["code"] for r in records}
    assert [e.style for e in data.examples("train", "zh", "twitter")] == ["twitter"] * sum(
        r["split"] == "train" for r in records)


def test_the_real_split_keeps_every_emoji_in_one_split():
    codes = [f"{c:X}" for c in range(0x1F300, 0x1F300 + 2000)]
    splits = [split_of(code, 10, 10) for code in codes]
    assert 0.75 < splits.count("train") / len(codes) < 0.85 and splits.count("test") > 100


# ------------------------------------------------------------------------------------------- image files
def png_with_size(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (its pixels are a 1x1 image's: Pillow reads the header only
    until the pixels are loaded)."""
    data = bytearray(png_bytes(Image.new("RGB", (1, 1))))
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", zlib.crc32(bytes(data[ihdr : ihdr + 17])))
    return bytes(data)


def test_images_of_every_mode_become_rgb_on_white(tmp_path):
    grey = tmp_path / "grey.png"
    Image.new("L", (20, 10), 128).save(grey)
    array = read_image(grey, 16)
    assert array.shape == (16, 16, 3) and tuple(array[8, 8]) == (128, 128, 128)
    assert tuple(array[0, 0]) == (255, 255, 255)  # padded to a square with white (20x10: bands top and bottom)
    rgba = tmp_path / "rgba.png"
    Image.new("RGBA", (16, 16), (255, 0, 0, 0)).save(rgba)
    assert tuple(read_image(rgba, 16)[3, 3]) == (255, 255, 255)  # transparent -> white
    palette = tmp_path / "palette.gif"
    Image.new("P", (16, 16), 3).save(palette)
    assert read_image(palette, 8).shape == (8, 8, 3)
    tensor = images_to_tensor(np.stack([read_image(rgba, 16)]))
    assert tensor.shape == (1, 3, 16, 16) and float(tensor.max()) == 1.0 and float(tensor.min()) >= -1.0


@pytest.mark.parametrize("content, message", [
    (b"hello", "not an image file"),
    ("truncated", "truncated or damaged"),
    ("tiny", "1x1 pixels; expected at least 8x8"),
    ("bomb", "larger than the limit of 40,000,000 pixels"),  # Pillow's own bomb check, at open
    ("large", "7000x7000 pixels, larger than the limit of 40,000,000 pixels"),  # ours, before decoding
])  # fmt: skip
def test_bad_images_are_one_line_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.png"
    if content == "truncated":
        content = png_bytes(Image.effect_noise((64, 64), 50).convert("RGB"))[:300]
    elif content == "tiny":
        content = png_bytes(Image.new("RGB", (1, 1)))
    elif content in ("bomb", "large"):
        content = png_with_size(20000, 20000) if content == "bomb" else png_with_size(7000, 7000)
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as error:
        read_image(path, 16)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def write_shapes(directory: Path, count: int = 12) -> Path:
    """`count` 16x16 images: a red, green or blue square or bar, and a caption file naming each twice."""
    directory.mkdir(parents=True, exist_ok=True)
    colours = {"red": (220, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 220)}
    lines = []
    for i in range(count):
        name, colour = list(colours.items())[i % 3]
        shape = "square" if i % 2 else "bar"
        image = Image.new("RGB", (16, 16), "white")
        image.paste(colour, (4, 4, 12, 12) if shape == "square" else (2, 6, 14, 10))
        image.save(directory / f"{i}.png")
        lines += [f"{i}.png\ta {name} {shape}", f"{i}.png\t{name.upper()} {shape}!"]
    (directory / "captions.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory / "captions.tsv"


def test_caption_files_group_references_and_name_file_and_line(tmp_path):
    captions = write_shapes(tmp_path / "shapes", 3)
    examples = read_caption_file(captions, "en", 16)
    assert [e.references for e in examples] == [["a red bar", "red bar"], ["a green square", "green square"],
                                                ["a blue bar", "blue bar"]]  # fmt: skip
    assert examples[0].where == f"{captions}:1"
    bad = tmp_path / "shapes" / "bad.tsv"
    for text, message in [("0.png\tok\nno tab here\n", "bad.tsv:2: expected image<TAB>caption"),
                          ("missing.png\ta cat\n", "bad.tsv:1: image 'missing.png' not found"),
                          ("0.png\t!!!\n", "bad.tsv:1: the caption of '0.png' is empty"),
                          ("captions.tsv\ta file\n", "bad.tsv:1: captions.tsv: not an image file")]:  # fmt: skip
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(DataError, match=message):
            read_caption_file(bad, "en", 16)
    csv_file = tmp_path / "shapes" / "c.csv"
    csv_file.write_text('image,caption\n0.png,"a red, red bar"\n1.png\n', encoding="utf-8")
    with pytest.raises(DataError, match="c.csv:3: expected 2 columns"):
        read_caption_file(csv_file, "en", 16)
    assert caption_tokens("国旗：日本", "zh") == ["国", "旗", "日", "本"]
    assert caption_tokens("flag: Côte d’Ivoire", "en") == ["flag", "côte", "d'ivoire"]


# -------------------------------------------------------------------------------------------------- model
def test_the_cnn_encoder_returns_a_grid_of_features():
    encoder = ImageEncoder(ImageEncoderConfig(width=4, stages=3, feature_size=10))
    grid = encoder(torch.randn(2, 3, 32, 24))
    assert grid.shape == (4, 3) and grid.memory.shape == (2, 12, 10) and grid.mask.shape == (2, 12)
    assert bool(grid.mask.all()) and grid.mean.shape == (2, 10)
    with pytest.raises(ValueError, match=r"images must be \(B, 3, H, W\)"):
        encoder(torch.randn(2, 1, 32, 32))


@pytest.mark.parametrize("attention", ["bahdanau", "general", "none"])
def test_attention_weights_sum_to_one_and_decoding_runs(attention):
    torch.manual_seed(0)
    config = CaptionerConfig(attention=attention, embed_dim=8, hidden_size=12,
                             encoder=ImageEncoderConfig(width=4, stages=2, feature_size=6))  # fmt: skip
    model = Captioner(config, vocab_size=20, bos_id=2, eos_id=3, pad_id=0).eval()
    images, tgt_in = torch.randn(3, 3, 16, 16), torch.randint(4, 20, (3, 5))
    logits, weights = model(images, tgt_in)
    assert logits.shape == (3, 5, 20)
    if attention == "none":
        assert weights is None
    else:
        assert weights.shape == (3, 5, 16) and torch.allclose(weights.sum(-1), torch.ones(3, 5), atol=1e-5)
    greedy = model.caption(images, method="greedy", max_len=6)
    beam = model.caption(images, method="beam", beam_size=3, max_len=6)
    assert len(greedy) == len(beam) == 3 and all(len(h.tokens) <= 6 for h in greedy + beam)
    assert all(b.log_prob >= g.log_prob - 1e-4 for g, b in zip(greedy, beam))  # beam finds no worse


def test_show_and_tell_can_read_the_image_as_its_first_input():
    torch.manual_seed(0)
    encoder = ImageEncoderConfig(width=4, stages=2, feature_size=6)
    config = CaptionerConfig(attention="none", image_as="input", embed_dim=8, hidden_size=12, encoder=encoder)
    model = Captioner(config, vocab_size=20, bos_id=2, eos_id=3, pad_id=0).eval()
    assert hasattr(model, "image_in") and not hasattr(model, "init_h")
    images, tgt_in = torch.randn(2, 3, 16, 16), torch.randint(4, 20, (2, 5))
    logits, _ = model(images, tgt_in)
    # the state <s> is read in is one LSTM step on W_I CNN(I) from zeros: recompute it by hand
    zeros = torch.zeros(1, 2, 12)
    x = model.image_in(model.encoder(images).mean).unsqueeze(1)
    _, (h, c) = model.decoder.rnn(x, (zeros, zeros))
    state = model.encode(images)
    assert torch.allclose(state["hidden"][0], h) and torch.allclose(state["hidden"][1], c)
    other, _ = model(torch.randn(2, 3, 16, 16), tgt_in)
    assert not torch.allclose(logits, other)  # the image reaches the words
    with pytest.raises(ConfigError, match="image_as"):
        CaptionerConfig(attention="bahdanau", image_as="input")


def test_the_doubly_stochastic_penalty():
    weights = torch.tensor([[[0.5, 0.5], [1.0, 0.0], [0.3, 0.7]]])  # (B=1, T=3, S=2)
    mask = torch.tensor([[True, True, False]])  # the third step is padding
    assert float(doubly_stochastic_penalty(weights, mask)) == pytest.approx((1 - 1.5) ** 2 + (1 - 0.5) ** 2)


# ------------------------------------------------------------------------------------------------ metrics
def test_cider_d_against_hand_computed_cases():
    log2 = math.log(2.0)
    assert log2 > 0
    # Two images, one reference each; every n-gram occurs in one image: idf = log(2 / 1).
    perfect, _ = cider_d([["a", "b"], ["c", "d"]], [[["a", "b"]], [["c", "d"]]])
    assert perfect == pytest.approx(10 * (1 + 1 + 0 + 0) / 4)  # 1-grams and 2-grams match, no 3- or 4-grams
    # "a" for "a b": 1-gram sim = log2*log2 / (log2 * sqrt(2) log2) = 1/sqrt2, lengths (2-grams) 0 vs 1
    _, (short, _) = cider_d([["a"], ["c", "d"]], [[["a", "b"]], [["c", "d"]]])
    assert short == pytest.approx(10 * (1 / math.sqrt(2)) * math.exp(-1 / 72) / 4)
    # "a a" for "a b": clipped min(2 log2, log2) * log2 / (2 log2 * sqrt2 log2) = 1/(2 sqrt2); "a a" unseen
    _, (clipped, _) = cider_d([["a", "a"], ["c", "d"]], [[["a", "b"]], [["c", "d"]]])
    assert clipped == pytest.approx(10 * (1 / (2 * math.sqrt(2))) / 4)
    # Two references: the mean of the similarities to each
    _, (two, _) = cider_d([["a", "b"], ["c", "d"]], [[["a", "b"], ["c", "d"]], [["c", "d"]]])
    # df(a)=df(b)=df(ab)=1 -> idf log2; df(c)=df(d)=df(cd)=2 -> idf 0: the second reference's vector is 0
    assert two == pytest.approx(10 * ((1 + 1) / 4 + 0) / 2)


def test_cider_d_equals_pycocoevalcap_on_random_captions():
    """The field's reference scorer (coco-caption's CIDEr-D, PyPI pycocoevalcap) on 40 random images."""
    pytest.importorskip("pycocoevalcap", reason="pycocoevalcap is not installed (it is in the dev extra)")
    import random

    from pycocoevalcap.cider.cider import Cider

    rng = random.Random(0)
    words = "a the red blue small big circle square left of right above cat dog".split()
    sentence = lambda: [rng.choice(words) for _ in range(rng.randint(1, 9))]  # noqa: E731
    candidates = [sentence() for _ in range(40)]
    references = [[sentence() for _ in range(rng.randint(1, 5))] for _ in range(40)]
    ours, per_image = cider_d(candidates, references)
    theirs, their_per_image = Cider().compute_score({i: [" ".join(r) for r in refs] for i, refs in enumerate(references)},
                                                    {i: [" ".join(c)] for i, c in enumerate(candidates)})  # fmt: skip
    assert ours == pytest.approx(theirs, abs=1e-12)
    assert per_image == pytest.approx(list(their_per_image), abs=1e-12)


def test_caption_scores_use_every_reference():
    import sacrebleu

    hyps = ["a red square", "blue bar"]
    refs = [["a red square", "red square"], ["a blue bar"]]
    scores = caption_scores(hyps, refs, "en")
    expected = sacrebleu.corpus_bleu(hyps, [["a red square", "a blue bar"], ["red square", None]]).score
    assert scores["bleu4"] == pytest.approx(expected) and scores["exact"] == 0.5
    assert scores["bleu1"] >= scores["bleu4"] and scores["cider"] > 0
    zh = caption_scores(["红心"], [["红心", "红色的心"]], "zh")
    assert zh["exact"] == 1.0 and zh["bleu1"] == pytest.approx(100.0)


# ------------------------------------------------------------------------------------------------- the CLI
def test_train_eval_and_the_caption_verb_through_the_cli(tmp_path, capsys):
    captions = write_shapes(tmp_path / "shapes", 12)
    run = tmp_path / "run"
    run_cli(capsys, "train", "caption", "--data.dataset", "files", "--data.train", captions, "--data.test", captions,
            *TINY, "--trainer.max_steps", "3", "--trainer.max_epochs", "null", *QUIET, "--output_dir", run)  # fmt: skip
    result = json.loads(run_cli(capsys, "eval", run, "--json"))
    ((where, part),) = result["parts"].items()
    assert where == "files test" and result["task"] == "caption"
    assert part["images"] == 12 and {"greedy", "beam3"} <= set(part)
    assert {"bleu1", "bleu4", "cider", "exact"} <= set(part["beam3"]) and part["loss"] > 0
    assert "BLEU-1..4" in run_cli(capsys, "eval", run, "--data", captions)

    images = [tmp_path / "shapes" / "0.png", tmp_path / "shapes" / "1.png"]
    lines = run_cli(capsys, "caption", run, *images, "--beam", "3", "--json").splitlines()
    assert [json.loads(line)["image"] for line in lines] == [str(p) for p in images]
    assert all(isinstance(json.loads(line)["caption"], str) for line in lines)
    out = tmp_path / "pictures"
    run_cli(capsys, "caption", run, images[0], "--attention", "--out", out)
    picture = Image.open(out / "0-attention.png")
    assert picture.format == "PNG" and picture.width > 100

    assert main(["caption", str(run), str(tmp_path / "shapes" / "captions.tsv")]) == 2
    assert "not an image file" in capsys.readouterr().err
    assert main(["caption", str(run), str(images[0]), "--beam", "0"]) == 2


# ------------------------------------------------------------------------------------------------- scenes
def test_generated_scenes_are_described_by_the_grammar():
    import random

    from rnnlab.data.scenes import describe, draw_scene, named_objects, random_scene

    two = [(0, 0, "red", "circle", "large"), (0, 2, "blue", "square", "small")]
    assert describe(two, "en") == "a red circle to the left of a blue square"
    assert describe(two, "zh") == "一个红色圆形在一个蓝色正方形的左边"
    same = [(0, 1, "red", "circle", "large"), (1, 1, "red", "circle", "small"), (2, 0, "green", "triangle", "small")]
    assert describe(same, "en") == "a large red circle, a small red circle and a green triangle"
    assert describe(same[:2], "en") == "a large red circle above a small red circle"
    image = draw_scene(two)
    assert image.shape == (64, 64, 3) and tuple(image[10, 10]) == (220, 40, 40) and tuple(image[0, 0]) == (255,) * 3
    objects = [{"colour": c, "shape": s} for _, _, c, s, _ in same]
    assert named_objects("a big red circle, a red circle and a green triangle", objects, "en")
    assert not named_objects("a red circle and a green triangle", objects, "en")  # one red circle missing
    assert not named_objects("a red circle, a red square and a green triangle", objects, "en")
    assert named_objects(describe(same, "zh"), objects, "zh")
    rng = random.Random(0)
    scenes = [random_scene(rng) for _ in range(50)]
    assert {len(s) for s in scenes} == {1, 2, 3, 4} and all(len({(r, c) for r, c, *_ in s}) == len(s) for s in scenes)
    assert scenes == [random_scene(r) for r in [random.Random(0)] for _ in range(50)]  # seeded
