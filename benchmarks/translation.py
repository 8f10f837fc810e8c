"""German→English translation benchmark: rnnlab's seq2seq against JoeyNMT's RNN model, same data, same
subword vocabulary, same wall-clock training budget, on this machine, all systems training at the same time.

    python benchmarks/translation.py --budget 360 --joey-python /tmp/joeyvenv/bin/python
    python benchmarks/translation.py --budget 3600 --recipe --reverse-model runs/en-de-attn/best \
        --joey-python /tmp/joeyvenv/bin/python    # the hour of docs/translation.md

What it does
1. Loads the built-in "de-en" split (Ding example sentences, Debian trans-de-en) and trains ONE shared
   sentencepiece model (4,000 pieces) on the training pairs; both toolkits segment with it.
2. Trains rnnlab's attention model (configs/translate/de-en-attn.yaml: bi-LSTM 2x128, Bahdanau attention,
   input feeding) for `--budget` seconds of training (no validation inside the budget), then the plain
   seq2seq (no attention, same sizes) for the same budget.
3. Trains JoeyNMT 2.3.0 (installed in a separate venv beside the same torch) with the same RNN
   architecture, optimiser, lr, batch size, label smoothing and clipping: its clock starts when its
   first epoch starts; after `--budget` seconds it is interrupted (Joey then saves its weights).
4. Decodes the test split with greedy and beam 5 (alpha 1.0, GNMT penalty) and scores everything with
   the same sacrebleu call (BLEU 13a + chrF, signatures printed); reports training target tokens/s
   (target tokens incl. </s> per second of training) and beam-5 test sentences/s.
5. Noisy channel: reranks rnnlab's beam-5 5-best with a word 4-gram (modified Kneser-Ney,
   rnnlab.lm.ngram) trained on the English side of the training split, and with `--reverse-model` an en->de
   model's p(f|e) (train one with `--data.reverse true`); weights tuned on dev.

`--recipe` trains the rnnlab systems with `rnnlab train` and the shipped preset (its lr schedule, its
evaluations inside the budget, best/ by valid loss): what a user gets. Without it they train in a
constant-lr loop without evaluations, as Joey is run.

Prints a table with the ratios rnnlab / Joey. Timings on a shared 2-core CPU are noisy: compare within
one run only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from rnnlab.config import load_config
from rnnlab.data.parallel import load_builtin
from rnnlab.data.subword import SubwordVocab
from rnnlab.tasks.translation import build
from rnnlab.tasks.translation_config import TranslationConfig
from rnnlab.tasks.translator import Translator
from rnnlab.text_metrics import corpus_scores
from rnnlab.train.metrics import read_metrics

ROOT = Path(__file__).resolve().parents[1]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------ rnnlab


def train_rnnlab(config: TranslationConfig, splits, vocab: SubwordVocab, budget: float) -> tuple[Translator, dict]:
    """Adam + clipping as the Trainer does, until `budget` seconds of training have passed."""
    setup = build(config, splits, vocabs=(vocab, vocab))
    log(setup.banner)
    task, model = setup.task, setup.model
    optimizer = torch.optim.Adam(model.parameters(), lr=config.trainer.lr)
    steps = tokens = epoch = 0
    start = time.perf_counter()
    model.train()
    while time.perf_counter() - start < budget:
        for batch in task.train_batches(epoch):
            output = task.train_step(model, batch)  # on the CPU: the batch is where the model is
            optimizer.zero_grad(set_to_none=True)
            output.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.trainer.clip_grad_norm or 1e9)
            optimizer.step()
            steps, tokens = steps + 1, tokens + output.num_tokens
            if steps % 100 == 0:
                log(f"  step {steps} loss {output.loss.item():.3f} {tokens / (time.perf_counter() - start):.0f} tok/s")
            if time.perf_counter() - start >= budget:
                break
        epoch += 1
    elapsed = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        valid = task.evaluate()
    stats = {"steps": steps, "epochs": steps / len(task.batches), "train_tok_s": tokens / elapsed,
             "valid_ppl": valid["ppl"]}  # fmt: skip
    return Translator(model, vocab, vocab, config), stats


def train_recipe(config_file: Path, budget: float, work: Path, system: str, threads: int) -> tuple[Translator, dict]:
    """The shipped recipe as a user runs it: `rnnlab train` with `trainer.max_minutes` = the budget (its lr
    schedule, evaluations, early stopping and best/), then best/ is decoded. Evaluations count in the budget."""
    from rnnlab.tasks.translator import load_translator

    run = work / f"run-{system}"
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    subprocess.run([sys.executable, "-m", "rnnlab", "train", str(config_file), "--output_dir", str(run),
                    "--trainer.max_minutes", str(budget / 60), "--trainer.max_epochs", "100000",
                    "--trainer.progress", "false", "--trainer.plot", "false"], check=True, env=env)  # fmt: skip
    records = read_metrics(run / "metrics.jsonl")  # the Trainer's own reader (skips a torn last line)
    train = [r for r in records if r.get("event") == "train"]
    evals = [r for r in records if r.get("event") == "eval"]
    stats = {"steps": train[-1]["step"] if train else 0, "epochs": train[-1]["epoch"] if train else 0,
             "train_tok_s": sum(r["tokens_per_s"] for r in train) / max(len(train), 1),
             "valid_ppl": min(r["ppl"] for r in evals), "minutes": records[-1].get("wall_time", 0) / 60,
             "curve": [(r["step"], round(r["wall_time"] / 60, 1), round(r["ppl"], 1), round(r.get("bleu", 0), 2))
                       for r in evals],
             "same_vocabulary": (run / "best" / "spm.model").read_bytes() == (work / "spm.model").read_bytes()}
    return load_translator(str(run / "best")), stats


def decode_rnnlab(translator: Translator, sources: list[str], references: list[str]) -> dict:
    out = {}
    for method in ("greedy", "beam"):
        start = time.perf_counter()
        hyps = translator.translate(sources, method=method, beam_size=5, n_best=1, alpha=1.0, warn=False)
        seconds = time.perf_counter() - start
        scores = corpus_scores([h[0].text for h in hyps], references)
        out[method] = {"bleu": scores["bleu"], "chrf": scores["chrf"], "sent_s": len(sources) / seconds,
                       "signature": scores["bleu_signature"]}  # fmt: skip
    return out


# -------------------------------------------------------------------------------------------------- joey


def joey_config(work: Path, budget_config: TranslationConfig, test_mode: bool = False) -> dict:
    m = budget_config.model
    side = lambda lang: {  # noqa: E731
        "lang": lang, "level": "bpe", "lowercase": False, "max_length": budget_config.data.max_len,
        "voc_file": str(work / "vocab.txt"), "tokenizer_type": "sentencepiece",
        "tokenizer_cfg": {"model_file": str(work / "spm.model")},
    }  # fmt: skip
    rnn = {"rnn_type": m.cell, "dropout": m.dropout, "num_layers": m.encoder_layers}
    return {
        "name": "joey-rnn-de-en",
        "joeynmt_version": "2.3.0",
        "data": {
            "train": str(work / "train"), "dev": str(work / "dev_small"),
            "test": str(work / "test"), "dataset_type": "plain", "src": side("de"), "trg": side("en"),
            "special_symbols": {"unk_token": "<unk>", "unk_id": 0, "pad_token": "<pad>", "pad_id": 1,
                                "bos_token": "<s>", "bos_id": 2, "eos_token": "</s>", "eos_id": 3},
        },  # fmt: skip
        "testing": {
            "n_best": 1, "beam_size": 5, "beam_alpha": 1.0, "batch_size": 64, "batch_type": "sentence",
            "max_output_length": 2 * budget_config.data.max_len + 10, "eval_metrics": ["bleu"],
            "sacrebleu_cfg": {"tokenize": "13a"}, "load_model": str(work / "joey" / "latest.ckpt"),
        },  # fmt: skip
        "training": {
            "model_dir": str(work / "joey"), "overwrite": not test_mode, "random_seed": 0,
            "optimizer": "adam", "learning_rate": budget_config.trainer.lr, "batch_size": budget_config.batch_size,
            "batch_type": "sentence", "normalization": "tokens", "epochs": 1000, "validation_freq": 10**8,
            "logging_freq": 10, "label_smoothing": budget_config.label_smoothing, "clip_grad_norm": 1.0,
            "shuffle": True, "use_cuda": False, "scheduling": "exponential", "decrease_factor": 1.0, "keep_best_ckpts": 1, "print_valid_sents": [],
        },  # fmt: skip
        "model": {
            "tied_embeddings": False,
            "encoder": {**rnn, "type": "recurrent", "hidden_size": m.hidden_size, "bidirectional": m.bidirectional,
                        "embeddings": {"embedding_dim": m.embed_dim}},
            "decoder": {**rnn, "type": "recurrent", "hidden_size": 2 * m.hidden_size, "attention": m.attention,
                        "input_feeding": m.input_feeding, "init_hidden": "bridge", "hidden_dropout": m.dropout,
                        "embeddings": {"embedding_dim": m.embed_dim}},
        },  # fmt: skip
    }


def run_joey(python: str, work: Path, config: TranslationConfig, budget: float, threads: int, sources, references):
    import yaml

    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env["CUDA_VISIBLE_DEVICES"] = ""
    train_cfg = work / "joey_train.yaml"
    train_cfg.write_text(yaml.safe_dump(joey_config(work, config)), encoding="utf-8")
    joey_log = work / "joey_stdout.log"
    with open(joey_log, "w") as handle:
        # SIGINT default in the child: a shell's background job ignores SIGINT, and Joey only saves its
        # weights on KeyboardInterrupt.
        process = subprocess.Popen([python, "-m", "joeynmt", "train", str(train_cfg), "--skip-test"],
                                   stdout=handle, stderr=subprocess.STDOUT, env=env,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    train_log = work / "joey" / "train.log"
    deadline = time.time() + 600
    while time.time() < deadline:  # Joey's clock starts with its first epoch (after loading the data)
        if train_log.is_file() and "EPOCH 1" in train_log.read_text(errors="ignore"):
            break
        if process.poll() is not None:
            raise RuntimeError(f"JoeyNMT exited early; see {joey_log}")
        time.sleep(0.5)
    log("  Joey: first epoch started")
    time.sleep(budget)
    process.send_signal(signal.SIGINT)
    process.wait(timeout=300)
    text = train_log.read_text(errors="ignore")
    steps = int(re.findall(r"Interrupt at epoch\s+\d+, step (\d+)", text)[-1])
    rates = [float(x) for x in re.findall(r"Tokens per Sec:\s+([\d.]+)", text)]
    stats = {"steps": steps, "train_tok_s": sum(rates) / max(len(rates), 1)}
    test_cfg = work / "joey_test.yaml"
    test_cfg.write_text(yaml.safe_dump(joey_config(work, config, test_mode=True)), encoding="utf-8")
    out_prefix = work / "joey_hyp"
    subprocess.run([python, "-m", "joeynmt", "test", str(test_cfg), "--output-path", str(out_prefix)],
                   env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    text = (work / "joey" / "test.log").read_text(errors="ignore")
    seconds = float(re.findall(r"Generation took ([\d.]+)\[sec\]", text)[-1])  # the last set decoded: test
    hyps = (work / "joey_hyp.test").read_text(encoding="utf-8").splitlines()
    scores = corpus_scores(hyps, references)
    stats["beam"] = {"bleu": scores["bleu"], "chrf": scores["chrf"], "sent_s": len(sources) / seconds,
                     "signature": scores["bleu_signature"]}  # fmt: skip
    return stats


# ------------------------------------------------------------------------------------------------- main


def prepare(work: Path):
    """The split, the shared sentencepiece model and the files Joey reads; cached in `work`."""
    data = load_builtin("de-en")
    splits = data.splits
    if not (work / "spm.model").is_file():
        vocab = SubwordVocab.train([s for p in splits["train"] for s in p], 4000)
        pieces = [vocab.processor.id_to_piece(i) for i in range(len(vocab))]
        (work / "vocab.txt").write_text("".join(p + "\n" for p in pieces), encoding="utf-8")
        for split, name in (("train", "train"), ("valid", "dev"), ("test", "test")):
            for k, lang in ((0, "de"), (1, "en")):
                text = "".join(p[k] + "\n" for p in splits[split])
                (work / f"{name}.{lang}").write_text(text, encoding="utf-8")
        for k, lang in ((0, "de"), (1, "en")):
            text = "".join(p[k] + "\n" for p in splits["valid"][:50])
            (work / f"dev_small.{lang}").write_text(text, encoding="utf-8")
        (work / "spm.model").write_bytes(vocab.model_proto)
    return splits, SubwordVocab((work / "spm.model").read_bytes())


def worker(args, system: str) -> None:
    """Train and decode one rnnlab system; write its stats (and weights) into the work directory."""
    work = Path(args.workdir)
    splits, vocab = prepare(work)
    sources, references = [s for s, _ in splits["test"]], [t for _, t in splits["test"]]
    name = "de-en-attn.yaml" if system == "attn" else "de-en-plain.yaml"
    if args.recipe:
        translator, stats = train_recipe(ROOT / "configs/translate" / name, args.budget, work, system, args.threads)
    else:
        config = load_config(TranslationConfig, ROOT / "configs/translate" / name, ["eval_bleu_sentences=0"])
        translator, stats = train_rnnlab(config, splits, vocab, args.budget)
    stats.update(decode_rnnlab(translator, sources, references))
    torch.save(translator.model.state_dict(), work / f"{system}.pt")
    (work / f"{system}.json").write_text(json.dumps(stats), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=360, help="training seconds per system")
    parser.add_argument("--workdir", default="/tmp/rnnlab-mt-bench")
    parser.add_argument("--joey-python", default=None, help="python of a venv with joeynmt==2.3.0 installed")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per system")
    parser.add_argument("--systems", default="attn,joey,plain,noisy")
    parser.add_argument("--recipe", action="store_true",
                        help="train rnnlab systems with `rnnlab train` and the preset's schedule, evaluations and "
                             "best/ (default: a constant-lr loop without evaluations, as Joey is run)")
    parser.add_argument("--reverse-model", default=None,
                        help="an en->de model directory (data.reverse=true): the noisy channel's p(f|e) too")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    if args.worker:
        worker(args, args.worker)
        return 0
    systems = set(args.systems.split(","))
    splits, vocab = prepare(work)
    log(f"de-en sizes { {k: len(v) for k, v in splits.items()} }; all systems train at the same time")
    sources, references = [s for s, _ in splits["test"]], [t for _, t in splits["test"]]
    # All systems run concurrently, so they share whatever load the machine has.
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    workers = {
        system: subprocess.Popen([sys.executable, __file__, "--worker", system, "--budget", str(args.budget),
                                  "--workdir", str(work), "--threads", str(args.threads),
                                  *(["--recipe"] if args.recipe else [])], env=env)
        for system in ("attn", "plain") if system in systems
    }  # fmt: skip
    results: dict[str, dict] = {}
    base = load_config(TranslationConfig, ROOT / "configs/translate/de-en-attn.yaml", ["eval_bleu_sentences=0"])
    if "joey" in systems and args.joey_python:
        results["JoeyNMT attention"] = run_joey(args.joey_python, work, base, args.budget, args.threads, sources,
                                                references)  # fmt: skip
        log(f"Joey: {json.dumps(results['JoeyNMT attention'])}")
    labels = {"attn": "rnnlab attention", "plain": "rnnlab plain (no attention)"}
    for system, process in workers.items():
        if process.wait() != 0:
            raise RuntimeError(f"worker {system} failed")
        results[labels[system]] = json.loads((work / f"{system}.json").read_text())
    if "noisy" in systems and "attn" in workers:
        from rnnlab.tasks.translation_config import model_from_config

        if args.recipe:
            from rnnlab.tasks.translator import load_translator

            translator = load_translator(str(work / "run-attn" / "best"))
        else:
            model = model_from_config(base, vocab, vocab)
            model.load_state_dict(torch.load(work / "attn.pt"))
            translator = Translator(model.eval(), vocab, vocab, base)
        results["noisy channel"] = noisy_channel(translator, splits, references, sources, args.reverse_model)
        log(json.dumps(results["noisy channel"]))

    print(f"\n## de-en test ({len(sources)} sentences), training budget {args.budget:.0f} s each, "
          f"{args.threads} thread(s) per system, all systems run concurrently\n")  # fmt: skip
    print("| system | steps | train tok/s | valid ppl | test BLEU greedy | test BLEU beam 5 | chrF beam 5 | beam-5 sent/s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, s in results.items():
        if name == "noisy channel":
            continue
        greedy = f"{s['greedy']['bleu']:.2f}" if "greedy" in s else "-"
        ppl = f"{s['valid_ppl']:.1f}" if "valid_ppl" in s else "-"
        print(f"| {name} | {s['steps']} | {s['train_tok_s']:.0f} | {ppl} | {greedy} | {s['beam']['bleu']:.2f} | "
              f"{s['beam']['chrf']:.2f} | {s['beam']['sent_s']:.1f} |")  # fmt: skip
    ours, joey = results.get("rnnlab attention"), results.get("JoeyNMT attention")
    if ours and joey:
        print(f"\nratios rnnlab/Joey: test BLEU {ours['beam']['bleu'] / max(joey['beam']['bleu'], 1e-9):.2f}, "
              f"train tok/s {ours['train_tok_s'] / joey['train_tok_s']:.2f}, "
              f"beam-5 sent/s {ours['beam']['sent_s'] / joey['beam']['sent_s']:.2f}")  # fmt: skip
    if "noisy channel" in results:
        nc = results["noisy channel"]
        print(f"\nnoisy channel (4-gram MKN LM, weights {nc['weights']} tuned on dev): test BLEU "
              f"{nc['beam_bleu']:.2f} -> {nc['reranked_bleu']:.2f} (dev {nc['dev_beam_bleu']:.2f} -> "
              f"{nc['dev_bleu']:.2f})")  # fmt: skip
    for name, s in results.items():
        if "beam" in s:
            print(f"signature ({name}): {s['beam']['signature']}")
    return 0


def noisy_channel(translator: Translator, splits, references, sources, reverse_model: str | None = None) -> dict:
    from rnnlab.lm.ngram import NGramModel
    from rnnlab.tasks.noisy_channel import NoisyChannelReranker
    from rnnlab.tasks.translator import load_translator

    log("noisy channel: 4-gram LM on the English training side, 5-best lists of dev and test"
        + (f", reverse model {reverse_model}" if reverse_model else ""))
    lm = NGramModel.train([t for _, t in splits["train"]], order=4, smoothing="mkn")
    reranker = NoisyChannelReranker(lm, load_translator(reverse_model) if reverse_model else None)
    dev_src, dev_ref = [s for s, _ in splits["valid"]], [t for _, t in splits["valid"]]
    dev_nbest = translator.translate(dev_src, beam_size=5, n_best=5, alpha=1.0, warn=False)
    weights, dev_bleu = reranker.tune(dev_src, dev_ref, dev_nbest)
    test_nbest = translator.translate(sources, beam_size=5, n_best=5, alpha=1.0, warn=False)
    reranked = reranker.rerank(sources, test_nbest, weights)
    return {
        "weights": {"lm": weights.lm, "reverse": weights.reverse, "length": weights.length},
        "dev_beam_bleu": corpus_scores([n[0].text for n in dev_nbest], dev_ref)["bleu"],
        "dev_bleu": dev_bleu,
        "beam_bleu": corpus_scores([n[0].text for n in test_nbest], references)["bleu"],
        "reranked_bleu": corpus_scores([n[0].text for n in reranked], references)["bleu"],
    }


if __name__ == "__main__":
    sys.exit(main())
