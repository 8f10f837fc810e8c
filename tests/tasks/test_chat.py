"""The chat task: conversation readers and their errors, the HRED's shapes, distinct-n / R@k / TF-IDF by hand,
and a tiny train + eval + chat (arguments, --input, the interactive loop fed through stdin) on fixtures."""

from __future__ import annotations

import io
import json
import math
import random
from pathlib import Path

import pytest
import torch

from rnnlab.cli import main
from rnnlab.data.dialogue import examples, parse_play, read_conversations
from rnnlab.errors import DataError
from rnnlab.nn.hred import HRED, HREDConfig, build_chat_model, last_turns
from rnnlab.tasks.chat import EncodedExample, make_chat_batch
from rnnlab.tasks.chat_metrics import distinct, recall_at_k, tfidf_scores

#: a tiny chat model (tests/test_cli_fuzz.py and tests/verb_models.py train it too)
TINY = ["--vocab.size", "60", "--model.embed_dim", "16", "--model.utterance_hidden", "16", "--model.context_hidden",
        "16", "--model.decoder_hidden", "16", "--model.persona_dim", "4", "--data.persona_min_turns", "1"]  # fmt: skip

WORDS = "hi hello how are you fine good thanks what do like dogs cats music play games today sunny rain".split()


def write_fixture(directory: Path) -> dict[str, Path]:
    rng = random.Random(0)
    paths = {}
    for name, count in (("train", 40), ("valid", 6), ("test", 6)):
        lines = []
        for _ in range(count):
            turns = [{"text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6))),
                      "speaker": "ANNA" if j % 2 else "BOB"} for j in range(rng.randint(3, 6))]  # fmt: skip
            lines.append(json.dumps({"turns": turns}))
        paths[name] = directory / f"{name}.jsonl"
        paths[name].write_text("\n".join(lines) + "\n", encoding="utf-8")
    return paths


# ------------------------------------------------------------------------------------------- readers
def test_read_jsonl_and_text(tmp_path: Path) -> None:
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text('{"turns": ["hi", {"text": "hello  there", "speaker": "ANNA"}], "id": "a"}\n\n'
                     '["one", "two", "three"]\n', encoding="utf-8")  # fmt: skip
    first, second = read_conversations(jsonl)
    assert [t.text for t in first.turns] == ["hi", "hello there"] and first.turns[1].speaker == "ANNA"
    assert first.id == "a" and second.id == f"{jsonl}:3" and len(second.turns) == 3
    text = tmp_path / "c.txt"
    text.write_text("ANNA: hi there\nhello\n\n\nBob: bye\nsee you\n", encoding="utf-8")
    a, b = read_conversations(text)
    assert (a.turns[0].speaker, a.turns[0].text, a.turns[1].speaker) == ("ANNA", "hi there", None)
    assert b.turns[0].speaker == "Bob" and len(b.turns) == 2
    assert [(len(c), r.text) for c, r in examples(second, 1)] == [(1, "two"), (1, "three")]
    assert [len(c) for c, _ in examples(second, 5)] == [1, 2]


@pytest.mark.parametrize(("content", "message"), [
    ('{"turns": ["hi"]}\n{"turns": [\n', "c.jsonl:2: not valid JSON"),
    ('{"turns": ["hi", ""]}\n', "c.jsonl:1: turn 2: empty turn"),
    ('{"turns": []}\n', "c.jsonl:1: a conversation needs at least one turn"),
    ('{"text": "hi"}\n', 'c.jsonl:1: expected an object with a "turns" list'),
    ('{"turns": [3]}\n', "c.jsonl:1: turn 1: a turn must be a string"),
    ("\n\n", "c.jsonl: no conversations"),
])  # fmt: skip
def test_reader_errors_name_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message.replace("[", r"\[")):
        read_conversations(path)
    with pytest.raises(DataError, match="no such file"):
        read_conversations(tmp_path / "missing.jsonl")


def test_parse_play_speakers_and_scenes() -> None:
    play = ("SCENE I. A room.\n\n[Enter two.]\n\nHAMLET.\nTo be, or not to be. [Aside.]\nThat is the question.\n\n"
            "Hor.\nMy lord.\n\nSCENE II. Elsewhere.\n\nFIRST WITCH.\nWhen shall we three meet?\n\n"
            "SECOND WITCH.\nWhen the hurlyburly's done.\n\nTHIRD WITCH.\nEre set of sun.\n")  # fmt: skip
    first, second = parse_play(play)
    assert [(t.speaker, t.text) for t in first] == [("HAMLET", "To be, or not to be. That is the question."),
                                                   ("HOR", "My lord.")]  # fmt: skip
    assert [t.speaker for t in second] == ["FIRST WITCH", "SECOND WITCH", "THIRD WITCH"]


# --------------------------------------------------------------------------------------------- model
def test_hred_shapes_and_padding_independence() -> None:
    torch.manual_seed(0)
    config = HREDConfig(embed_dim=8, utterance_hidden=6, context_hidden=10, decoder_hidden=12, persona_dim=4,
                        dropout=0.0, cell="lstm")  # fmt: skip
    model = HRED(30, config, personas=3, bos_id=2, eos_id=3, pad_id=0).eval()
    items = [EncodedExample([[5, 6, 7], [8]], 1, [9, 10], 0), EncodedExample([[11, 12]], 2, [13, 14, 15, 16], 1)]
    batch = make_chat_batch(items)
    assert batch["turns"].shape == (2, 2, 3) and batch["turn_lengths"].tolist() == [[3, 1], [2, 0]]
    logits = model(batch)
    assert logits.shape == (2, 5, 30)
    # the second example alone gives the same logits: padding turns and tokens never reach the model
    alone = model(make_chat_batch(items[1:]))
    torch.testing.assert_close(alone[0], logits[1], atol=1e-5, rtol=1e-5)
    # the persona embedding starts at zero (the model without personas); once learnt, it changes the output
    other = make_chat_batch([EncodedExample([[11, 12]], 1, [13, 14, 15, 16], 1)])
    torch.testing.assert_close(model(other)[0], alone[0])
    with torch.no_grad():
        model.persona.weight.normal_()
    alone = model(make_chat_batch(items[1:]))
    assert not torch.allclose(model(other)[0], alone[0])
    logits = model(batch)
    state = model.start(batch)
    step_logits, _ = model.step(torch.tensor([2, 2]), state)
    torch.testing.assert_close(step_logits, logits[:, 0], atol=1e-5, rtol=1e-5)
    ids, lengths = last_turns(batch)
    assert ids.tolist() == [[8, 0], [11, 12]] and lengths.tolist() == [1, 2]
    single = build_chat_model(HREDConfig(kind="single", embed_dim=8, utterance_hidden=6, decoder_hidden=12), 30, 1,
                              2, 3, 0)  # fmt: skip
    assert single(batch).shape == (2, 5, 30)


# ------------------------------------------------------------------------------------------- metrics
def test_metrics_by_hand() -> None:
    assert distinct(["i am fine", "i am here"], 1) == pytest.approx(4 / 6)
    assert distinct(["i am fine", "i am here"], 2) == pytest.approx(3 / 4)
    assert distinct([], 2) == 0.0
    assert recall_at_k([[-1.0, -3.0, -2.0], [-2.0, -0.5, -3.0]], 1) == 0.5
    assert recall_at_k([[-2.0, -0.5, -3.0]], 2) == 1.0
    assert recall_at_k([[-1.0, -1.0]], 1) == 0.0  # a tie is not a hit
    scores = tfidf_scores(["i like dogs"], [["dogs are great", "the weather"]], ["dogs are great", "the weather"])
    assert scores[0][0] > 0.0 and scores[0][1] == 0.0


# --------------------------------------------------------------------------------------------- CLI
def test_train_eval_chat_cli(tmp_path: Path, monkeypatch, capsys) -> None:
    paths = write_fixture(tmp_path)
    run = tmp_path / "run"
    assert main(["train", "chat", "--data.dataset", "files", "--data.train", str(paths["train"]), "--data.valid",
                 str(paths["valid"]), "--data.test", str(paths["test"]), *TINY, "--trainer.max_epochs", "2",
                 "--trainer.progress", "false", "--trainer.plot", "false", "--eval.generate_examples", "3",
                 "--output_dir", str(run)]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["eval", str(run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["ppl"] > 1.0 and 0.0 <= result["r_at_1"] <= 1.0 and "distinct_2" in result
    assert result["r_at_1_random"] == 0.1
    # replies to every conversation of a file, as JSON lines
    assert main(["chat", str(run), "--input", str(paths["test"]), "--json", "--method", "sample", "--seed", "1",
                 "--top-k", "5"]) == 0  # fmt: skip
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 6 and all("reply" in line for line in lines)
    # the interactive loop through stdin: commands, an empty line, unknown words; it never stops
    monkeypatch.setattr("sys.stdin", io.StringIO("hi there\n\n/persona anna\n/persona ZED\nxyzzy qqq\n/foo\n"
                                                 "/reset\n" + "hello " * 300 + "\n"))  # fmt: skip
    assert main(["chat", str(run), "--json", "--n-best", "2"]) == 0
    captured = capsys.readouterr()
    outputs = [json.loads(line) for line in captured.out.splitlines()]
    assert [o.get("command") for o in outputs] == [None, "persona", "persona", None, "foo", "reset", None]
    assert len(outputs[0]["candidates"]) == 2
    assert "unknown persona 'ZED'" in captured.err and "unknown command /foo" in captured.err
    assert "read as <unk>" in captured.err and "longer than data.max_len=40" in captured.err
    # bad input: one line, exit 2
    assert main(["chat", str(run), "hello", "--persona", "nobody"]) == 2
    assert "unknown persona 'nobody'" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"turns": ["hi"]}\n{"turns": 3}\n', encoding="utf-8")
    assert main(["chat", str(run), "--input", str(bad)]) == 2
    assert "bad.jsonl:2" in capsys.readouterr().err
    assert main(["chat", str(run), "hello", "--method", "greedy", "--n-best", "2"]) == 2
    # --mmi: a beam of MMI_BEAM, all of it reranked by the reverse model (here the model itself, with a warning)
    from rnnlab.tasks.chat_model import MMI_BEAM, Chatbot

    seen = []
    reply = Chatbot.reply
    monkeypatch.setattr(Chatbot, "reply", lambda self, *a, **k: seen.append(k) or reply(self, *a, **k))
    assert main(["chat", str(run), "hello there", "--mmi", str(run), "--n-best", "3", "--json"]) == 0
    captured = capsys.readouterr()
    assert seen[0]["beam_size"] == MMI_BEAM and seen[0]["n_best"] == MMI_BEAM
    scores = [c["score"] for c in json.loads(captured.out)["candidates"]]
    assert len(scores) == 3 and scores == sorted(scores, reverse=True) and "not trained with reverse" in captured.err


def test_sessions_are_bounded(monkeypatch) -> None:
    from rnnlab.tasks import chat_model
    from rnnlab.tasks.chat import ChatConfig

    monkeypatch.setattr(chat_model, "MAX_SESSIONS", 2)
    bot = chat_model.Chatbot(None, None, ["<none>"], ChatConfig())  # sessions need no model
    bot.session("a").turns.append("hi")
    bot.session("b")
    assert bot.session("a").turns == ["hi"]  # used again: now the most recent
    bot.session("c")
    assert list(bot.sessions) == ["a", "c"]


def test_ranking_by_pmi_discounts_generic_replies() -> None:
    """R@1 ranks by log p(r | c) - log p(r): a reply likely after any context ("ok") gains nothing from the
    context, while per-token likelihood prefers it to the true, specific reply."""
    from types import SimpleNamespace

    from rnnlab.data.dialogue import Conversation, Turn
    from rnnlab.tasks.chat import ChatConfig
    from rnnlab.tasks.chat_model import evaluate_chatbot

    topics = [f"topic{i}" for i in range(11)]
    conversations = [Conversation([Turn(f"tell me about {t}"), Turn(f"well {t} is nice")], id=t) for t in topics]
    conversations.append(Conversation([Turn("hello there"), Turn("ok")], id="generic"))

    def score(contexts, responses, personas=None):  # (log p, tokens): a toy model with known probabilities
        result = []
        for context, response in zip(contexts, responses):
            if response == "ok":
                result.append((-0.5, 1))  # as likely with a context as without
            elif not context:
                result.append((-8.0, 4))  # log p(r): a specific reply is unlikely out of context
            else:
                result.append((-3.0 if response.split()[1] in context[-1].split() else -6.0, 4))
        return result

    config = ChatConfig()
    config.eval.generate_examples, config.eval.ranking_examples = 0, 12
    bot = SimpleNamespace(config=config, personas=["<none>"], persona_ids={}, score=score, has_ranker=False)
    result = evaluate_chatbot(bot, conversations, "toy")
    assert result["ranking_examples"] == 12
    assert result["r_at_1"] == round(11 / 12, 4)  # every specific reply found; "ok" loses to 2 > 0
    assert result["r_at_1_likelihood"] < result["r_at_1"]  # "ok" (-0.5 a token) beats -0.75 where it is a candidate


# ------------------------------------------------------------------------------------- response ranker
def test_ranking_loss_by_hand() -> None:
    from rnnlab.tasks.chat import ranking_loss

    responses = torch.tensor([[5, 3, 0], [6, 7, 3], [5, 3, 0]])  # rows 0 and 2: the same reply
    scores = torch.tensor([[2.0, 0.0, 9.0], [0.0, 1.0, 0.0], [9.0, 0.0, 1.0]])
    loss, right = ranking_loss(scores, responses)
    # row 0 never meets row 2's identical reply as a negative (masked): softmax over (2, 0) only
    expected = torch.tensor([torch.log1p(torch.exp(torch.tensor(-2.0))), -torch.log_softmax(torch.tensor([0.0, 1.0, 0.0]), 0)[1],
                             torch.log1p(torch.exp(torch.tensor(-1.0)))]).mean()  # fmt: skip
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5) and right == 1.0
    with pytest.raises(ValueError, match="ranking_weight"):
        HREDConfig(kind="single", ranking_weight=1.0)
    with pytest.raises(ValueError, match="ranking_weight"):
        HREDConfig(ranking_weight=-1.0)


def test_ranker_scores_pairs_as_the_batch_matrix_does() -> None:
    torch.manual_seed(0)
    config = HREDConfig(embed_dim=8, utterance_hidden=6, context_hidden=10, decoder_hidden=12, dropout=0.0,
                        ranking_weight=1.0)  # fmt: skip
    model = HRED(30, config, personas=1, bos_id=2, eos_id=3, pad_id=0).eval()
    items = [EncodedExample([[5, 6, 7], [8]], 0, [9, 10], 0), EncodedExample([[11, 12]], 0, [13, 14, 15, 16], 1)]
    logits, scores = model(make_chat_batch(items), ranking=True)
    assert logits.shape == (2, 5, 30) and scores.shape == (2, 2)
    torch.testing.assert_close(model.pair_scores(make_chat_batch(items)), scores.diagonal(), atol=1e-5, rtol=1e-5)
    # context 0 against response 1: the same score alone, padding never reaching the response encoder
    crossed = make_chat_batch([EncodedExample(items[0].turns, 0, items[1].response, 0)])
    torch.testing.assert_close(model.pair_scores(crossed)[0], scores[0, 1], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="without a ranker"):
        HRED(30, HREDConfig(embed_dim=8), 1, 2, 3, 0).pair_scores(make_chat_batch(items))


def test_train_and_eval_a_chat_model_with_a_ranker(tmp_path: Path, capsys) -> None:
    paths = write_fixture(tmp_path)
    run = tmp_path / "run"
    assert main(["train", "chat", "--data.dataset", "files", "--data.train", str(paths["train"]), "--data.valid",
                 str(paths["valid"]), "--data.test", str(paths["test"]), *TINY, "--model.ranking_weight", "1",
                 "--model.ranking_tfidf", "true", "--batch_size", "8", "--trainer.max_epochs", "1", "--trainer.log_every", "2", "--trainer.progress", "false", "--trainer.plot",
                 "false", "--eval.generate_examples", "0", "--output_dir", str(run)]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["eval", str(run), "--json", "--split", "test"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert 0.0 <= result["r_at_1_ranker"] <= 1.0 and "r_at_1" in result
    from rnnlab.tasks.chat_model import load_chatbot

    assert load_chatbot(run / "best").model.idf.max() > 1.0  # the training turns' idf, saved with the weights
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert any("rank_loss" in m for m in metrics if m["event"] == "train")
    assert 0.0 <= [m for m in metrics if m["event"] == "eval"][-1]["r_at_1"] <= 1.0


def test_persona_output_shifts_every_step_by_the_speakers_bias() -> None:
    torch.manual_seed(0)
    config = HREDConfig(embed_dim=8, utterance_hidden=6, context_hidden=10, decoder_hidden=12, persona_dim=4,
                        dropout=0.0, persona_output=True)  # fmt: skip
    model = HRED(30, config, personas=3, bos_id=2, eos_id=3, pad_id=0).eval()
    items = [EncodedExample([[5, 6, 7], [8]], 1, [9, 10], 0), EncodedExample([[11, 12]], 2, [13, 14, 15, 16], 1)]
    batch = make_chat_batch(items)
    assert model.persona_output is not None and not model.persona_output.weight.any()  # starts at zero
    plain = model(batch)
    with torch.no_grad():
        model.persona_output.weight.normal_()
    shifted = model(batch)
    bias = model.persona_output(model.persona(batch["persona"]))  # (B, V): the same at every step
    torch.testing.assert_close(shifted, plain + bias.unsqueeze(1), atol=1e-5, rtol=1e-5)
    step_logits, _ = model.step(torch.tensor([2, 2]), model.start(batch))
    torch.testing.assert_close(step_logits, shifted[:, 0], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="persona_output"):
        HREDConfig(persona_output=True)


def test_ranker_tfidf_term_is_the_cosine_of_idf_weighted_counts() -> None:
    torch.manual_seed(0)
    config = HREDConfig(embed_dim=8, utterance_hidden=6, context_hidden=10, decoder_hidden=12, dropout=0.0,
                        ranking_weight=1.0, ranking_tfidf=True)  # fmt: skip
    model = HRED(12, config, personas=1, bos_id=2, eos_id=3, pad_id=0).eval()
    model.set_idf([[4, 5], [4, 6], [4, 7, 7]])  # 4 in every document: the lowest idf
    idf = lambda df: math.log(4 / (1 + df)) + 1  # noqa: E731  (scikit-learn's smooth idf, N = 3)
    assert model.idf[4].item() == pytest.approx(idf(3)) and model.idf[7].item() == pytest.approx(idf(1))
    assert model.idf[[0, 2, 3]].tolist() == [0.0, 0.0, 0.0] and model.idf[9].item() == pytest.approx(idf(0))
    items = [EncodedExample([[4, 5], [7]], 0, [5, 7, 7], 0), EncodedExample([[6]], 0, [4, 8], 1)]
    batch = make_chat_batch(items)
    _, scores = model(batch, ranking=True)
    with torch.no_grad():
        model.lexical_log_weight.fill_(-30.0)  # the lexical term switched off
        _, neural = model(batch, ranking=True)
    # context 0 ({4, 5, 7}) against response 0 ({5, 7, 7}) by hand; context 1 shares nothing with response 1
    c = {4: idf(3), 5: idf(1), 7: idf(1)}
    r = {5: idf(1), 7: 2 * idf(1)}
    cosine = sum(c[k] * r.get(k, 0) for k in c) / math.sqrt(sum(v * v for v in c.values()) * sum(v * v for v in r.values()))
    assert (scores - neural)[0, 0].item() == pytest.approx(5.0 * cosine, rel=1e-4)
    assert (scores - neural)[1, 1].item() == pytest.approx(0.0, abs=1e-6)
    torch.testing.assert_close(model.pair_scores(batch), neural.diagonal(), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="ranking_tfidf"):
        HREDConfig(ranking_tfidf=True)
