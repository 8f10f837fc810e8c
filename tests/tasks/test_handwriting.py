"""The `handwriting` task: stroke-3 converters, the Hershey and hanzi parsers, the MDN's log-likelihood against
torch.distributions and a direct computation, biased sampling, the soft window, the stroke-file readers' errors,
and train + eval + the `write` verb through the CLI on a fixture."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tests.cli_run import run_cli

from rnnlab.cli import main
from rnnlab.data.handwriting_sets import (
    HandwritingSet,
    hanzi_strokes,
    kanjivg_strokes,
    parse_jhf,
    resample,
    set_line,
)
from rnnlab.data.strokes import (
    StrokeSequence,
    StrokeStats,
    read_stroke_files,
    read_svg_strokes,
    stroke3_to_stroke5,
    stroke3_to_strokes,
    stroke5_to_stroke3,
    strokes_to_stroke3,
    write_stroke_npz,
)
from rnnlab.errors import CheckpointError, DataError
from rnnlab.nn.handwriting import HandwritingNet, HandwritingNetConfig, soft_window
from rnnlab.nn.mdn import MixtureDensityHead, MixtureParams, mixture_log_likelihood, sample_point
from rnnlab.tasks.handwriter import Alphabet, monotone

QUIET = ["--trainer.progress", "false", "--trainer.plot", "false", "--trainer.device", "cpu"]
TINY = ["--model.hidden_size", "8", "--model.num_layers", "2", "--model.mixtures", "3", "--model.window_mixtures",
        "2", "--model.char_embedding", "4", "--batch_size", "4"]  # fmt: skip


# ------------------------------------------------------------------------------------------- converters
def test_stroke3_round_trips_through_absolute_points_and_stroke5():
    strokes = [np.array([[1.0, 2.0], [4.0, 6.0], [4.0, 9.0]]), np.array([[10.0, 0.0], [12.0, 1.0]])]
    s3 = strokes_to_stroke3(strokes)
    assert s3.shape == (5, 3) and s3.dtype == np.float32
    assert s3[:, 2].tolist() == [0, 0, 1, 0, 1] and s3[0, :2].tolist() == [1, 2] and s3[3, :2].tolist() == [6, -9]
    back = stroke3_to_strokes(s3)
    assert len(back) == 2 and all(np.allclose(a, b) for a, b in zip(back, strokes))
    s5 = stroke3_to_stroke5(s3, 8)
    assert s5.shape == (8, 5) and s5[:5, 2:4].sum(1).tolist() == [1] * 5 and s5[5:, 4].tolist() == [1, 1, 1]
    assert np.array_equal(stroke5_to_stroke3(s5), s3)
    with pytest.raises(ValueError):
        stroke3_to_stroke5(s3, 4)
    stats = StrokeStats.fit([s3])
    normal = stats.normalise(s3)
    assert np.allclose(normal[:, :2].mean(0), 0, atol=1e-6) and np.allclose(normal[:, :2].std(0), 1, atol=1e-5)
    assert np.allclose(stats.denormalise(normal), s3, atol=1e-5)
    assert StrokeStats.from_json(json.loads(json.dumps(stats.to_json()))) == stats


def test_hershey_records_and_lines_and_hanzi_medians():
    # "A" in futural and "-" ; the second record wraps onto a continuation line
    font = parse_jhf("  501  9I[RFJ[ RRFZ[ RMTWT\n  502  3LXNRVR\n", "test")
    assert list(font) == [" ", "!"]
    left, right, strokes = font[" "]
    assert (left, right) == (-9, 9) and len(strokes) == 3 and strokes[0].tolist() == [[0, -12], [-8, 9]]
    wrapped = parse_jhf("  501  9I[RFJ[ RRFZ[\n RMTWT\n", "test")
    assert len(wrapped[" "][2]) == 3
    line = set_line("  ", font)
    glyphs = stroke3_to_strokes(line)
    assert line[:, 2].sum() == 6 and np.isclose(glyphs[3][0, 0] - glyphs[0][0, 0], 18.0)  # advanced by 9 - -9
    jittered = set_line("  ", font, random.Random(1))
    assert jittered.shape == line.shape and not np.allclose(jittered, line)
    s3 = hanzi_strokes([[[0, 900], [0, 700]], [[100, 800], [300, 800]]])
    assert s3[:, 2].sum() == 2 and stroke3_to_strokes(s3)[0][-1].tolist() == [0, 200]  # y flipped to point down
    drawn = s3[1:][s3[:-1, 2] == 0]  # steps with the pen down (the jump between strokes is one step)
    assert np.abs(drawn[:, :2]).max() <= 64 and len(s3) == 10  # long segments split into steps <= HANZI_STEP



KANJI_SVG = """<svg viewBox="0 0 109 109"><g id="kvg:StrokePaths_04e8c"><g id="kvg:04e8c" kvg:element="二">
<path id="kvg:04e8c-s2" kvg:type="㇐" d="M10.9,80 L98.1,80"/>
<path id="kvg:04e8c-s1" kvg:type="㇐" d="M21.8,30c10,0,30,0,43.6,0"/></g></g></svg>"""


def test_kanjivg_strokes_keep_the_stroke_order_and_land_on_the_hanzi_grid_in_even_steps():
    s3 = kanjivg_strokes(KANJI_SVG, "04e8c.svg")
    first, second = stroke3_to_strokes(s3)
    scale = 1024 / 109
    # s1 comes first although the file lists s2 first; 109-unit box -> 1024 grid
    assert np.allclose(first[0], [21.8 * scale, 30 * scale], atol=1e-3)
    assert np.allclose(first[-1], [65.4 * scale, 30 * scale], atol=1e-3)
    assert np.allclose(second[[0, -1]], [[10.9 * scale, 80 * scale], [98.1 * scale, 80 * scale]], atol=1e-3)
    steps = np.linalg.norm(np.diff(second, axis=0), axis=1)
    assert np.allclose(steps, steps[0]) and steps[0] <= 48  # even arc length, at most KANJIVG_STEP
    with pytest.raises(DataError, match="expected a KanjiVG character"):
        kanjivg_strokes("<svg><path d='M0,0 L1,1'/></svg>", "bad.svg")


def test_resample_keeps_the_ends_and_spaces_points_evenly_along_the_line():
    corner = np.array([[0.0, 0.0], [30.0, 0.0], [30.0, 40.0]])  # 70 units long, around a corner
    points = resample(corner, 10.0)
    assert len(points) == 8 and np.allclose(points[[0, -1]], corner[[0, -1]])
    assert np.allclose(points[3], [30.0, 0.0]) and np.allclose(points[5], [30.0, 20.0])
    assert len(resample(np.array([[5.0, 5.0], [5.0, 5.0]]), 10.0)) == 1  # a dot stays one point


def test_datasets_joined_by_plus_train_together_each_in_its_own_split(monkeypatch):
    from rnnlab.data import registry
    from rnnlab.data.registry import UnknownDatasetError
    from rnnlab.tasks.handwriting import HandwritingDataConfig, load_splits

    def one(text: str, writer: str) -> StrokeSequence:
        return StrokeSequence(text, hanzi_strokes([[[0, 900], [0, 700]]]), f"{writer} {text}")

    sets = {"hanzi": HandwritingSet([one("永", "h"), one("远", "h")], ["train", "test"], ["", ""]),
            "kanjivg": HandwritingSet([one("永", "k"), one("必", "k")], ["train", "valid"], ["", ""])}  # fmt: skip
    monkeypatch.setattr(registry, "load_dataset", lambda name: sets[name])
    splits = load_splits(HandwritingDataConfig(dataset="hanzi+kanjivg"))
    assert [s.where for s in splits["train"]] == ["h 永", "k 永"]  # two writers of one character
    assert [s.text for s in splits["valid"]] == ["必"] and [s.text for s in splits["test"]] == ["远"]
    with pytest.raises(UnknownDatasetError, match="unknown strokes dataset 'kanji'"):
        load_splits(HandwritingDataConfig(dataset="hanzi+kanji"))


# ------------------------------------------------------------------------------------------------- MDN
def random_params(batch: int = 5, m: int = 3) -> MixtureParams:
    g = torch.Generator().manual_seed(0)
    return MixtureParams(torch.randn(batch, m, generator=g), torch.randn(batch, m, 2, generator=g),
                         0.5 * torch.randn(batch, m, 2, generator=g), torch.tanh(torch.randn(batch, m, generator=g)),
                         torch.randn(batch, generator=g))  # fmt: skip


def test_mixture_log_likelihood_matches_torch_distributions_and_a_direct_computation():
    params = random_params()
    target = torch.cat([torch.randn(5, 2, generator=torch.Generator().manual_seed(1)),
                        torch.tensor([[0.0], [1.0], [1.0], [0.0], [1.0]])], dim=1)  # fmt: skip
    ours = mixture_log_likelihood(params, target)
    sigma = params.log_sigma.exp()
    cov = torch.stack([torch.stack([sigma[..., 0] ** 2, params.rho * sigma[..., 0] * sigma[..., 1]], -1),
                       torch.stack([params.rho * sigma[..., 0] * sigma[..., 1], sigma[..., 1] ** 2], -1)], -2)  # fmt: skip
    mixture = torch.distributions.MixtureSameFamily(torch.distributions.Categorical(logits=params.logits),
                                                    torch.distributions.MultivariateNormal(params.mu, cov))  # fmt: skip
    pen = torch.distributions.Bernoulli(logits=params.pen_logit)
    expected = mixture.log_prob(target[:, :2]) + pen.log_prob(target[:, 2])
    assert torch.allclose(ours, expected, atol=1e-5)
    # the textbook formula, one point by hand
    pi = torch.softmax(params.logits[0], -1)
    total = 0.0
    for j in range(3):
        (sx, sy), r = sigma[0, j].tolist(), float(params.rho[0, j])
        zx, zy = ((target[0, :2] - params.mu[0, j]) / sigma[0, j]).tolist()
        z = zx**2 + zy**2 - 2 * r * zx * zy
        total += float(pi[j]) * math.exp(-z / (2 * (1 - r**2))) / (2 * math.pi * sx * sy * math.sqrt(1 - r**2))
    e = 1 / (1 + math.exp(-float(params.pen_logit[0])))
    assert math.isclose(float(ours[0]), math.log(total) + math.log(1 - e), rel_tol=1e-5)
    # stable far out in the tails (a naive exp-then-log gives -inf)
    far = mixture_log_likelihood(params, torch.tensor([[1e3, -1e3, 0.0]]).expand(5, 3))
    assert torch.isfinite(far).all()


def test_sampling_matches_the_mixture_and_the_bias_sharpens_it():
    head = MixtureDensityHead(4, 2)
    params = head(torch.zeros(1, 4))
    with torch.no_grad():
        params = MixtureParams(torch.tensor([[2.0, 0.0]]), torch.tensor([[[1.0, 2.0], [-5.0, -5.0]]]),
                               torch.tensor([[[-1.0, -1.0], [0.0, 0.0]]]), torch.tensor([[0.5, 0.0]]),
                               torch.tensor([0.0]))  # fmt: skip
    many = MixtureParams(*(t.expand(4000, *t.shape[1:]) for t in (params.logits, params.mu, params.log_sigma,
                                                                    params.rho, params.pen_logit)))  # fmt: skip
    g = torch.Generator().manual_seed(0)
    plain = sample_point(many, 0.0, g)
    near_first = (plain[:, 0] > -2).float().mean()
    assert abs(float(near_first) - 1 / (1 + math.exp(-2))) < 0.03  # mixture weight of the first component
    assert abs(float(plain[:, 2].mean()) - 0.5) < 0.04
    sharp = sample_point(many, 5.0, g)
    assert (sharp[:, 0] > -2).all() and float(sharp[:, :2].sub(torch.tensor([1.0, 2.0])).abs().max()) < 0.2


# ---------------------------------------------------------------------------------------------- window
def test_the_soft_window_only_moves_forward():
    phi = soft_window(torch.ones(1, 1), torch.full((1, 1), 4.0), torch.tensor([[1.0]]), 3, torch.tensor([[1, 1, 0.0]]))
    assert phi.argmax().item() == 1 and phi[0, 2] == 0  # masked past the text
    torch.manual_seed(0)
    net = HandwritingNet(HandwritingNetConfig(hidden_size=8, num_layers=2, mixtures=2, window_mixtures=1,
                                              char_embedding=4), alphabet_size=6)  # fmt: skip
    text, mask = torch.tensor([[2, 3, 4, 5]]), torch.ones(1, 4)
    params, end, phi = net(torch.randn(1, 30, 3), text, mask)
    assert params.mu.shape == (1, 30, 2, 2) and end.shape == (1, 30) and phi.shape == (1, 30, 4)
    kappas = []
    state = net.initial_state(1, "cpu")
    for _ in range(30):
        net._first_layer(torch.randn(1, 1, 3), text, mask, state)
        state = net._last_state
        kappas.append(float(state[2][0, 0].detach()))
    assert all(b > a for a, b in zip(kappas, kappas[1:]))  # kappa_t = kappa_{t-1} + exp(.) > kappa_{t-1}
    assert monotone(phi[0].detach().numpy())  # one Gaussian moving forward: the argmax cannot move back
    assert monotone(np.array([[1, 0], [0.6, 0.4], [0, 1.0]])) and not monotone(np.array([[0, 1], [1, 0.0]]))
    points, phis = net.write(text, mask, max_points=12, bias=1.0, generator=torch.Generator().manual_seed(0))
    assert points[0].shape[1] == 3 and 1 <= len(points[0]) <= 12 and phis[0].shape == (len(points[0]), 4)



def test_the_normalized_window_sums_to_one_and_keeps_the_argmax():
    alpha, beta = torch.tensor([[0.5, 2.0]]), torch.tensor([[3.0, 0.5]])
    kappa, mask = torch.tensor([[1.2, 2.6]]), torch.tensor([[1, 1, 1, 1, 0.0]])
    raw = soft_window(alpha, beta, kappa, 5, mask)
    normalized = soft_window(alpha, beta, kappa, 5, mask, normalized=True)
    assert torch.allclose(normalized, raw / raw.sum(), atol=1e-6) and normalized[0, 4] == 0
    # far from every centre the plain window underflows to all zeros; the normalized one still reads the
    # nearest character with a whole unit of weight
    far = soft_window(torch.ones(1, 1), torch.full((1, 1), 50.0), torch.tensor([[40.0]]), 4, torch.ones(1, 4),
                      normalized=True)  # fmt: skip
    assert float(soft_window(torch.ones(1, 1), torch.full((1, 1), 50.0), torch.tensor([[40.0]]), 4).sum()) == 0
    assert torch.allclose(far, torch.tensor([[0.0, 0.0, 0.0, 1.0]]))
    torch.manual_seed(0)
    net = HandwritingNet(HandwritingNetConfig(hidden_size=8, num_layers=2, mixtures=2, window_mixtures=3,
                                              char_embedding=4, normalized_window=True), alphabet_size=6)  # fmt: skip
    text, mask = torch.tensor([[2, 3, 4, 5], [2, 3, 0, 0]]), torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0.0]])
    params, _, phi = net(torch.randn(2, 20, 3), text, mask)
    assert torch.allclose(phi.sum(-1), torch.ones(2, 20)) and float(phi[1, :, 2:].detach().abs().sum()) == 0
    params.mu.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)

# ---------------------------------------------------------------------------------------------- files
def test_stroke_files_read_svg_and_npz_and_refuse_broken_ones(tmp_path):
    folder = tmp_path / "svgs"
    folder.mkdir()
    (folder / "hi.svg").write_text('<svg><path d="M 0 0 L 10 0 l 0 10 M 20 0 C 20 10 30 10 30 0 Z"/>'
                                   '<polyline points="40,0 50,5"/></svg>')  # fmt: skip
    (folder / "b.svg").write_text('<svg><path d="M0,0 H 5 V 5"/></svg>')
    (folder / "texts.tsv").write_text("b.svg\tbye\n")
    items = read_stroke_files(folder)
    assert [i.text for i in items] == ["bye", "hi"]
    hi = stroke3_to_strokes(items[1].points)
    assert len(hi) == 3 and hi[0].tolist() == [[0, 0], [10, 0], [10, 10]]
    assert np.allclose(hi[1][-1], [20, 0]) and len(hi[1]) > 4  # the curve sampled, closed by Z
    assert stroke3_to_strokes(items[0].points)[0].tolist() == [[0, 0], [5, 0], [5, 5]]

    (tmp_path / "empty.svg").write_text("<svg><rect width='3' height='3'/></svg>")
    with pytest.raises(DataError, match=r"empty.svg: no <path>"):
        read_svg_strokes(tmp_path / "empty.svg")
    good = StrokeSequence("ab", strokes_to_stroke3([np.array([[0, 0], [1, 1]])]))
    write_stroke_npz(tmp_path / "ok.npz", [good, good])
    assert [s.text for s in read_stroke_files(tmp_path / "ok.npz")] == ["ab", "ab"]
    for name, bad, message in (("nan.npz", [[0, 0, 0], [np.nan, 1, 1]], r"nan.npz: sequence 2: point 2 has a NaN"),
                               ("far.npz", [[0, 0, 0], [1e9, 1, 1]], r"far.npz: sequence 2: point 2 has an absurd"),
                               ("pen.npz", [[0, 0, 0], [1, 1, 7]], r"pen-up column")):  # fmt: skip
        np.savez(tmp_path / name, points=np.concatenate([good.points, np.array(bad, dtype=np.float32)]),
                 lengths=np.array([2, 2]), texts=np.array(["ab", "cd"]))  # fmt: skip
        with pytest.raises(DataError, match=message):
            read_stroke_files(tmp_path / name)
    np.savez(tmp_path / "short.npz", points=good.points, lengths=np.array([1, 1]), texts=np.array(["a", "b"]))
    with pytest.raises(DataError, match="at least 2 pen points"):
        read_stroke_files(tmp_path / "short.npz")
    with pytest.raises(DataError, match="expected arrays points"):
        np.savez(tmp_path / "keys.npz", x=np.zeros(3))
        read_stroke_files(tmp_path / "keys.npz")


# ------------------------------------------------------------------------------------------------- CLI
def letters_npz(path, count: int = 12):
    """`count` tiny 'texts' of the letters a, b, c written as little zig-zags (one stroke per letter)."""
    rng = np.random.default_rng(0)
    shapes = {"a": [[0, 0], [2, 4], [4, 0]], "b": [[0, 4], [0, 0], [3, 2]], "c": [[3, 0], [0, 2], [3, 4]]}
    items = []
    for k in range(count):
        text = "".join(rng.choice(list("abc"), size=1 + k % 3))
        strokes = [np.array(shapes[c], float) + [6 * i, 0] + rng.normal(0, 0.1, (3, 2)) for i, c in enumerate(text)]
        items.append(StrokeSequence(text, strokes_to_stroke3(strokes)))
    write_stroke_npz(path, items)
    return path


def test_train_eval_and_the_write_verb_through_the_cli(tmp_path, capsys):
    data = letters_npz(tmp_path / "letters.npz")
    run = tmp_path / "run"
    run_cli(capsys, "train", "handwriting", "--data.dataset", "files", "--data.train", data, "--data.test", data,
            *TINY, "--trainer.max_steps", "3", "--trainer.max_epochs", "null", *QUIET, "--output_dir", run)  # fmt: skip
    result = json.loads(run_cli(capsys, "eval", run, "--json"))
    assert result["task"] == "handwriting" and result["sequences"] == 12 and result["conditional"]
    assert result["points"] > 12 * 3 and math.isfinite(result["nll_per_point"])
    assert math.isclose(result["nll_per_sequence"] * 12, result["nll_per_point"] * result["points"], rel_tol=1e-6)
    assert "nats per sequence" in run_cli(capsys, "eval", run, "--data", data)

    out = tmp_path / "written"
    lines = run_cli(capsys, "write", run, "abc", "ca", "--bias", "1", "--seed", "3", "--max-points", "40",
                    "--json", "--out", out).splitlines()  # fmt: skip
    results = [json.loads(line) for line in lines if "text" in json.loads(line)]
    assert [r["text"] for r in results] == ["abc", "ca"] and all(1 <= r["points"] <= 40 for r in results)
    assert all(isinstance(r["window_monotone"], bool) for r in results)
    assert {p.name for p in out.iterdir()} == {f"{n}{e}" for n in ("1-abc", "2-ca")
                                               for e in (".svg", ".png", ".gif", "-window.png")}  # fmt: skip
    gif = Image.open(out / "1-abc.gif")
    assert gif.format == "GIF" and gif.n_frames > 1
    assert (out / "1-abc.svg").read_text().startswith("<svg") and Image.open(out / "1-abc-window.png").format == "PNG"
    again = run_cli(capsys, "write", run, "abc", "--bias", "1", "--seed", "3", "--max-points", "40", "--json", "--out",
                    tmp_path / "again")  # fmt: skip
    assert json.loads(again.splitlines()[0]) == results[0]  # seeded

    assert main(["write", str(run), "abz", "cQ"]) == 2
    assert "never saw 'z'" in capsys.readouterr().err
    assert main(["write", str(run), "  "]) == 2
    assert "empty" in capsys.readouterr().err
    assert main(["write", str(run), "ab", "--bias", "-1"]) == 2
    assert main(["write", str(run), "ab", "--max-points", "0"]) == 2


def test_an_unconditional_model_writes_without_a_window(tmp_path, capsys):
    data = letters_npz(tmp_path / "letters.npz", 6)
    run = tmp_path / "free"
    run_cli(capsys, "train", "handwriting", "--data.dataset", "files", "--data.train", data, *TINY,
            "--model.conditional", "false", "--trainer.max_steps", "2", "--trainer.max_epochs", "null", *QUIET,
            "--output_dir", run)  # fmt: skip
    out = run_cli(capsys, "write", run, "anything", "--max-points", "20", "--json", "--out", tmp_path / "o")
    line = out.splitlines()[0]
    assert "window_monotone" not in json.loads(line) and json.loads(line)["points"] <= 20


def test_bad_stroke_data_is_one_line(tmp_path, capsys):
    folder = tmp_path / "svgs"
    folder.mkdir()
    (folder / "x.svg").write_text("<svg></svg>")
    assert main(["train", "handwriting", "--data.dataset", "files", "--data.train", str(folder), *QUIET,
                 "--output_dir", str(tmp_path / "r")]) != 0  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert "x.svg: no <path>" in err and "Traceback" not in err


def test_a_model_of_single_characters_writes_a_longer_text_one_character_at_a_time(tmp_path, capsys):
    rng = np.random.default_rng(1)
    items = [StrokeSequence(c, strokes_to_stroke3([np.array([[0, 0], [2, 4], [4, 0]], float) + rng.normal(0, 0.1, (3, 2))]))
             for c in "abcabcabc"]  # fmt: skip
    write_stroke_npz(tmp_path / "chars.npz", items)
    run = tmp_path / "chars"
    run_cli(capsys, "train", "handwriting", "--data.dataset", "files", "--data.train", tmp_path / "chars.npz", *TINY,
            "--trainer.max_steps", "2", "--trainer.max_epochs", "null", *QUIET, "--output_dir", run)  # fmt: skip
    from rnnlab.tasks.handwriter import load_handwriter

    writer = load_handwriter(run)
    assert writer.alphabet.single and writer.alphabet.chars_per_text == 1.0
    # one character gets the room of one training text (a user's files, not only hanzi: it used to go by the name)
    assert writer.default_max_points("a") == min(5000, max(100, int(1.5 * writer.config.data.max_points)))
    lines = Alphabet.build(["ab", "abcd"])
    assert lines.chars_per_text == 3.0 and Alphabet(lines.chars).chars_per_text == 8.0  # saved before it was stored
    s3, phi = writer.write("abc", bias=1.0, max_points=10)
    parts = [writer.write(c, bias=1.0, seed=i, max_points=10)[0] for i, c in enumerate("abc")]
    assert len(s3) == sum(len(p) for p in parts) and phi.shape == (len(s3), 3) and monotone(phi)
    assert s3[:, 2].sum() == sum(p[:, 2].sum() for p in parts)  # the same strokes, placed side by side
    from rnnlab.paths import resolve_model_dir

    alphabet_file = Path(resolve_model_dir(run)) / "alphabet.json"
    saved = alphabet_file.read_text(encoding="utf-8")
    assert '"chars_per_text": 1.0' in saved
    alphabet_file.write_text(saved.replace('"chars_per_text": 1.0', '"chars_per_text": -1'), encoding="utf-8")
    with pytest.raises(CheckpointError, match="alphabet.json"):  # a corrupt room size is named at load
        load_handwriter(run)


def test_input_noise_moves_the_offsets_only():
    from rnnlab.tasks.handwriting import HandwritingConfig, noisy_offsets

    torch.manual_seed(0)
    inputs = torch.cat([torch.tensor([[[0.0, 0.0, 1.0]]]).expand(4, 1, 3), torch.randn(4, 50, 3)], dim=1)
    noisy = noisy_offsets(inputs, 0.5)
    assert torch.equal(noisy[:, 0], inputs[:, 0]) and torch.equal(noisy[..., 2], inputs[..., 2])  # start, pen bits
    moved = (noisy - inputs)[:, 1:, :2]
    assert moved.std().item() == pytest.approx(0.5, rel=0.1) and moved.mean().abs().item() < 0.1
    with pytest.raises(ValueError, match="input_noise"):
        HandwritingConfig(input_noise=-1.0)


def test_the_gated_window_reads_as_much_as_its_gate_and_keeps_the_shape():
    torch.manual_seed(0)
    net = HandwritingNet(HandwritingNetConfig(hidden_size=8, num_layers=2, mixtures=2, window_mixtures=3,
                                              char_embedding=4, gated_window=True), alphabet_size=6)  # fmt: skip
    h = torch.randn(5, 8)
    alpha, beta, step = net.window_params(h)
    gate = torch.sigmoid(net.window(h)[:, 9])
    assert torch.allclose(alpha.sum(-1), gate, atol=1e-6) and (beta > 0).all() and (step > 0).all()
    # turning the gate down scales phi and leaves its argmax where it was
    kappa = torch.tensor([[0.4, 1.7, 2.2]]).expand(5, 3)
    full = soft_window(alpha / gate.unsqueeze(-1), beta, kappa, 4)
    assert torch.allclose(soft_window(alpha, beta, kappa, 4), full * gate.unsqueeze(-1), atol=1e-6)
    text, mask = torch.tensor([[2, 3, 4, 5]]), torch.ones(1, 4)
    _, _, phi = net(torch.randn(1, 20, 3), text, mask)
    assert phi.shape == (1, 20, 4) and float(phi.detach().sum(-1).max()) <= 3.0  # each Gaussian's peak is <= its weight
    points, _ = net.write(text, mask, max_points=8, generator=torch.Generator().manual_seed(0))
    assert 1 <= len(points[0]) <= 8
    with pytest.raises(ValueError, match="gated_window"):
        HandwritingNetConfig(gated_window=True, normalized_window=True)


def test_a_window_spread_holds_the_centres_together_and_still_only_forward():
    torch.manual_seed(0)
    config = dict(hidden_size=8, num_layers=2, mixtures=2, window_mixtures=3, char_embedding=4)
    free = HandwritingNet(HandwritingNetConfig(**config), alphabet_size=6)
    tied = HandwritingNet(HandwritingNetConfig(**config, window_max_spread=0.5), alphabet_size=6)
    kappa = torch.tensor([[1.0, 1.2, 1.5], [2.0, 2.1, 2.2]])
    step = torch.tensor([[0.1, 0.5, 0.5], [0.3, 0.3, 0.0]])
    assert torch.equal(free.advance(kappa, step), kappa + step)  # Graves' free centres
    # row 0: the slowest goes to 1.1, so no centre may pass 1.6 (the third one was at 1.5 and stops at 1.6);
    # row 1: the slowest is now the third at 2.2; the others are within 0.5 of it and move freely
    assert torch.allclose(tied.advance(kappa, step), torch.tensor([[1.1, 1.6, 1.6], [2.3, 2.4, 2.2]]))
    # a centre already past the ceiling (a state not started together) stays where it was: never back
    assert torch.equal(tied.advance(torch.tensor([[0.0, 0.9]]), torch.tensor([[0.0, 0.2]])), torch.tensor([[0.0, 0.9]]))
    tied.load_state_dict(free.state_dict())
    text, mask = torch.tensor([[2, 3, 4, 5]]), torch.ones(1, 4)
    _, _, phi = tied(torch.randn(1, 30, 3), text, mask)
    centres = tied._last_state[2]
    assert (centres.max(-1).values - centres.min(-1).values <= 0.5 + 1e-6).all() and phi.shape == (1, 30, 4)
    for spread in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="window_max_spread"):
            HandwritingNetConfig(window_max_spread=spread)


def test_window_labels_name_cjk_characters_by_code_point_when_no_font_can_draw_them():
    from rnnlab.tasks.handwriting_draw import window_labels

    assert window_labels("a永 ", cjk_font=False) == ["a", "U+6C38", " "]
    assert window_labels("a永", cjk_font=True) == ["a", "永"]


def test_the_window_can_start_one_position_before_the_first_character():
    torch.manual_seed(0)
    config = dict(hidden_size=8, num_layers=2, mixtures=2, window_mixtures=3, char_embedding=4)
    on_first = HandwritingNet(HandwritingNetConfig(**config), alphabet_size=6)
    before = HandwritingNet(HandwritingNetConfig(**config, window_start=-1.0), alphabet_size=6)
    assert torch.equal(on_first.initial_state(2, "cpu")[2], torch.zeros(2, 3))
    assert torch.equal(before.initial_state(2, "cpu")[2], torch.full((2, 3), -1.0))
    before.load_state_dict(on_first.state_dict())
    text, mask = torch.tensor([[2, 3, 4, 5]]), torch.ones(1, 4)
    x = torch.zeros(1, 1, 3)
    _, _, phi_on = on_first(x, text, mask)
    _, _, phi_before = before(x, text, mask)
    # the same first step (same weights, same input) taken from one position further back
    a, beta, step = on_first.window_params(on_first._last_state[0])
    assert torch.allclose(phi_on[0, 0], soft_window(a, beta, step, 4)[0], atol=1e-6)
    assert torch.allclose(phi_before[0, 0], soft_window(a, beta, step - 1.0, 4)[0], atol=1e-6)
    assert int(phi_before[0, 0].argmax()) == 0  # a small first step leaves the first character the nearest
    for start in (0.5, -11.0, float("nan")):
        with pytest.raises(ValueError, match="window_start"):
            HandwritingNetConfig(window_start=start)


@pytest.mark.parametrize("conditional", [True, False])
def test_the_pen_position_input_is_the_running_sum_and_writing_feeds_the_same(conditional):
    torch.manual_seed(0)
    net = HandwritingNet(HandwritingNetConfig(hidden_size=8, num_layers=2, mixtures=2, window_mixtures=2,
                                              char_embedding=4, conditional=conditional, position_input=True),
                         alphabet_size=6)  # fmt: skip
    net.set_position_frame((1.0, -2.0), (2.0, 4.0), (10.0, 5.0))
    inputs = torch.cat([torch.tensor([[[0.0, 0.0, 1.0]]]), torch.randn(1, 6, 3)], dim=1)
    raw = inputs[..., :2] * torch.tensor([2.0, 4.0]) + torch.tensor([1.0, -2.0])  # de-normalised offsets
    raw[:, 0] = 0  # the start point is no offset
    expected = raw.cumsum(1) / torch.tensor([2.0, 4.0]) / torch.tensor([10.0, 5.0])
    assert torch.allclose(net.pen_positions(inputs), expected, atol=1e-6)
    # what the net saw while writing equals a teacher-forced pass over what it wrote
    text, mask = (torch.tensor([[2, 3]]), torch.ones(1, 2)) if conditional else (None, None)
    seen = []
    hook = net.head.register_forward_hook(lambda module, args, out: seen.append(out.mu.reshape(-1, 2, 2)))
    points, _ = net.write(text, mask, max_points=10, bias=0.5, generator=torch.Generator().manual_seed(1),
                          window_stop=False)  # fmt: skip
    hook.remove()
    written = points[0].unsqueeze(0)
    forced = torch.cat([torch.tensor([[[0.0, 0.0, 1.0]]]), written[:, :-1]], dim=1)
    params, _, _ = net(forced, text, mask)
    assert torch.allclose(params.mu[0], torch.cat(seen)[: written.shape[1]], atol=1e-5)
    state = net.state_dict()
    assert torch.equal(state["position_frame"], net.position_frame)  # saved with the weights
    assert "position_frame" not in HandwritingNet(HandwritingNetConfig(), alphabet_size=6).state_dict()


def test_a_model_with_pen_positions_trains_saves_its_frame_and_writes(tmp_path, capsys):
    from rnnlab.tasks.handwriter import load_handwriter

    data = letters_npz(tmp_path / "letters.npz")
    run = tmp_path / "run"
    run_cli(capsys, "train", "handwriting", "--data.dataset", "files", "--data.train", data, *TINY,
            "--model.position_input", "true", "--model.gated_window", "true", "--input_noise", "0.2",
            "--trainer.max_steps", "3", "--trainer.max_epochs", "null", *QUIET, "--output_dir", run)  # fmt: skip
    writer = load_handwriter(run / "last")
    frame = writer.model.position_frame
    drift = [m / s for m, s in zip(writer.stats.mean, writer.stats.std)]
    assert torch.allclose(frame[0], torch.tensor(drift)) and (frame[1] > 0).all() and (frame[1] != 1).all()
    lines = run_cli(capsys, "write", run / "last", "abc", "--seed", "1", "--max-points", "30", "--json", "--out",
                    tmp_path / "art").splitlines()  # fmt: skip
    assert 1 <= json.loads(lines[0])["points"] <= 30


@pytest.mark.parametrize("conditional,position", [(True, True), (True, False), (False, True)])
def test_self_feeding_none_is_teacher_forcing(conditional, position):
    from rnnlab.nn.handwriting import SelfFeed

    torch.manual_seed(0)
    net = HandwritingNet(HandwritingNetConfig(hidden_size=8, num_layers=2, mixtures=2, window_mixtures=2,
                                              char_embedding=4, conditional=conditional, position_input=position),
                         alphabet_size=6)  # fmt: skip
    if position:
        net.set_position_frame((0.5, -1.0), (2.0, 4.0), (10.0, 5.0))
    inputs = torch.cat([torch.tensor([[0.0, 0.0, 1.0]]).expand(3, 1, 3), torch.randn(3, 9, 3)], dim=1)
    text, mask = torch.tensor([[2, 3], [4, 5], [2, 5]]), torch.ones(3, 2)
    params, end, phi = net(inputs, text, mask)
    fed, fed_end, fed_phi = net(inputs, text, mask, self_feed=SelfFeed(0.0))
    assert torch.allclose(fed.mu, params.mu, atol=1e-5) and torch.allclose(fed_end, end, atol=1e-5)
    assert (phi is None) == (fed_phi is None) and (phi is None or torch.allclose(fed_phi, phi, atol=1e-6))


def test_self_feeding_every_step_is_teacher_forcing_on_what_the_net_wrote(monkeypatch):
    """The net is made to write the offset (0.3, -0.2) at every step: fed its own points at every step, it
    reads those offsets with the real pen bits, and the pen positions they add up to."""
    from rnnlab.nn import handwriting
    from rnnlab.nn.handwriting import SelfFeed

    written = torch.tensor([0.3, -0.2, 1.0])
    monkeypatch.setattr(handwriting, "sample_point", lambda params, bias=0.0, generator=None:
                        written.expand(params.mu.shape[0], 3))  # fmt: skip
    torch.manual_seed(1)
    net = HandwritingNet(HandwritingNetConfig(hidden_size=8, num_layers=2, mixtures=2, window_mixtures=2,
                                              char_embedding=4, position_input=True), alphabet_size=6)  # fmt: skip
    net.set_position_frame((0.5, -1.0), (2.0, 4.0), (10.0, 5.0))
    inputs = torch.cat([torch.tensor([[[0.0, 0.0, 1.0]]]), torch.randn(1, 6, 3)], dim=1)
    inputs[..., 2] = (inputs[..., 2] > 0).float()
    text, mask = torch.tensor([[2, 3]]), torch.ones(1, 2)
    fed, fed_end, _ = net(inputs, text, mask, self_feed=SelfFeed(1.0))
    own = inputs.clone()
    own[:, 1:, :2] = written[:2]
    params, end, _ = net(own, text, mask)  # positions from the offsets it wrote
    assert torch.allclose(fed.mu, params.mu, atol=1e-5) and torch.allclose(fed_end, end, atol=1e-5)


def test_scheduled_sampling_trains_through_the_cli_and_refuses_bad_shares(tmp_path, capsys):
    from rnnlab.tasks.handwriter import load_handwriter
    from rnnlab.tasks.handwriting import HandwritingConfig

    data = letters_npz(tmp_path / "letters.npz")
    run = tmp_path / "run"
    run_cli(capsys, "train", "handwriting", "--data.dataset", "files", "--data.train", data, *TINY,
            "--model.position_input", "true", "--scheduled_sampling", "0.5",
            "--trainer.max_steps", "3", "--trainer.max_epochs", "null", *QUIET, "--output_dir", run)  # fmt: skip
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(math.isfinite(m["loss"]) for m in metrics if "loss" in m)
    s3, _ = load_handwriter(run / "last").write("ab", seed=0, max_points=20)
    assert 1 <= len(s3) <= 20
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="scheduled_sampling"):
            HandwritingConfig(scheduled_sampling=bad)
    with pytest.raises(ValueError, match="input_noise is set"):
        HandwritingConfig(scheduled_sampling=0.5, input_noise=0.1)


def test_affine_jitter_redraws_a_writing_through_one_near_identity_map():
    from rnnlab.tasks.handwriting import jittered

    s3 = strokes_to_stroke3([np.array([[10.0, 5.0], [30.0, 5.0], [30.0, 40.0]]), np.array([[12.0, 20.0], [25.0, 22.0]])])
    assert np.array_equal(jittered(s3, 0.0, np.random.default_rng(0)), s3)
    again = jittered(s3, 0.2, np.random.default_rng(3))
    assert np.array_equal(again, jittered(s3, 0.2, np.random.default_rng(3)))  # seeded
    assert np.array_equal(again[:, 2], s3[:, 2]) and not np.allclose(again, s3)
    before, after = np.cumsum(s3[:, :2], 0), np.cumsum(again[:, :2], 0)  # absolute pen positions
    linear, *_ = np.linalg.lstsq(before, after, rcond=None)
    assert np.allclose(before @ linear, after, atol=1e-3)  # the whole writing moved by one linear map
    assert np.abs(linear - np.eye(2)).max() <= 0.2 * 1.2 * 2 + 1e-6  # near the identity: rotation + shear + scale


def test_affine_jitter_is_drawn_per_batch_and_epoch_and_trains_through_the_cli(tmp_path, capsys):
    from rnnlab.tasks.handwriting import HandwritingConfig, build

    data = letters_npz(tmp_path / "letters.npz")
    config = HandwritingConfig(affine_jitter=0.2)
    config.data.dataset, config.data.train = "files", str(data)
    config.model.hidden_size, config.model.mixtures, config.model.window_mixtures = 8, 3, 2
    task = build(config).task
    first = task.train_batches(0)[0]
    assert torch.equal(first[0], task.train_batches(0)[0][0])  # the same batch of the same epoch: the same hands
    assert not torch.equal(task.encode([0, 1], epoch=0)[0], task.encode([0, 1], epoch=1)[0])  # new hands each epoch
    plain = build(HandwritingConfig(data=config.data, model=config.model)).task
    assert not torch.allclose(first[0], plain.train_batches(0)[0][0])
    assert torch.equal(first[0][..., 2], plain.train_batches(0)[0][0][..., 2])  # pen bits untouched
    run = tmp_path / "run"
    run_cli(capsys, "train", "handwriting", "--data.dataset", "files", "--data.train", data, *TINY,
            "--affine_jitter", "0.1", "--trainer.max_steps", "3", "--trainer.max_epochs", "null", *QUIET,
            "--output_dir", run)  # fmt: skip
    assert (run / "last" / "model.safetensors").exists()
    for bad in (-0.1, 0.6):
        with pytest.raises(ValueError, match="affine_jitter"):
            HandwritingConfig(affine_jitter=bad)


def test_the_backward_window_shift_is_the_mass_moved_back_and_ignores_scale_padding_and_underflow():
    from rnnlab.nn.handwriting import backward_window_shift

    ones = torch.ones(1, 4)
    reading = torch.tensor([[[1.0, 0, 0], [0.5, 0.5, 0], [0, 1, 0], [0, 0, 1]]])  # one character after another
    assert backward_window_shift(reading, ones).item() == 0.0
    # half the mass goes back two characters: F = [0, 0, 1] then [0.5, 0.5, 1], so 0.5 + 0.5 = 1 (by hand)
    back = torch.tensor([[[0, 0, 2.0], [1.0, 0, 1.0]]])
    assert backward_window_shift(back, ones[:, :2]).item() == pytest.approx(1.0)
    # only the shape counts: a window turned down to a thousandth moves back as far
    assert backward_window_shift(back * 1e-3, ones[:, :2]).item() == pytest.approx(1.0)
    # a step past the row's end, or one whose weights all underflow, is not compared with its neighbours
    assert backward_window_shift(back, torch.tensor([[1.0, 0.0]])).item() == 0.0
    assert backward_window_shift(torch.cat([back, torch.zeros(1, 1, 3)], 1), torch.ones(1, 3)).item() == pytest.approx(1.0)
    # the gradient exists and is finite for turned-down windows (it pushes the back mass forward)
    phi = (back * 1e-3).requires_grad_(True)
    backward_window_shift(phi, ones[:, :2]).sum().backward()
    assert torch.isfinite(phi.grad).all() and phi.grad[0, 1, 0] > 0 > phi.grad[0, 1, 2]


def test_the_window_backward_penalty_adds_the_shift_to_the_training_loss_only(tmp_path):
    from rnnlab.nn.handwriting import backward_window_shift
    from rnnlab.tasks.handwriting import HandwritingConfig, build

    data = letters_npz(tmp_path / "letters.npz")
    losses, model = {}, None
    for weight in (0.0, 2.0):
        config = HandwritingConfig(window_backward_penalty=weight)
        config.data.dataset, config.data.train = "files", str(data)
        config.model.hidden_size, config.model.mixtures, config.model.window_mixtures = 8, 3, 2
        torch.manual_seed(0)
        setup = build(config)
        model = setup.model if model is None else model  # the same net scores both losses
        batch = setup.task.train_batches(0)[0]
        losses[weight] = setup.task.train_step(model, batch)
    inputs, _, mask, text, text_mask = batch
    _, _, phi = model(inputs, text, text_mask)
    shift = backward_window_shift(phi, mask).sum() / mask.sum()
    assert shift > 0  # an untrained window does move back somewhere
    assert losses[2.0].loss.item() == pytest.approx(losses[0.0].loss.item() + 2.0 * shift.item(), rel=1e-5)
    assert losses[2.0].metrics["window_back"] == pytest.approx(shift.item(), rel=1e-5)
    assert "window_back" not in losses[0.0].metrics
    for bad in (-1, 101):
        with pytest.raises(ValueError, match="window_backward_penalty"):
            HandwritingConfig(window_backward_penalty=bad)
    with pytest.raises(ValueError, match="0 for an unconditional model"):
        HandwritingConfig(window_backward_penalty=1, model=HandwritingNetConfig(conditional=False))
