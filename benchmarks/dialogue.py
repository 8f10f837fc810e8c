"""Dialogue: the hierarchical chat model against the single-turn baseline, TF-IDF ranking, MMI reranking,
and the persona effect on Shakespeare.

    python benchmarks/dialogue.py                       # every row (--minutes 4 per model: about 25 minutes)
    python benchmarks/dialogue.py --minutes 2 --conversations 1500 --json results.json

Rows (the issue's targets):
1. Reference perplexity on chitchat test conversations: HRED (configs/chat/chitchat_hred.yaml) vs the
   single-turn seq2seq (chitchat_single.yaml), same split, same vocabulary size; target HRED <= 0.9x single.
2. R@1 of 1-in-10 response ranking (9 distractors from other conversations, seeded, the same for every
   scorer; models rank by per-token log p(response | context)) vs TF-IDF cosine of context and response;
   target R@1 >= TF-IDF + 10 points.
3. distinct-1/2 of beam replies, plain vs MMI-reranked by a reverse model p(last turn | reply)
   (chitchat_reverse.yaml, weight 1.0) of the 20-best of a beam of 20 (the `chat --mmi` default), through the
   translation noisy-channel reranker, over `--replies` test contexts; target MMI >= 1.3x plain; the replies'
   perplexity under the forward model is printed beside it. `--mmi-sweep` adds the grid of n-best sizes and
   weights on validation and test (n-best lists decoded once, reranked by each setting).
   With `--ranker-steps N`, more rows continue the trained models for N updates at lr 1e-3 with random
   batches (`trainer.init_from` their best checkpoints): the HRED with a dual-encoder response ranker added
   (`model.ranking_weight 1`, best checkpoint by validation R@1), ranking by it; and the single-turn model
   the same way without one (so the perplexity ratio compares equal training). With `--tfidf-steps M` too,
   the ranker's best checkpoint goes on for M updates with the TF-IDF term (`model.ranking_tfidf true`).
4. Shakespeare (shakespeare_persona.yaml): reference perplexity with the speaker embedding vs the same HRED
   without it (persona_dim 0); with `--persona-output`, also with the speaker shifting the output scores
   (model.persona_output). And the persona model itself, on validation and test, told the true speaker, no
   speaker (id 0, the row trained on the rare speakers' turns) or a random known speaker: what the speaker
   it is told is worth to it, with the same weights (two trainings differ by their seed's noise too).

Every model trains through `rnnlab train` for `--minutes` (best checkpoint by validation perplexity) on the
first `--conversations` training conversations. One torch thread.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import torch

from rnnlab.cli import main as rnnlab
from rnnlab.tasks.chat import load_conversations, perplexity, text_pairs
from rnnlab.tasks.chat_metrics import distinct
from rnnlab.tasks.chat_model import MMI_BEAM, evaluate_chatbot, load_chatbot
from rnnlab.tasks.noisy_channel import NoisyChannelReranker, NoisyChannelWeights

MMI_CANDIDATES = MMI_BEAM  # MMI reranks the 20-best of a beam of 20; plain beam is the configured beam of 5


def train(config: str, out: Path, minutes: float, conversations: int, *extra: str, steps: int | None = None) -> Path:
    """Train through `rnnlab train` for `minutes` (or `steps` updates, `minutes` then only a safety cap: the
    fair budget on a machine whose load changes) unless the run is there already. With `steps`, validation
    every min(steps, 500) updates keeps the best checkpoint of a run long enough to overfit."""
    if not (out / "best" / "config.json").exists():
        code = rnnlab(["train", config, "--output_dir", str(out), "--trainer.max_minutes", str(minutes),
                       "--trainer.max_epochs", "1000", "--trainer.progress", "false", "--trainer.plot", "false",
                       "--data.max_train_conversations", str(conversations), *extra,
                       *(["--trainer.max_steps", str(steps), "--trainer.eval_every", str(min(steps, 500))] if steps else [])])  # fmt: skip
        if code:
            raise SystemExit(f"training {config} failed")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--shakespeare-minutes", type=float, default=None, help="default: --minutes")
    parser.add_argument("--steps", type=int, default=None, help="train each model for this many updates "
                        "(--minutes is then a cap); default: --minutes of training each")
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--examples", type=int, default=1500, help="test examples for perplexity")
    parser.add_argument("--ranking-examples", type=int, default=300, help="test examples for R@1 of 1-in-10")
    parser.add_argument("--replies", type=int, default=500, help="test contexts replied to for distinct-1/2")
    parser.add_argument("--mmi-sweep", action="store_true", help="also MMI's n-best size x weights grid")
    parser.add_argument("--runs", default="runs/bench-dialogue")
    parser.add_argument("--json", default=None)
    parser.add_argument("--only", choices=["chitchat", "shakespeare"], default=None)
    parser.add_argument("--ranker-steps", type=int, default=0, help="continue HRED (+ a response ranker) and "
                        "single-turn for this many updates (0: skip)")
    parser.add_argument("--persona-output", action="store_true", help="Shakespeare: also a persona model with "
                        "model.persona_output (the speaker shifting the output scores)")
    parser.add_argument("--tfidf-steps", type=int, default=0, help="then the ranker with its TF-IDF term for "
                        "this many updates (0: skip)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    runs = Path(args.runs)
    results: dict = {"minutes": args.minutes, "conversations": args.conversations}

    def evaluate(run: Path, split_conversations, reranker=None, candidates=None) -> dict:
        bot = load_chatbot(run)
        bot.config.eval.max_examples = args.examples
        bot.config.eval.ranking_examples = args.ranking_examples
        bot.config.eval.generate_examples = args.replies
        start = time.time()
        result = evaluate_chatbot(bot, split_conversations, run.name, reranker, candidates)
        result["eval_seconds"] = round(time.time() - start, 1)
        return result

    if args.only in (None, "chitchat"):
        test = load_conversations(load_chatbot_config("configs/chat/chitchat_hred.yaml").data)["test"]
        hred = train("configs/chat/chitchat_hred.yaml", runs / "hred", args.minutes, args.conversations, steps=args.steps)
        single = train("configs/chat/chitchat_single.yaml", runs / "single", args.minutes, args.conversations, steps=args.steps)
        reverse = train("configs/chat/chitchat_reverse.yaml", runs / "reverse", args.minutes, args.conversations, steps=args.steps)
        rows = {"hred": evaluate(hred, test), "single": evaluate(single, test)}
        mmi = NoisyChannelReranker(None, load_chatbot(reverse), NoisyChannelWeights(reverse=1.0, length=0.0))
        rows["hred+mmi"] = evaluate(hred, test, mmi, MMI_CANDIDATES)
        if args.ranker_steps:
            more = ["--trainer.lr", "0.001", "--batches", "random", "--trainer.save_every", "500"]
            ranker = train("configs/chat/chitchat_hred.yaml", runs / "hred-ranker", args.minutes, args.conversations,
                           "--trainer.init_from", str(hred / "best"), "--model.ranking_weight", "1",
                           "--trainer.metric", "r_at_1", "--trainer.mode", "max", *more, steps=args.ranker_steps)  # fmt: skip
            single_more = train("configs/chat/chitchat_single.yaml", runs / "single-more", args.minutes,
                                args.conversations, "--trainer.init_from", str(single / "best"), *more,
                                steps=args.ranker_steps)  # fmt: skip
            rows["hred+rank"], rows["single+"] = evaluate(ranker, test), evaluate(single_more, test)
            if args.tfidf_steps:
                tfidf = train("configs/chat/chitchat_hred.yaml", runs / "hred-ranker-tfidf", args.minutes,
                              args.conversations, "--trainer.init_from", str(ranker / "best"), "--model.ranking_weight",
                              "1", "--model.ranking_tfidf", "true", "--trainer.metric", "r_at_1", "--trainer.mode",
                              "max", *more, steps=args.tfidf_steps)  # fmt: skip
                rows["rank+tfidf"] = evaluate(tfidf, test)
        # the forward model's perplexity of the MMI replies vs the plain beam's (the price of diversity)
        bot = load_chatbot(hred)
        for name, rerank in (("hred", None), ("hred+mmi", mmi)):
            contexts = [[t.text for t in c] for c, _, _ in list(text_pairs(test, bot.config.data.max_turns))[: args.replies]]
            nbest = bot.reply(contexts, beam_size=MMI_CANDIDATES if rerank else None, n_best=MMI_CANDIDATES if rerank else 1)
            if rerank is not None:
                nbest = rerank.rerank([c[-1] for c in contexts], nbest)
            replies = [h[0].text or "." for h in nbest]
            scores = bot.score(contexts, replies)
            rows[name]["reply_ppl"] = round(perplexity(scores), 3)
        results["chitchat"] = rows
        if args.mmi_sweep:
            valid = load_conversations(bot.config.data)["valid"]
            results["mmi_sweep"] = {split: mmi_sweep(bot, mmi, conversations, args.replies)
                                    for split, conversations in (("valid", valid), ("test", test))}  # fmt: skip
        h, s, m = rows["hred"], rows["single"], rows["hred+mmi"]
        print(f"\n== chitchat test ({args.conversations} training conversations, "
              f"{f'{args.steps} updates' if args.steps else f'{args.minutes} min'} per model)")
        print(f"{'model':<10} {'ref ppl':>8} {'R@1':>6} {'R@1 lik':>7} {'ranker':>6} {'TF-IDF':>6} {'dist-1':>6} {'dist-2':>6} "
              f"{'reply ppl':>9}")  # fmt: skip
        for name, row in rows.items():
            print(f"{name:<10} {row['ppl']:>8.2f} {row.get('r_at_1', 0):>6.3f} {row.get('r_at_1_likelihood', 0):>7.3f} "
                  f"{row.get('r_at_1_ranker', float('nan')):>6.3f} {row.get('r_at_1_tfidf', 0):>6.3f} "
                  f"{row['distinct_1']:>6.3f} {row['distinct_2']:>6.3f} {row.get('reply_ppl', float('nan')):>9.2f}")  # fmt: skip
        print(f"ppl ratio hred/single = {h['ppl'] / s['ppl']:.3f} (target <= 0.9)")
        print(f"R@1 hred - TF-IDF = {100 * (h['r_at_1'] - h['r_at_1_tfidf']):+.1f} points (target >= +10)")
        if args.ranker_steps:
            r, s2 = rows["hred+rank"], rows["single+"]
            print(f"after {args.ranker_steps} more updates: ppl ratio hred+rank/single+ = {r['ppl'] / s2['ppl']:.3f} "
                  f"(target <= 0.9); R@1 by the ranker {r['r_at_1_ranker']:.3f} - TF-IDF = "
                  f"{100 * (r['r_at_1_ranker'] - r['r_at_1_tfidf']):+.1f} points (target >= +10)")  # fmt: skip
            if "rank+tfidf" in rows:
                t = rows["rank+tfidf"]
                print(f"R@1 by the ranker with its TF-IDF term {t['r_at_1_ranker']:.3f} - TF-IDF = "
                      f"{100 * (t['r_at_1_ranker'] - t['r_at_1_tfidf']):+.1f} points (target >= +10)")  # fmt: skip
        print(f"distinct MMI / beam = {m['distinct_1'] / max(h['distinct_1'], 1e-9):.2f}x / "
              f"{m['distinct_2'] / max(h['distinct_2'], 1e-9):.2f}x (target >= 1.3x)")  # fmt: skip
        for sample in h.get("samples", []):
            print(f"  > {sample['context']}\n  < {sample['reply']}\n  (reference: {sample['reference']})")
        for split, grid in results.get("mmi_sweep", {}).items():
            plain = grid.pop("plain")
            print(f"\n== MMI grid, {split} ({args.replies} contexts): plain beam distinct-1/2 {plain['distinct_1']:.3f} / "
                  f"{plain['distinct_2']:.3f}, reply ppl {plain['reply_ppl']:.2f}, {plain['length']:.1f} pieces")  # fmt: skip
            print(f"{'n-best':>6} {'w_rev':>5} {'w_len':>5} {'dist-1':>14} {'dist-2':>14} {'reply ppl':>9} {'pieces':>6}")
            for row in grid.values():
                print(f"{row['n_best']:>6} {row['reverse']:>5} {row['length']:>5} "
                      f"{row['distinct_1']:>6.3f} ({row['distinct_1'] / plain['distinct_1']:.2f}x) "
                      f"{row['distinct_2']:>6.3f} ({row['distinct_2'] / plain['distinct_2']:.2f}x) "
                      f"{row['reply_ppl']:>9.2f} {row['pieces']:>6.1f}")  # fmt: skip
            grid["plain"] = plain
    if args.only in (None, "shakespeare"):
        test = load_conversations(load_chatbot_config("configs/chat/shakespeare_persona.yaml").data)["test"]
        minutes = args.shakespeare_minutes or args.minutes
        with_p = train("configs/chat/shakespeare_persona.yaml", runs / "persona", minutes, 10**6, steps=args.steps)
        without = train("configs/chat/shakespeare_persona.yaml", runs / "no-persona", minutes, 10**6,
                        "--model.persona_dim", "0", steps=args.steps)  # fmt: skip
        rows = {"persona": evaluate(with_p, test), "no persona": evaluate(without, test)}
        if args.persona_output:
            output = train("configs/chat/shakespeare_persona.yaml", runs / "persona-output", minutes, 10**6,
                           "--model.persona_output", "true", steps=args.steps)  # fmt: skip
            rows["persona+out"] = evaluate(output, test)
        persona_bot = load_chatbot(with_p)
        splits = load_conversations(persona_bot.config.data)
        rows["ablation"] = {split: persona_ablation(persona_bot, splits[split]) for split in ("valid", "test")}
        results["shakespeare"] = rows
        budget = f"{args.steps} updates (at most {minutes:g} min)" if args.steps else f"{minutes:g} min"
        print(f"\n== shakespeare-dialogue test (scenes; {budget} per model)")
        for name, row in rows.items():
            if name != "ablation":
                print(f"{name:<11} ref ppl {row['ppl']:.2f}   R@1 {row.get('r_at_1', 0):.3f}")
        print(f"persona / no persona = {rows['persona']['ppl'] / rows['no persona']['ppl']:.3f}")
        if "persona+out" in rows:
            print(f"with the output shift (model.persona_output) {rows['persona+out']['ppl'] / rows['no persona']['ppl']:.3f}")
        print("the persona model told ...     ref ppl (all examples / those with a known speaker)")
        for split, ablation in rows["ablation"].items():
            for told, (ppl, known) in ablation.items():
                print(f"  {split:<6} {told:<22} {ppl:8.2f} / {known:8.2f}")
            true, none = ablation["the true speaker"], ablation["no speaker"]
            print(f"  {split:<6} true / none = {true[0] / none[0]:.3f} / {true[1] / none[1]:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def mmi_sweep(bot, reranker: NoisyChannelReranker, conversations, replies: int) -> dict:
    """distinct-1/2, the forward model's perplexity of the chosen replies and their length for plain beam and
    for MMI over n-best sizes x (reverse, length) weights, on the first `replies` contexts of a split. Each
    n-best list is decoded and scored by the reverse model once; the weights only reorder it."""
    pairs = list(text_pairs(conversations, bot.config.data.max_turns))[:replies]
    contexts = [[t.text for t in c] for c, _, _ in pairs]

    def summary(chosen) -> dict:
        texts = [h.text for h in chosen]
        pieces = sum(len(h.ids) for h in chosen)
        return {"distinct_1": distinct(texts, 1), "distinct_2": distinct(texts, 2), "pieces": pieces / len(chosen),
                "reply_ppl": perplexity([(h.log_prob, len(h.ids)) for h in chosen])}  # fmt: skip

    plain = summary([h[0] for h in bot.reply(contexts, n_best=1)])
    plain["length"] = plain.pop("pieces")
    grid: dict = {"plain": plain}
    for n_best in (10, 20, 30):
        nbest = bot.reply(contexts, beam_size=n_best, n_best=n_best)
        features = reranker.features([c[-1] for c in contexts], nbest)
        for reverse, length in ((0.0, 0.0), (0.5, 0.0), (1.0, 0.0), (2.0, 0.0), (1.0, 0.5), (2.0, 0.5)):
            weights = NoisyChannelWeights(reverse=reverse, length=length)
            chosen = [hyps[0] for hyps in reranker.order(nbest, features, weights)]
            grid[f"{n_best}/{reverse}/{length}"] = {"n_best": n_best, "reverse": reverse, "length": length,
                                                     **summary(chosen)}  # fmt: skip
    return grid


def persona_ablation(bot, conversations) -> dict[str, tuple[float, float]]:
    """Reference perplexity of a persona model told the true speaker of each response, no speaker, or a
    random known speaker (seeded): (over every example, over those whose speaker the model knows)."""
    from rnnlab.tasks.chat import NO_PERSONA

    pairs = list(text_pairs(conversations, bot.config.data.max_turns))
    contexts, responses = [[t.text for t in c] for c, _, _ in pairs], [r.text for _, r, _ in pairs]
    true = [bot.personas[bot.persona_ids.get(r.speaker or "", 0)] for _, r, _ in pairs]
    true = [None if p == NO_PERSONA else p for p in true]
    known = [i for i, p in enumerate(true) if p]
    rng = random.Random(0)
    shuffled = [rng.choice([true[i] for i in known]) if p else None for p in true]

    result = {}
    for told, personas in (("the true speaker", true), ("no speaker", [None] * len(true)), ("a random speaker", shuffled)):
        scores = bot.score(contexts, responses, personas)
        result[told] = (round(perplexity(scores), 3), round(perplexity([scores[i] for i in known]), 3))
    return result


def load_chatbot_config(path: str):
    from rnnlab.tasks.configs import load_task_config

    return load_task_config(None, path, [])[1]


if __name__ == "__main__":
    main()
