"""Tiny trained model directories of every shipped task that offers verbs, for the verb tests.

`BUILDERS` maps a task name to `(root directory) -> model directory`; each one writes a few lines of data
under `root`, trains for a couple of steps through `rnnlab train` (or counts an n-gram model) and returns
the directory `rnnlab VERB DIR` takes (a run directory: its best/ checkpoint is used). No downloads; every
builder takes well under 3 s on a small CPU.

`INPUTS` holds inputs each verb can read from these models (`inputs="text"` verbs), keyed by verb name.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from rnnlab.cli import main

QUIET = ["--trainer.progress", "false", "--trainer.plot", "false", "--trainer.device", "cpu"]

# Words the tiny word-level models all know (tagger, classifier, cloze, n-gram).
PEOPLE = ["ann", "bob", "eve", "joe"]
PLACES = ["rome", "oslo", "lima"]

#: inputs per verb name, for the verbs that read text (what each tiny model can take)
INPUTS: dict[str, list[str]] = {
    "score": ["the cat sat", "白日依山尽"],
    "next": ["the cat", "白日依山"],
    "trace": ["白日依山尽", "the cat sat"],
    "translate": ["eins zwei", "rot"],
    "tag": ["bob went to lima", "ann went to new rome"],
    "classify": ["the film was great", "awful plot"],
    "cloze": ["the ___ meows", "the dog ___"],
    "predict": ["CCO", "OC(=O)C"],
    "tree": ["[MAX 2 9 [MIN 4 7 ] 0 ]", "[SM 1 [MED 3 4 5 ] ]"],
    "smiles": ["CCO", "c1ccccc1O"],
    "caption": [],  # image files (`inputs="files"`): filled by build_caption with two of the images it writes
    "ask": [],  # image files: filled by build_vqa
    "write": ["abc", "ca"],  # texts of the letters build_handwriting's model trained on
    "chat": ["hi how are you", "/persona anna", "do you like dogs"],  # messages of one conversation
}

#: options a verb cannot run without (its dataclass default is refused), by verb name
OPTIONS: dict[str, dict] = {"ask": {"question": "what colour is the square?"}}


def _train(argv: list[str]) -> None:
    code = main(argv)
    if code != 0:
        raise RuntimeError(f"rnnlab {' '.join(argv)} exited with {code}")


def build_lm(root: Path) -> Path:
    from rnnlab.data.tang import tang_splits

    poems = root / "poems.txt"
    poems.write_text("\n".join(tang_splits()["train"].splitlines()[:40]) + "\n", encoding="utf-8")
    run = root / "run"
    _train(["train", "lm", "--data.corpus", str(poems), "--model.embedding_size", "8", "--model.hidden_size", "8",
            "--model.num_layers", "1", "--batch_size", "2", "--bptt", "8", "--trainer.max_steps", "2",
            "--trainer.max_epochs", "null", "--trainer.eval_every", "2", *QUIET, "--output_dir", str(run)])  # fmt: skip
    return run


def build_ngram(root: Path) -> Path:
    from rnnlab.lm.ngram import NGramModel

    directory = root / "model"
    NGramModel.train(
        ["the cat sat on the mat", "the dog sat", "a cat ran"] * 3, order=2, smoothing="wb"
    ).save(directory)
    return directory


def _pairs(count: int, seed: int) -> list[tuple[str, str]]:
    words = {"eins": "one", "zwei": "two", "drei": "three", "rot": "red", "blau": "blue", "Haus": "house"}
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        chosen = [rng.choice(list(words)) for _ in range(rng.randint(1, 3))]
        pairs.append((" ".join(chosen), " ".join(words[w] for w in chosen)))
    return pairs


def build_translate(root: Path) -> Path:
    for name, count, seed in (("train", 60, 0), ("valid", 6, 1), ("test", 6, 2)):
        (root / f"{name}.tsv").write_text(
            "".join(f"{s}\t{t}\n" for s, t in _pairs(count, seed)), encoding="utf-8"
        )
    run = root / "run"
    _train(["train", "translate", f"output_dir={run}", "data.dataset=files", f"data.train={root / 'train.tsv'}",
            f"data.valid={root / 'valid.tsv'}", f"data.test={root / 'test.tsv'}", "data.max_len=12",
            "vocab.size=30", "model.embed_dim=8", "model.hidden_size=8", "model.attention=dot",
            "model.dropout=0.0", "batch_size=16", "eval_bleu_sentences=0", "trainer.max_steps=2",
            "trainer.eval_every=2", "trainer.plot=false", "trainer.progress=false", "trainer.device=cpu",
            "decode.beam_size=2"])  # fmt: skip
    return run


def build_smt(root: Path) -> Path:
    for name, count, seed in (("train", 60, 0), ("valid", 6, 1)):
        (root / f"{name}.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in _pairs(count, seed)), encoding="utf-8")
    run = root / "run"
    _train(["train", "smt", f"output_dir={run}", "data.dataset=files", f"data.train={root / 'train.tsv'}",
            f"data.valid={root / 'valid.tsv'}", "tune_sentences=0", "decode.beam_size=3"])  # fmt: skip
    return run


def build_tagger(root: Path) -> Path:
    rng = random.Random(0)
    lines = []
    for _ in range(12):
        tokens = [(rng.choice(PEOPLE), "B-PER"), ("went", "O"), ("to", "O")]
        if rng.random() < 0.5:
            tokens += [("new", "B-LOC"), (rng.choice(PLACES), "I-LOC")]
        else:
            tokens += [(rng.choice(PLACES), "B-LOC")]
        lines += [f"{word} {tag}" for word, tag in tokens] + [""]
    (root / "train.conll").write_text("\n".join(lines), encoding="utf-8")
    run = root / "run"
    _train(["train", "tagger", "--data.dataset", "null", "--data.train", str(root / "train.conll"),
            "--data.valid", str(root / "train.conll"), "--model.word_dim", "8", "--model.char_dim", "4",
            "--model.char_hidden", "4", "--model.hidden_size", "8", "--batch_size", "8",
            "--trainer.max_epochs", "2", *QUIET, "--output_dir", str(run)])  # fmt: skip
    return run


def build_classifier(root: Path) -> Path:
    rng = random.Random(0)
    filler = ["the", "film", "was", "plot", "actors", "really", "quite"]
    lines = []
    for _ in range(24):
        label = rng.choice(["pos", "neg"])
        words = rng.sample(filler, 3)
        words.insert(rng.randrange(4), "great" if label == "pos" else "awful")
        lines.append(f"{label}\t{' '.join(words)}")
    (root / "train.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = root / "run"
    _train(["train", "classifier", "--data.dataset", "null", "--data.train", str(root / "train.tsv"),
            "--data.valid", str(root / "train.tsv"), "--model.word_dim", "8", "--model.hidden_size", "8",
            "--batch_size", "8", "--trainer.max_epochs", "2", *QUIET, "--output_dir", str(run)])  # fmt: skip
    return run


def build_cloze(root: Path) -> Path:
    text = "\n".join(["the dog barks", "the cat meows", "a dog runs"] * 8) + "\n"
    for split in ("train", "valid", "test"):
        (root / f"{split}.txt").write_text(text, encoding="utf-8")
    run = root / "run"
    _train(["train", "cloze", "--data.corpus", str(root), "--model.embedding_dim", "8", "--model.hidden_size", "8",
            "--batch_size", "8", "--trainer.max_epochs", "2", *QUIET, "--output_dir", str(run)])  # fmt: skip
    return run


def build_regression(root: Path) -> Path:
    rng = random.Random(0)
    rows = []
    for _ in range(24):
        text = "".join(rng.choice("CCCOON()=") for _ in range(rng.randint(3, 8)))
        rows.append(f"{text},{2.0 * text.count('C') - 3.0 * text.count('O')}\n")
    (root / "train.csv").write_text("smiles,expt\n" + "".join(rows), encoding="utf-8")
    run = root / "run"
    _train(["train", "regression", "--data.dataset", "null", "--data.train", str(root / "train.csv"),
            "--data.valid", str(root / "train.csv"), "--data.test", str(root / "train.csv"),
            "--data.text_column", "smiles", "--data.target_column", "expt", "--model.embedding_size", "8",
            "--model.hidden_size", "8", "--batch_size", "8", "--trainer.max_epochs", "2", *QUIET,
            "--output_dir", str(run)])  # fmt: skip
    return run


def build_tree(root: Path) -> Path:
    from rnnlab.data.listops import generate_examples

    lines = [f"{value}\t{text}" for value, text in generate_examples(0, 40, max_depth=3, max_args=3)]
    (root / "train.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = root / "run"
    _train(["train", "tree", "--data.dataset", "files", "--data.train", str(root / "train.tsv"),
            "--model.embedding_size", "8", "--model.hidden_size", "8", "--batch_size", "8",
            "--trainer.max_steps", "2", "--trainer.max_epochs", "null", *QUIET, "--output_dir", str(run)])  # fmt: skip
    return run


def build_caption(root: Path) -> Path:
    from PIL import Image

    lines = []
    for i, (name, colour) in enumerate([("red", (220, 30, 30)), ("blue", (30, 30, 220))] * 3):
        image = Image.new("RGB", (12, 12), "white")
        image.paste(colour, (3, 3, 9, 9))
        image.save(root / f"{i}.png")
        lines.append(f"{i}.png\ta {name} square")
    (root / "captions.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    INPUTS["caption"][:] = [str(root / "0.png"), str(root / "1.png")]
    run = root / "run"
    _train(["train", "caption", "--data.dataset", "files", "--data.train", str(root / "captions.tsv"),
            "--data.image_size", "8", "--model.embed_dim", "4", "--model.hidden_size", "8",
            "--model.encoder.width", "2", "--model.encoder.feature_size", "4", "--model.encoder.stages", "1",
            "--trainer.max_steps", "2", "--trainer.max_epochs", "null", *QUIET, "--output_dir", str(run)])  # fmt: skip
    return run


def build_vqa(root: Path) -> Path:
    from tests.tasks.test_vqa import TINY, write_questions

    questions = write_questions(root, 6)
    INPUTS["ask"][:] = [str(root / "0.png"), str(root / "1.png")]
    run = root / "run"
    _train(["train", "vqa", "--data.dataset", "files", "--data.train", str(questions), *TINY,
            "--trainer.max_steps", "2", "--trainer.max_epochs", "null", *QUIET, "--output_dir", str(run)])  # fmt: skip
    return run


def build_graph(root: Path) -> Path:
    molecules = ["CCO", "c1ccccc1", "CC(=O)O", "CCN", "OCCO", "C1CC1", "CCCl", "CC#N", "O=C=O", "CCOC"]
    rows = "".join(f"{s},{0.5 * s.count('C') - s.count('O')}\n" for s in molecules)
    (root / "train.csv").write_text("smiles,target\n" + rows, encoding="utf-8")
    run = root / "run"
    _train(["train", "graph", "--data.dataset", "files", "--data.train", str(root / "train.csv"),
            "--data.valid", str(root / "train.csv"), "--model.hidden_size", "8", "--model.num_steps", "2",
            "--batch_size", "4", "--trainer.max_steps", "2", "--trainer.max_epochs", "null", "--trainer.metric",
            "rmse", *QUIET, "--output_dir", str(run)])  # fmt: skip
    return run


def build_physics(root: Path) -> Path:
    run = root / "run"  # the generated mass-spring set: 1 training system, 2 validation systems rolled out
    _train(["train", "physics", "--data.max_train", "1", "--data.max_valid", "2", "--model.hidden_size", "8",
            "--model.num_steps", "1", "--batch_size", "16", "--trainer.max_steps", "2", "--trainer.max_epochs",
            "null", *QUIET, "--output_dir", str(run)])  # fmt: skip
    return run


def build_handwriting(root: Path) -> Path:
    from tests.tasks.test_handwriting import TINY, letters_npz

    data = letters_npz(root / "letters.npz")
    run = root / "run"
    _train(["train", "handwriting", "--data.dataset", "files", "--data.train", str(data), *TINY,
            "--trainer.max_steps", "2", "--trainer.max_epochs", "null", *QUIET, "--output_dir", str(run)])  # fmt: skip
    return run


def build_chat(root: Path) -> Path:
    from tests.tasks.test_chat import TINY, write_fixture

    paths = write_fixture(root)
    run = root / "run"
    _train(["train", "chat", "--data.dataset", "files", "--data.train", str(paths["train"]), "--data.valid",
            str(paths["valid"]), *TINY, "--trainer.max_steps", "2", "--trainer.max_epochs", "null", *QUIET,
            "--output_dir", str(run)])  # fmt: skip
    return run


BUILDERS: dict[str, Callable[[Path], Path]] = {
    "lm": build_lm,
    "ngram": build_ngram,
    "translate": build_translate,
    "smt": build_smt,
    "tagger": build_tagger,
    "classifier": build_classifier,
    "cloze": build_cloze,
    "regression": build_regression,
    "tree": build_tree,
    "graph": build_graph,
    "physics": build_physics,
    "caption": build_caption,
    "vqa": build_vqa,
    "handwriting": build_handwriting,
    "chat": build_chat,
}
