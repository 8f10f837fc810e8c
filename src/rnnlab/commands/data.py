"""`rnnlab data list | fetch NAME | info NAME`: the built-in datasets and user text corpora."""

from __future__ import annotations

import argparse


def register(commands) -> None:
    parser = commands.top.add_parser("data", help="list, fetch and describe datasets")
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    listing = sub.add_parser("list", help="the built-in datasets and whether they are cached")
    listing.add_argument("--cache-dir", help="dataset cache (default $RNNLAB_CACHE or ~/.cache/rnnlab)")
    listing.set_defaults(handler=run_list)

    fetch = sub.add_parser("fetch", help="download, verify, parse and cache a built-in dataset")
    fetch.add_argument("name", help="a name from `rnnlab data list`")
    fetch.add_argument("--force", action="store_true", help="fetch again even if cached")
    fetch.add_argument("--cache-dir", help="dataset cache (default $RNNLAB_CACHE or ~/.cache/rnnlab)")
    fetch.set_defaults(handler=run_fetch)

    info = sub.add_parser("info", help="sizes per split, vocabulary size, source and licence")
    info.add_argument("name", help="a built-in dataset name, or a text file, directory or glob")
    info.add_argument(
        "--tokenizer", choices=["char", "word"], help="how to count tokens (default: the dataset's level)"
    )
    info.add_argument("--cache-dir", help="dataset cache (default $RNNLAB_CACHE or ~/.cache/rnnlab)")
    info.set_defaults(handler=run_info)


def run_list(args: argparse.Namespace) -> int:
    from rnnlab.data.corpora import is_cached, list_datasets

    rows = [("name", "level", "status", "source")]
    for info in list_datasets():
        status = "embedded" if info.embedded else "cached" if is_cached(info.name, args.cache_dir) else "-"
        rows.append((info.name, info.level, status, info.source))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[3])
    print("\nAlso: any UTF-8 text file, directory or glob (rnnlab data info PATH).")
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    from rnnlab.data.corpora import cached_note, dataset_info, fetch

    info = dataset_info(args.name)
    if info.embedded:
        print(f"{info.name} is embedded in rnnlab; nothing to fetch")
        return 0
    print(f"fetching {info.name} from {info.source} ...")
    directory = fetch(args.name, args.cache_dir, force=args.force)
    print(f"cached in {directory}: {cached_note(args.name, args.cache_dir)}")
    return 0


def run_info(args: argparse.Namespace) -> int:
    from rnnlab.data.corpora import DATASETS, SPLITS, cached_note, is_cached, load_corpus
    from rnnlab.data.tokenizers import make_tokenizer
    from rnnlab.data.vocab import Vocabulary

    info = DATASETS.get(args.name)
    if info is not None:
        print(f"{info.name}: {info.description}")
        print(f"source:  {info.source}")
        print(f"licence: {info.licence}")
        if not is_cached(info.name, args.cache_dir):
            print(f"not fetched yet: run `rnnlab data fetch {info.name}`")
            return 0
        if note := cached_note(info.name, args.cache_dir):
            print(f"fetched: {note}")
    corpus = load_corpus(args.name, cache_dir=args.cache_dir, download=False)
    if info is None:
        print(f"{corpus.name}: {corpus.description}")
    kind = args.tokenizer or corpus.level
    tokenizer = make_tokenizer(kind)
    print(
        f"\ncounted with the {kind} tokenizer ({'each line ends with </s>' if kind == 'word' else 'newlines count'})"
    )
    print(f"{'split':<6} {'characters':>12} {'tokens':>12} {'lines':>10}")
    train_tokens: list[str] = []
    for split in SPLITS:
        text = corpus.split(split)
        tokens = tokenizer.tokenize(text)
        if split == "train":
            train_tokens = tokens
        print(f"{split:<6} {len(text):>12,} {len(tokens):>12,} {text.count(chr(10)):>10,}")
    vocab = Vocabulary.build(train_tokens)
    print(f"vocabulary of train: {len(vocab) - 4:,} distinct tokens (+4 specials = {len(vocab):,} ids)")
    return 0
