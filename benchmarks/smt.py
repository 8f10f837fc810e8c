"""The chapter's statistical MT next to neural MT on the same de-en test split: BLEU, chrF, speed.

    python benchmarks/smt.py                                  # Model 1, Model 2, Model 2 + the Ding lexicon
    python benchmarks/smt.py --nmt runs/de-en-attn            # and a trained neural model on the same test
    python benchmarks/smt.py --data-files train.tsv valid.tsv test.tsv   # the same systems on your own pairs

Each SMT system is trained from scratch (`rnnlab train smt`, one pass: EM, the n-gram LM, the weight search on
200 valid sentences) in a temporary directory, timed by wall clock, and evaluated with `rnnlab eval` (sacrebleu
BLEU and chrF, the signatures printed). A neural run given with --nmt is only evaluated. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

from rnnlab.cli import main

SYSTEMS = {
    "SMT, IBM Model 1 + 3-gram": ["--model.model2_iterations", "0"],
    "SMT, IBM Model 2 + 3-gram": [],
    "SMT, IBM Model 2 + 3-gram, Ding lexicon": ["--data.include_phrases", "true"],
}


def _run(argv: list[str]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    if code != 0:
        sys.exit(f"rnnlab {' '.join(argv)} exited with {code}")
    return out.getvalue()


def main_(args: argparse.Namespace) -> None:
    if args.data_files:
        train, valid, test = args.data_files
        data = ["--data.dataset", "files", "--data.train", train, "--data.valid", valid, "--data.test", test]
        systems = {name: extra for name, extra in SYSTEMS.items() if "lexicon" not in name}
    else:
        data, systems = ["--data.dataset", "de-en"], SYSTEMS
    if args.only:
        systems = {name: extra for name, extra in systems.items() if any(part in name for part in args.only)}
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for index, (name, extra) in enumerate(systems.items()):
            run = Path(scratch) / f"smt-{index}"
            start = time.perf_counter()
            _run(["train", "smt", *data, *extra, "--output_dir", str(run)])
            seconds = time.perf_counter() - start
            result = json.loads(_run(["eval", str(run), "--json"]))
            rows.append((name, seconds, result))
            print(f"{name}: BLEU {result['bleu']:.2f}, chrF {result['chrf']:.2f}, trained in {seconds:.0f} s",
                  file=sys.stderr)  # fmt: skip
    for run in args.nmt:
        result = json.loads(_run(["eval", run, "--json"] + (["--data", args.data_files[2]] if args.data_files else [])))
        rows.append((f"NMT {run}", None, result))
    print(f"\n### {rows[0][2]['data']}: {rows[0][2]['sentences']} sentences\n")
    print("| system | train wall s | test BLEU | chrF | decode sent/s | unseen source words |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, seconds, r in rows:
        train = "-" if seconds is None else f"{seconds:.0f}"
        speed = r.get("sentences_per_second", "-")
        print(f"| {name} | {train} | {r['bleu']:.2f} | {r['chrf']:.2f} | {speed} | {r.get('unknown_words', '-')} |")
    print(f"\nBLEU signature: {rows[0][2]['bleu_signature']}\nchrF signature: {rows[0][2]['chrf_signature']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nmt", nargs="*", default=[], help="trained neural run directories to evaluate beside")
    parser.add_argument("--data-files", nargs=3, metavar=("TRAIN", "VALID", "TEST"),
                        help="your own pairs (TSV) instead of de-en")  # fmt: skip
    parser.add_argument("--only", nargs="*", default=[], help="run the systems whose name contains one of these "
                        "(e.g. 'Model 1' or lexicon)")  # fmt: skip
    main_(parser.parse_args())
