"""`rnnlab data list | fetch NAME | info NAME`: the built-in datasets (every kind) and user text corpora."""

from __future__ import annotations

import argparse
import json

from rnnlab.commands.output import add_json_flag

CACHE_HELP = "dataset cache (default $RNNLAB_CACHE or ~/.cache/rnnlab)"


def register(commands) -> None:
    # no task discovery here: the dataset registry imports the task modules and plugins (which may register
    # datasets and kinds) on its first lookup, for every caller
    parser = commands.top.add_parser("data", help="list, fetch and describe datasets")
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    listing = sub.add_parser("list", help="the built-in datasets of every kind and whether they are cached")
    listing.add_argument("--kind", help="only this kind (text, tagged, labelled, parallel, ...)")
    add_json_flag(listing)
    listing.add_argument("--cache-dir", help=CACHE_HELP)
    listing.set_defaults(handler=run_list)

    fetch = sub.add_parser("fetch", help="download, verify, parse and cache a built-in dataset")
    fetch.add_argument("name", help="a name from `rnnlab data list`")
    fetch.add_argument("--force", action="store_true", help="fetch again even if cached")
    fetch.add_argument("--cache-dir", help=CACHE_HELP)
    fetch.set_defaults(handler=run_fetch)

    info = sub.add_parser("info", help="source, licence, splits and sizes; tokens and vocabulary of text")
    info.add_argument("name", help="a built-in dataset name, or a text file, directory or glob")
    info.add_argument(
        "--tokenizer", choices=["char", "word"], help="how to count tokens (default: the dataset's level)"
    )
    info.add_argument("--cache-dir", help=CACHE_HELP)
    info.set_defaults(handler=run_info)


def _status(info: dict) -> str:
    return "embedded" if info["embedded"] else "cached" if info["cached"] else "-"


def _source(info: dict) -> str:
    return info["source"] + (" (nothing downloaded)" if info["generated"] else "")


def run_list(args: argparse.Namespace) -> int:
    from rnnlab.data.registry import dataset_info, list_datasets

    infos = [dataset_info(entry.name, args.cache_dir) for entry in list_datasets(args.kind)]
    if args.json:
        for info in infos:
            print(json.dumps(info, ensure_ascii=False))
        return 0
    rows = [("name", "kind", "level", "status", "source")]
    rows += [(i["name"], i["kind"], i["level"] or "", _status(i), _source(i)) for i in infos]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])
    if args.kind in (None, "text"):
        print("\nAlso: any UTF-8 text file, directory or glob (rnnlab data info PATH).")
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    from rnnlab.data.registry import cache_root, dataset_info, fetch_dataset
    from rnnlab.paths import check_writable

    info = dataset_info(args.name, args.cache_dir)
    if info["embedded"]:
        print(f"{info['name']} is embedded in rnnlab; nothing to fetch")
        return 0
    check_writable(cache_root(args.cache_dir), "dataset cache")
    if info["generated"]:
        print(f"generating {info['name']} here (seed {info['seed']}; nothing downloaded) ...")
    else:
        print(f"fetching {info['name']} from {info['source']} ...")
    directory = fetch_dataset(args.name, args.cache_dir, force=args.force)
    print(f"cached in {directory}: {dataset_info(args.name, args.cache_dir)['note']}")
    return 0


def _print_info(info: dict) -> None:
    from rnnlab.data.registry import GENERATED_NOTE

    print(f"{info['name']} ({info['kind']}): {info['description']}")
    print(
        f"source:  {info['source']}"
        + (f", {info['member']}" if info["member"] else "")
        + (f"; {GENERATED_NOTE}" if info["generated"] else "")
    )
    if info["sha256"]:
        print(f"sha256:  {info['sha256']}")
    print(f"licence: {info['licence']}")
    if info["attribution"]:
        print(f"attribution: {info['attribution']}")
    sizes = info["sizes"]
    if sizes:
        how = "measured at fetch" if info["sizes_measured"] else "recorded"
        print(
            f"sizes ({info['unit']}, {how}): "
            + " / ".join(f"{s} {sizes.get(s, 0):,}" for s in info["splits"])
        )
    else:
        print(f"splits:  {', '.join(info['splits'])} (sizes known after fetching)")
    if info["embedded"]:
        print("cache:   embedded in rnnlab (nothing to fetch)")
    else:
        missing = "not generated yet" if info["generated"] else "not fetched"
        print(f"cache:   {info['cache_path']} ({'cached' if info['cached'] else missing})")
    if info["note"]:
        print(("made:    " if info["generated"] else "fetched: ") + info["note"])


def run_info(args: argparse.Namespace) -> int:
    from rnnlab.data.corpora import corpus_counts, load_corpus
    from rnnlab.data.registry import dataset_info, is_registered

    info = dataset_info(args.name, args.cache_dir) if is_registered(args.name) else None
    if info is not None:
        _print_info(info)
        if not info["cached"]:
            verb = "generated" if info["generated"] else "fetched"
            print(f"not {verb} yet: run `rnnlab data fetch {info['name']}`")
            return 0
        if info["kind"] != "text":
            return 0
    corpus = load_corpus(args.name, cache_dir=args.cache_dir, download=False)
    if info is None:
        print(f"{corpus.name}: {corpus.description}")
    kind = args.tokenizer or corpus.level
    rows, vocab_size = corpus_counts(corpus, kind)
    print(
        f"\ncounted with the {kind} tokenizer ({'each line ends with </s>' if kind == 'word' else 'newlines count'})"
    )
    print(f"{'split':<6} {'characters':>12} {'tokens':>12} {'lines':>10}")
    for split, characters, tokens, lines in rows:
        print(f"{split:<6} {characters:>12,} {tokens:>12,} {lines:>10,}")
    print(f"vocabulary of train: {vocab_size - 4:,} distinct tokens (+4 specials = {vocab_size:,} ids)")
    return 0
