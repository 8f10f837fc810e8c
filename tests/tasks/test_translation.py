"""Translation: parallel data parsing and errors, gettext catalogues, a tiny end-to-end train / translate /
eval through the CLI, sacrebleu scores, noisy-channel reranking."""

from __future__ import annotations

import json
import struct
import warnings
from dataclasses import dataclass

import pytest
import sacrebleu
import torch

from rnnlab.cli import main
from rnnlab.data.parallel import dedupe_and_split, parse_ding, read_mo_catalogues, read_parallel
from rnnlab.errors import DataError
from rnnlab.lm.interface import SentenceScore
from rnnlab.tasks import translation
from rnnlab.tasks.noisy_channel import NoisyChannelReranker, NoisyChannelWeights
from rnnlab.tasks.translation_config import TranslationConfig
from rnnlab.tasks.translator import Translation, load_translator
from rnnlab.text_metrics import corpus_scores
from rnnlab.train.run import train_task


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ------------------------------------------------------------------------------------------------ data

DING = [
    "# Version :: devel",
    "Regen {m} [meteo.] | Es regnet in Strömen. | Es regnet. :: rain | It's raining cats and dogs. | It rains.",
    "Haus {n}; Gebäude {n} | Wir gehen nach Hause! :: house; building | We are going home!",
    "kaputt | Das ist kaputt. :: broken",  # misaligned: 2 German sub-entries, 1 English
    "Tisch {m} | Der Tisch ist <Tisch> rund. :: table | The table is round [coll.].",
]


def test_parse_ding_sentences_and_phrases():
    assert parse_ding(DING) == [
        ("Es regnet in Strömen.", "It's raining cats and dogs."),
        ("Wir gehen nach Hause!", "We are going home!"),
        ("Der Tisch ist rund.", "The table is round."),
    ]  # "Es regnet." has only two words; annotations and synonyms after "; " are dropped
    phrases = parse_ding(DING, include_phrases=True)
    assert ("Regen", "rain") in phrases and ("Haus", "house") in phrases and len(phrases) == 7


def test_dedupe_and_split_is_deterministic_and_keeps_first_target():
    pairs = [(f"Satz {i}.", f"Sentence {i}.") for i in range(200)] + [("Satz 3.", "Other.")]
    splits = dedupe_and_split(pairs)
    assert sum(len(v) for v in splits.values()) == 200
    assert ("Satz 3.", "Other.") not in [p for v in splits.values() for p in v]
    again = dedupe_and_split(pairs)
    assert again == splits
    assert 150 < len(splits["train"]) < 200 and splits["valid"] and splits["test"]


def test_read_parallel_formats_and_errors(tmp_path):
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("Hallo  Welt.\tHello world.\n\nGuten Tag.\tGood day.\n", encoding="utf-8")
    assert read_parallel(str(tsv)) == [("Hallo Welt.", "Hello world."), ("Guten Tag.", "Good day.")]
    bad = tmp_path / "bad.tsv"
    bad.write_text("a\tb\nno tab here\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.tsv:2: expected 'source<TAB>target'"):
        read_parallel(str(bad))
    src, tgt = tmp_path / "x.de", tmp_path / "x.en"
    src.write_text("eins\nzwei\ndrei\n", encoding="utf-8")
    tgt.write_text("one\ntwo\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"x.de has 3 lines but .*x.en has 2"):
        read_parallel(f"{src},{tgt}")
    tgt.write_text("one\n\nthree\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"x.en:2: empty target sentence"):
        read_parallel(f"{src},{tgt}")
    tgt.write_text("one\ntwo\nthree\n", encoding="utf-8")
    assert read_parallel(f"{src},{tgt}")[2] == ("drei", "three")
    with pytest.raises(DataError, match="not found"):
        read_parallel(str(tmp_path / "missing.tsv"))


def write_mo(path, messages: dict[str, str]) -> None:
    """A GNU .mo file (what msgfmt writes): header, two offset tables, then the strings."""
    keys = sorted(messages)
    ids = b"".join(k.encode() + b"\0" for k in keys)
    strs = b"".join(messages[k].encode() + b"\0" for k in keys)
    n = len(keys)
    start = 7 * 4 + 16 * n
    id_offsets, str_offsets, pos = [], [], 0
    for k in keys:
        id_offsets += [len(k.encode()), start + pos]
        pos += len(k.encode()) + 1
    pos = 0
    for k in keys:
        str_offsets += [len(messages[k].encode()), start + len(ids) + pos]
        pos += len(messages[k].encode()) + 1
    header = struct.pack("Iiiiiii", 0x950412DE, 0, n, 7 * 4, 7 * 4 + 8 * n, 0, 0)
    path.write_bytes(header + struct.pack(f"{2 * n}i", *id_offsets) + struct.pack(f"{2 * n}i", *str_offsets) + ids + strs)


def test_read_mo_catalogues(tmp_path):
    write_mo(
        tmp_path / "demo.mo",
        {
            "": "Content-Type: text/plain; charset=UTF-8\n",
            "Open the _file in a new window": "在新窗口中打开文件(_F)",
            "Could not open %s for reading": "无法打开 %s",  # format directive: dropped
            "Quit": "退出",  # fewer than 4 words: dropped
            "Save all the changed files": "Save all the changed files",  # untranslated: dropped
        },
    )
    (tmp_path / "broken.mo").write_bytes(b"not a catalogue")
    assert read_mo_catalogues(tmp_path) == [("Open the file in a new window", "在新窗口中打开文件(F)")]


# ------------------------------------------------------------------------------------------ end to end

WORDS = {"eins": "one", "zwei": "two", "drei": "three", "vier": "four", "rot": "red", "blau": "blue"}


def toy_pairs(n: int, seed: int) -> list[tuple[str, str]]:
    g = torch.Generator().manual_seed(seed)
    german = list(WORDS)
    pairs = []
    for _ in range(n):
        idx = torch.randint(0, len(german), (int(torch.randint(1, 4, (1,), generator=g)),), generator=g).tolist()
        pairs.append((" ".join(german[i] for i in idx), " ".join(WORDS[german[i]] for i in idx)))
    return pairs


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("translate")
    for name, n, seed in (("train", 300, 0), ("valid", 20, 1), ("test", 20, 2)):
        (root / f"{name}.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in toy_pairs(n, seed)), encoding="utf-8")
    overrides = [
        f"output_dir={root / 'run'}", "data.dataset=files", f"data.train={root / 'train.tsv'}",
        f"data.valid={root / 'valid.tsv'}", f"data.test={root / 'test.tsv'}", "data.max_len=12", "vocab.size=40",
        "model.embed_dim=16", "model.hidden_size=16", "model.attention=dot", "model.dropout=0.0",
        "batch_size=16", "eval_bleu_sentences=5", "trainer.max_steps=40", "trainer.eval_every=20", "trainer.plot=false",
        "trainer.lr=0.01", "trainer.progress=false", "decode.beam_size=3",
    ]  # fmt: skip
    assert main(["train", "translate", *overrides]) == 0
    return root


def test_trained_model_translates_and_scores(trained, capsys):
    translator = load_translator(trained / "run")  # a run directory resolves to best/
    outputs = translator.translate(["eins zwei", "rot"], n_best=2)
    assert len(outputs) == 2 and all(len(n) == 2 for n in outputs)
    assert outputs[0][0].score >= outputs[0][1].score
    # log p(target | source) by forced decoding equals the beam's log-prob for the beam's own output.
    best = outputs[1][0]
    (forced,) = translator.score_pairs(["rot"], [best.ids])
    assert forced == pytest.approx(best.log_prob, abs=1e-4)
    src, tgt, weights = translator.attention("eins zwei", best.ids)
    assert weights.shape == (len(tgt), len(src))
    torch.testing.assert_close(weights.sum(-1), torch.ones(len(tgt)))


def test_cli_translate_eval_and_bad_input(trained, capsys, tmp_path):
    ckpt = str(trained / "run" / "best")
    assert main(["translate", ckpt, "eins zwei drei", "--n-best", "2", "--attention", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# eins zwei drei\n1\t") and "\n2\t" in out
    png = tmp_path / "attention.png"
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 1000
    assert main(["eval", ckpt, "--split", "test"]) == 0
    out = capsys.readouterr().out
    assert "BLEU = " in out and "nrefs:1|case:mixed|eff:no|tok:13a" in out and "chrF = " in out
    empty = tmp_path / "in.txt"
    empty.write_text("eins\n\nzwei\n", encoding="utf-8")
    assert main(["translate", ckpt, "--input", str(empty)]) == 2
    assert "in.txt:2: empty sentence; expected at least one word" in capsys.readouterr().err
    translator = load_translator(ckpt)
    with pytest.warns(UserWarning, match="longer than data.max_len=12"):
        translator.translate([" ".join(["eins"] * 30)], method="greedy")
    with pytest.warns(UserWarning, match="unknown to this model, read as <unk>: ☃"):
        translator.translate(["eins ☃"], method="greedy")
    with pytest.raises(DataError, match="sentence 1: empty sentence"):
        translator.translate(["   "])


def test_corpus_scores_match_sacrebleu():
    hyps, refs = ["the cat sat on the mat", "a dog"], ["the cat sat on a mat", "a dog barked"]
    scores = corpus_scores(hyps, refs)
    assert scores["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert scores["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score)
    assert scores["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")


def test_config_rejects_bad_values():
    from rnnlab.config import load_config
    from rnnlab.errors import ConfigError

    with pytest.raises(ConfigError, match="model.attention"):
        load_config(TranslationConfig, None, ["model.attention=cosine"])
    with pytest.raises(ConfigError, match="data.dataset"):
        load_config(TranslationConfig, None, ["data.dataset=fr-en"])
    with pytest.raises(ConfigError, match="modle"):
        load_config(TranslationConfig, None, ["modle.cell=gru"])


# ---------------------------------------------------------------------------------------- noisy channel


@dataclass
class FavouriteWordLM:
    """A stand-in target LM: log p(sentence) = -1 per word, +3 if it contains `word`."""

    word: str

    def score(self, sentences):
        return [SentenceScore(s, s.split(), [-1.0 + (3.0 if self.word in s.split() and i == 0 else 0.0)
                                             for i in range(len(s.split()))]) for s in sentences]  # fmt: skip

    def next_token_distribution(self, context):
        raise NotImplementedError

    def generate(self, prompt="", **kwargs):
        raise NotImplementedError


def test_noisy_channel_reranks_and_tunes():
    plain, good = ["a b c d", "e f g h"], ["a good b c d", "e f g h good"]
    nbest = [
        [Translation(plain[0], -1.0, -1.0, [5, 6, 7, 8]), Translation(good[0], -1.5, -1.5, [5, 9, 6, 7, 8])],
        [Translation(plain[1], -0.5, -0.5, [4, 4, 4, 4]), Translation(good[1], -0.9, -0.9, [4, 4, 4, 4, 9])],
    ]
    sources = ["x", "y"]
    reranker = NoisyChannelReranker(FavouriteWordLM("good"), weights=NoisyChannelWeights(lm=1.0))
    feats = reranker.features(sources, nbest)
    assert feats[0][1] == (-1.5, -2.0, 0.0, 5.0)  # fwd, lm (5 words: -5 + 3), reverse, length
    reranked = reranker.rerank(sources, nbest)
    assert [n[0].text for n in reranked] == good
    assert reranked[0][0].score == pytest.approx(-1.5 - 2.0)
    # With references that contain "good", tuning must move off zero weights; without, keep them at zero.
    weights, bleu = reranker.tune(sources, good, nbest)
    assert weights != NoisyChannelWeights() and bleu == pytest.approx(100.0)
    assert [n[0].text for n in reranker.rerank(sources, nbest)] == good  # tuned weights kept
    weights, bleu = reranker.tune(sources, plain, nbest)
    assert weights == NoisyChannelWeights() and bleu == pytest.approx(100.0)


def test_tiny_translation_api_train_returns_summary(tmp_path):
    pairs = toy_pairs(40, 3)
    tsv = tmp_path / "p.tsv"
    tsv.write_text("".join(f"{s}\t{t}\n" for s, t in pairs), encoding="utf-8")
    from rnnlab.config import load_config

    config = load_config(TranslationConfig, None, [
        f"output_dir={tmp_path / 'r'}", "data.dataset=files", f"data.train={tsv}", f"data.valid={tsv}",
        "vocab.size=30", "vocab.shared=false", "model.embed_dim=8", "model.hidden_size=8", "model.attention=null",
        "eval_bleu_sentences=0", "trainer.max_steps=3", "trainer.progress=false", "trainer.plot=false",
    ])  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = train_task(translation.build, config)
    assert summary["steps"] == 3
    assert sorted(p.name for p in (tmp_path / "r" / "best").iterdir()) == [
        "config.json", "manifest.json", "model.safetensors", "src.model", "tgt.model",
    ]  # fmt: skip


def test_fine_tuning_on_other_pairs_keeps_the_vocabulary_of_init_from(trained, tmp_path, capsys):
    # other pairs (numbers only) would train another sentencepiece model; init_from's weights need its own
    other = tmp_path / "numbers.tsv"
    numbers = [(s, t) for s, t in toy_pairs(200, 7) if "rot" not in s and "blau" not in s]
    other.write_text("".join(f"{s}\t{t}\n" for s, t in numbers), encoding="utf-8")
    config = json.loads((trained / "run" / "best" / "config.json").read_text())["config"]
    overrides = [f"output_dir={tmp_path / 'tuned'}", "data.dataset=files", f"data.train={other}", f"data.valid={other}",
                 "data.test=null", "data.max_len=12", "vocab.size=40", "model.embed_dim=16", "model.hidden_size=16",
                 "model.attention=dot", "model.dropout=0.0", "batch_size=16", "eval_bleu_sentences=0",
                 "trainer.max_steps=2", "trainer.progress=false", "trainer.plot=false",
                 f"trainer.init_from={trained / 'run' / 'best'}"]  # fmt: skip
    assert config["vocab"]["size"] == 40
    assert main(["train", "translate", *overrides]) == 0
    assert "from trainer.init_from" in capsys.readouterr().err
    assert (tmp_path / "tuned" / "best" / "spm.model").read_bytes() == (trained / "run" / "best" / "spm.model").read_bytes()
    assert main(["train", "translate", *overrides[:-1], f"trainer.init_from={tmp_path / 'numbers.tsv'}"]) == 2
