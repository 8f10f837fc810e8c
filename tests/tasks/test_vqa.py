"""The `vqa` task: the generators' answers on hand-checked scenes and their balance, the JSON-lines reader's
errors, the model's shapes and attention, attention supervision (the box cells, the loss, the config
checks), and train + eval + the `ask` verb through the CLI."""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from pathlib import Path

import pytest
import torch
from PIL import Image
from tests.cli_run import run_cli

from rnnlab.cli import main
from rnnlab.config import InvalidValue
from rnnlab.data.vqa_clevr import answer, draw, random_objects, scene_questions
from rnnlab.data.vqa_files import read_vqa_file
from rnnlab.data.vqa_scenes import CATEGORIES, GRID, KINDS, PLACES, make_scene, object_box, render
from rnnlab.errors import DataError
from rnnlab.nn.captioner import ImageEncoderConfig
from rnnlab.nn.seq2vec import SequenceToVectorConfig
from rnnlab.nn.vqa import HEADS, VQAModel, VQAModelConfig, attention_supervision_loss
from rnnlab.tasks.vqa_model import box_cells, on_target

QUIET = ["--trainer.progress", "false", "--trainer.plot", "false", "--trainer.device", "cpu"]
TINY = ["--model.hidden_size", "16", "--model.question_size", "8", "--model.relation_size", "8",
        "--model.question.embedding_size", "8", "--model.question.hidden_size", "8", "--model.encoder.width", "4",
        "--model.encoder.feature_size", "8", "--model.encoder.stages", "2", "--data.image_size", "16",
        "--batch_size", "8"]  # fmt: skip


def write_questions(root: Path, count: int = 8) -> Path:
    """`count` 16x16 images of a red or blue square on the left or right, two questions each, as JSON lines."""
    root.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(count):
        colour, side = ("red", "blue")[i % 2], ("left", "right")[i // 2 % 2]
        image = Image.new("RGB", (16, 16), "white")
        x = 1 if side == "left" else 9
        image.paste((220, 30, 30) if colour == "red" else (30, 30, 220), (x, 5, x + 6, 11))
        image.save(root / f"{i}.png")
        box = [x / 16, 5 / 16, (x + 6) / 16, 11 / 16]
        lines.append(json.dumps({"image": f"{i}.png", "question": "What colour is the square?", "answer": colour,
                                 "type": "colour", "box": box}))  # fmt: skip
        lines.append(json.dumps({"image": f"{i}.png", "question": "is the square on the left or the right?",
                                 "answer": side, "type": "side"}))  # fmt: skip
    (root / "questions.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root / "questions.jsonl"


# ----------------------------------------------------------------------------------------- sort-of-clevr
def test_sort_of_clevr_answers_on_a_hand_checked_scene():
    objects = [{"colour": "red", "shape": "circle", "x": 10, "y": 10},
               {"colour": "green", "shape": "square", "x": 20, "y": 12},
               {"colour": "blue", "shape": "square", "x": 50, "y": 50},
               {"colour": "orange", "shape": "circle", "x": 40, "y": 20},
               {"colour": "grey", "shape": "square", "x": 12, "y": 40},
               {"colour": "yellow", "shape": "square", "x": 58, "y": 8}]  # fmt: skip
    assert answer(objects, "shape", "red") == "circle"
    assert answer(objects, "horizontal", "red") == "left" and answer(objects, "horizontal", "blue") == "right"
    assert answer(objects, "vertical", "red") == "top" and answer(objects, "vertical", "blue") == "bottom"
    assert answer(objects, "closest", "red") == "square"  # green, 10 px away
    assert answer(objects, "furthest", "red") == "square"  # blue
    assert answer(objects, "closest", "green") == "circle"  # red
    assert answer(objects, "furthest", "grey") == "square"  # yellow (46.0..) beats blue (39.2) and orange
    assert answer(objects, "count", "red") == "2" and answer(objects, "count", "blue") == "4"
    image = draw(objects)
    assert image.shape == (64, 64, 3) and tuple(image[10, 10]) == (220, 30, 30) and tuple(image[0, 0]) == (255,) * 3
    rng = random.Random(1)
    scene = random_objects(rng)
    questions = scene_questions(scene, rng)
    assert len(questions) == 12 and {q["colour"] for q in questions} <= {o["colour"] for o in scene}
    assert all(q["answer"] == answer(scene, q["type"], q["colour"]) and q["colour"] in q["text"] for q in questions)


# ------------------------------------------------------------------------------------------ emoji scenes
NAMES = [f"{category} {k}" for category in CATEGORIES for k in range(8)]
POOL = [category for category in CATEGORIES for _ in range(8)]


def test_emoji_scenes_answers_follow_the_scene_and_are_balanced():
    rng = random.Random(0)
    by_kind: dict[str, Counter] = {kind: Counter() for kind in KINDS}
    for _ in range(1500):
        kind = rng.choice(KINDS)
        scene = make_scene(rng, kind, NAMES, POOL)
        objects, text, reply = scene["objects"], scene["question"], scene["answer"]
        by_kind[kind][reply] += 1
        cells = {o["cell"]: POOL[o["emoji"]] for o in objects}
        assert 2 <= len(objects) <= 6 and len(cells) == len(objects) and len({o["emoji"] for o in objects}) == len(objects)
        present = Counter(POOL[o["emoji"]] for o in objects)
        if kind == "existence":
            named = [name for name in NAMES if f" {name} " in f" {text[:-1]} "]
            assert (reply == "yes") == any(NAMES[o["emoji"]] == named[0] for o in objects)
        elif kind == "count":
            category = next(c for c in CATEGORIES if f"{c}s" in text)
            assert reply == str(present[category])
        elif kind == "category":
            cell = next(i for i, place in enumerate(PLACES) if place in text)
            assert reply == cells[cell] and objects[scene["target"]]["cell"] == cell
        elif kind == "relation":
            named = objects[scene["target"]]
            row, column = divmod(named["cell"], GRID)
            step = {"left of": (0, -1), "right of": (0, 1), "above": (-1, 0), "below": (1, 0)}
            (dr, dc), = [v for k, v in step.items() if k in text]
            assert NAMES[named["emoji"]] in text and reply == cells[(row + dr) * GRID + column + dc]
        else:
            first, second = sorted((c for c in CATEGORIES if f"{c}s" in text), key=lambda c: text.index(f"{c}s"))
            assert reply == ("yes" if present[first] > present[second] else "no")
    for kind, counts in by_kind.items():  # every answer of a type equally likely (within sampling noise)
        expected = sum(counts.values()) / len(counts)
        assert len(counts) == (2 if kind in ("existence", "comparison") else 5), (kind, counts)
        assert all(abs(n - expected) < 0.3 * expected for n in counts.values()), (kind, counts)
    box = object_box({"cell": 4, "dx": 1, "dy": 0, "emoji": 0})
    assert box == pytest.approx((22 / 64, 21 / 64, 42 / 64, 41 / 64))
    pictures = torch.zeros(40, 20, 20, 3, dtype=torch.uint8).numpy()
    image = render([{"cell": 4, "dx": 1, "dy": 0, "emoji": 0}], pictures)
    assert image[21:41, 22:42].max() == 0 and image[20, 22].min() == 255 and image[21, 42].min() == 255


# ---------------------------------------------------------------------------------------------- files
def test_read_vqa_file_and_its_errors(tmp_path):
    path = write_questions(tmp_path / "set", 4)
    split = read_vqa_file(path, 16)
    assert split.images.shape == (4, 16, 16, 3) and len(split) == 8  # each image read once
    first = split.questions[0]
    assert (first.image, first.answer, first.kind) == (0, "red", "colour") and first.box == (1 / 16, 5 / 16, 7 / 16, 11 / 16)
    assert split.questions[1].box is None and split.questions[3].image == 1

    def error(text: str) -> str:
        bad = tmp_path / "set" / "bad.jsonl"
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(DataError) as caught:
            read_vqa_file(bad, 16)
        return str(caught.value)

    good = '{"image": "0.png", "question": "what?", "answer": "red"}\n'
    assert error(good + "{not json\n").startswith(f"{tmp_path / 'set' / 'bad.jsonl'}:2: not a JSON object")
    assert ":2: missing 'answer'" in error(good + '{"image": "0.png", "question": "what?"}\n')
    assert ":1: image 'nope.png' not found" in error('{"image": "nope.png", "question": "what?", "answer": "a"}\n')
    assert ":1: the question is empty" in error('{"image": "0.png", "question": " ?! ", "answer": "a"}\n')
    assert ":1: \"box\" must have 0 <= x0 < x1 <= 1" in error(good[:-2] + ', "box": [0.5, 0, 0.2, 1]}\n')
    assert ":1: \"answer\" must be a string" in error('{"image": "0.png", "question": "what", "answer": 3}\n')
    assert "no questions" in error("# nothing\n\n")
    with pytest.raises(DataError, match="no such question file"):
        read_vqa_file(tmp_path / "absent.jsonl", 16)


# ---------------------------------------------------------------------------------------------- model
@pytest.mark.parametrize("head", HEADS)
def test_every_head_gives_answer_scores_and_attention_sums_to_one(head):
    torch.manual_seed(0)
    config = VQAModelConfig(head=head, encoder=ImageEncoderConfig(width=4, stages=2, feature_size=8),
                            question=SequenceToVectorConfig(cell="lstm", embedding_size=8, hidden_size=8,
                                                            bidirectional=False, pooling="last"),
                            question_size=8, hidden_size=16, relation_size=8)  # fmt: skip
    model = VQAModel(config, vocab_size=20, num_answers=5, image_size=16)
    assert model.grid == (4, 4)
    images, index = torch.randn(2, 3, 16, 16), torch.tensor([0, 0, 1])
    ids = torch.tensor([[4, 5, 6], [7, 8, 0], [9, 0, 0]])
    logits, attention = model(images, index, ids, ids != 0)
    assert logits.shape == (3, 5) and torch.isfinite(logits).all()
    if head == "attention":
        assert attention.shape == (3, 2, 16) and torch.allclose(attention.sum(-1), torch.ones(3, 2))
    else:
        assert attention is None
    logits.sum().backward()
    if head == "question":  # the baseline never looks at the image
        assert all(p.grad is None for p in model.encoder.parameters())


def test_on_target_is_the_overlap_of_a_cell_and_a_box():
    assert on_target(0, (4, 4), (0.0, 0.0, 0.1, 0.1)) and not on_target(1, (4, 4), (0.0, 0.0, 0.1, 0.1))
    assert on_target(5, (4, 4), (0.3, 0.3, 0.4, 0.4)) and not on_target(15, (4, 4), (0.3, 0.3, 0.75, 0.75))


# ---------------------------------------------------------------------------------- attention supervision
def test_box_cells_match_on_target():
    # a box x in [0.3, 0.6), y in [0.1, 0.2) on a 4x4 grid (cells 0.25 wide): columns 1 and 2, row 0
    (cells,) = box_cells([(0.3, 0.1, 0.6, 0.2)], (4, 4)).tolist()
    assert [c for c in range(16) if cells[c]] == [1, 2]
    rng = random.Random(0)
    boxes = [None, (0.0, 0.0, 0.25, 0.25), (0.25, 0.5, 0.5, 1.0)]  # edges on cell borders: not overlapping
    for _ in range(50):
        x0, y0 = rng.random(), rng.random()
        boxes.append((x0, y0, rng.uniform(x0, 1), rng.uniform(y0, 1)))
    for grid in ((4, 4), (8, 8), (3, 5)):
        mask = box_cells(boxes, grid)
        assert mask.shape == (len(boxes), grid[0] * grid[1]) and not mask[0].any()
        assert all(bool(mask[i, c]) == on_target(c, grid, box)
                   for i, box in enumerate(boxes) if box is not None for c in range(grid[0] * grid[1]))  # fmt: skip
    assert box_cells([(0.0, 0.0, 0.25, 0.25)], (4, 4))[0].nonzero().flatten().tolist() == [0]


def test_attention_supervision_loss_is_zero_on_the_box_and_grows_off_it():
    cells = torch.zeros(3, 4, dtype=torch.bool)
    cells[0, 1] = cells[1, 2:] = True  # question 2 names no object
    on_box = torch.tensor([[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.3, 0.7], [1.0, 0.0, 0.0, 0.0]])
    assert float(attention_supervision_loss(on_box, cells)) == pytest.approx(0.0, abs=1e-6)
    half = torch.tensor([[0.5, 0.5, 0.0, 0.0], [0.5, 0.0, 0.25, 0.25], [1.0, 0.0, 0.0, 0.0]])
    off = torch.tensor([[0.9, 0.1, 0.0, 0.0], [0.9, 0.0, 0.05, 0.05], [1.0, 0.0, 0.0, 0.0]])
    loss_half, loss_off = float(attention_supervision_loss(half, cells)), float(attention_supervision_loss(off, cells))
    assert loss_half == pytest.approx(-math.log(0.5)) and loss_off == pytest.approx(-math.log(0.1))
    assert loss_off > loss_half > 0
    nowhere = torch.tensor([[1.0, 0.0, 0.0, 0.0]] * 3)  # no weight on the box at all: large but finite
    assert 20 < float(attention_supervision_loss(nowhere, cells)) < 30
    assert attention_supervision_loss(on_box, torch.zeros(3, 4, dtype=torch.bool)) is None  # no box: nothing


def test_attention_supervision_is_refused_without_attention_or_out_of_range():
    assert VQAModelConfig(head="attention", attention_supervision=1.0).attention_supervision == 1.0
    assert VQAModelConfig(head="relation").attention_supervision == 0.0
    with pytest.raises(InvalidValue, match="attention_supervision: expected 0 \\(off\\) unless head is attention"):
        VQAModelConfig(head="relation", attention_supervision=1.0)
    for bad in (-1.0, 1000.0, float("nan")):
        with pytest.raises(InvalidValue, match="attention_supervision: expected a number from 0"):
            VQAModelConfig(head="attention", attention_supervision=bad)


def test_training_with_attention_supervision_logs_its_loss(tmp_path, capsys):
    questions = write_questions(tmp_path / "set", 6)
    run = tmp_path / "run"
    run_cli(capsys, "train", "vqa", "--data.dataset", "files", "--data.train", questions, *TINY,
            "--model.attention_supervision", "2", "--trainer.max_steps", "2", "--trainer.max_epochs", "null",
            "--trainer.log_every", "1", *QUIET, "--output_dir", run)  # fmt: skip
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    losses = [r["attention_loss"] for r in records if r["event"] == "train"]
    assert len(losses) == 2 and all(math.isfinite(x) and x >= 0 for x in losses)


# ------------------------------------------------------------------------------------------------ CLI
def test_train_eval_and_the_ask_verb_through_the_cli(tmp_path, capsys):
    questions = write_questions(tmp_path / "set", 10)
    run = tmp_path / "run"
    run_cli(capsys, "train", "vqa", "--data.dataset", "files", "--data.train", questions, "--data.test", questions,
            *TINY, "--trainer.max_steps", "3", "--trainer.max_epochs", "null", *QUIET, "--output_dir", run)  # fmt: skip
    result = json.loads(run_cli(capsys, "eval", run, "--json"))
    assert result["task"] == "vqa" and result["questions"] == 20 and result["head"] == "attention"
    assert set(result["types"]) == {"colour", "side"} and result["types"]["side"]["questions"] == 10
    assert sum(sum(row.values()) for row in result["confusion"].values()) == 20
    assert result["attention_on_target"]["questions"] == 10 and 0 < result["attention_on_target"]["chance"] < 1
    text = run_cli(capsys, "eval", run, "--data", questions)
    assert "by type:" in text and "confusion" in text and "attention on the named object" in text

    image = tmp_path / "set" / "0.png"
    (line,) = run_cli(capsys, "ask", run, image, "--question", "what colour is the square", "--json",
                      "--top-k", "2").splitlines()
    answer = json.loads(line)
    assert answer["image"] == str(image) and answer["answer"] in {"red", "blue", "left", "right"}
    assert len(answer["top"]) == 2 and answer["top"][0]["probability"] >= answer["top"][1]["probability"]
    assert answer["unknown"] == []
    capsys.readouterr()
    assert main(["ask", str(run), str(image), "--question", "what zorblax is the square", "--attention",
                 "--out", str(tmp_path / "pictures")]) == 0
    captured = capsys.readouterr()
    assert "unknown to this model, read as <unk>: zorblax" in captured.err
    assert captured.out.startswith(f"{image}\t") and Image.open(tmp_path / "pictures" / "0-attention.png").width > 50

    for question, message in (("", "--question: expected a question with at least one word"),
                              ("?!", "--question: expected a question with at least one word"),
                              ("zorblax quux", "no word of 'zorblax quux' is known to this model")):  # fmt: skip
        assert main(["ask", str(run), str(image), "--question", question]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert main(["ask", str(run), str(questions), "--question", "what colour"]) == 2
    assert "not an image file" in capsys.readouterr().err


def test_product_head_fuses_signed_codes():
    """Antol et al.'s fusion: tanh(W v) * tanh(W' q), each code in (-1, 1) (no ReLU clipping the image code)."""
    torch.manual_seed(0)
    config = VQAModelConfig(head="product", encoder=ImageEncoderConfig(width=4, stages=2, feature_size=8),
                            question=SequenceToVectorConfig(cell="lstm", embedding_size=8, hidden_size=8,
                                                            bidirectional=False, pooling="last"),
                            question_size=8, hidden_size=16)  # fmt: skip
    model = VQAModel(config, vocab_size=20, num_answers=5, image_size=16).eval()
    seen = []
    model.answer.register_forward_pre_hook(lambda module, inputs: seen.append(inputs[0]))
    images, index, ids = torch.randn(2, 3, 16, 16), torch.tensor([0, 1]), torch.tensor([[4, 5, 6], [7, 8, 0]])
    model(images, index, ids, ids != 0)
    values = model.features(images)[index]
    q = model.question(ids, ids != 0)
    expected = torch.tanh(model.image_in(values.flatten(1))) * torch.tanh(model.question_in(q))
    torch.testing.assert_close(seen[0], expected)
    assert (torch.tanh(model.image_in(values.flatten(1))) < 0).any()
