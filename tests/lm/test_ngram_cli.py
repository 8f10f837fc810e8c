"""Smoke test of the n-gram commands: rnnlab train ngram, score, generate, eval, ARPA import/export."""

from __future__ import annotations

import json

from rnnlab.cli import main

CORPUS = [
    "the cat sat on the mat",
    "the dog sat on the log",
    "the cat ate the fish",
    "a dog ate a bone",
    "a cat saw the dog",
] * 3


def test_train_score_generate_eval_and_arpa(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    model, arpa = tmp_path / "model", tmp_path / "model.arpa"
    argv = ["train", "ngram", str(corpus), "--order", "3", "--smoothing", "wb", "--output-dir", str(model)]
    assert main(argv + ["--arpa", str(arpa)]) == 0
    out = capsys.readouterr().out
    assert "3-grams" in out and "MiB" in out
    assert json.loads((model / "best" / "config.json").read_text())["task"] == "ngram"

    assert main(["score", str(model), "the cat sat on the log", "log the on sat cat the"]) == 0
    out = capsys.readouterr().out
    assert "most plausible first: 1, 2" in out

    assert main(["generate", str(model), "--prompt", "the", "--num-samples", "2", "--seed", "0", "--json"]) == 0
    samples = [json.loads(line) for line in capsys.readouterr().out.strip().split("\n")]
    assert [s["sample"] for s in samples] == [1, 2] and all(s["text"].startswith("the") for s in samples)

    assert main(["eval", str(model), "--data", str(corpus)]) == 0
    assert "perplexity" in capsys.readouterr().out
    assert main(["eval", str(model), "--split", "test"]) == 2  # trained on a file: no split to evaluate
    assert "--data FILE" in capsys.readouterr().err

    imported = tmp_path / "imported"
    assert main(["train", "ngram", "--from-arpa", str(arpa), "--output-dir", str(imported)]) == 0
    capsys.readouterr()
    main(["score", str(model), "a dog sat"])
    original = capsys.readouterr().out
    main(["score", str(imported), "a dog sat"])
    assert capsys.readouterr().out == original

    exported, again = tmp_path / "exported.arpa", tmp_path / "again"
    assert main(["ngram", "export", str(model), str(exported)]) == 0
    assert exported.read_text(encoding="utf-8") == arpa.read_text(encoding="utf-8")
    assert main(["ngram", "import", str(exported), "--output", str(again)]) == 0
    assert main(["ngram", "info", str(again)]) == 0
    assert "3-grams: " in capsys.readouterr().out


def test_chinese_characters_and_clear_errors(tmp_path, capsys):
    corpus = tmp_path / "zh.txt"
    corpus.write_text("那只猫在作报告\n那只狗在作报告\n猫在睡觉\n狗在报告\n" * 3, encoding="utf-8")
    model = tmp_path / "zh"
    assert (
        main(
            [
                "train",
                "ngram",
                str(corpus),
                "--level",
                "char",
                "--smoothing",
                "kn",
                "--order",
                "2",
                "--discount-fallback",
                "--output-dir",
                str(model),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["score", str(model), "那只猫在作报告!", "! 在报那猫告做只"]) == 0
    assert "most plausible first: 1, 2" in capsys.readouterr().out

    assert main(["train", "ngram", str(corpus), "--order", "0", "--output-dir", str(tmp_path / "x")]) == 2
    assert "order must be" in capsys.readouterr().err
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    assert main(["train", "ngram", str(empty), "--output-dir", str(tmp_path / "y")]) == 2
    assert "empty" in capsys.readouterr().err
    assert main(["train", "ngram", str(corpus), "--smoothing", "mkn", "--output-dir", str(tmp_path / "z")]) == 2
    assert "--discount-fallback" in capsys.readouterr().err
    assert main(["train", "ngram", str(tmp_path / "missing.txt")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_list_options_take_several_values(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(CORPUS * 3) + "\n", encoding="utf-8")
    model = tmp_path / "pruned"
    argv = ["train", "ngram", str(corpus), "--order", "3", "--smoothing", "mkn", "--prune", "0", "0", "1",
            "--discounts", "0.6", "0.8", "0.9", "--output-dir", str(model)]  # fmt: skip
    assert main(argv) == 0
    config = json.loads((model / "best" / "config.json").read_text())
    assert config["prune"] == [0, 0, 1]
    capsys.readouterr()
    assert main(["ngram", "info", str(model), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["order"] == 3
