"""`rnnlab poem TEXT...`: measure a poem of your own: form, rhyme (Pingshui scheme), tonal meter
(rnnlab.poetry); `rnnlab poem --group 七阳` lists a rhyme group's characters."""

from __future__ import annotations

import argparse

from rnnlab.commands.output import add_json_flag, print_json

MAX_POEMS = 10_000  # per call: a corpus belongs in `rnnlab eval`
MAX_POEM_CHARS = 10_000  # per poem: the longest Tang poems have about 2,000


def register(commands) -> None:
    poem = commands.top.add_parser(
        "poem", help="measure a Chinese poem: regular form, rhyme (Pingshui scheme) and tonal meter"
    )
    poem.add_argument("texts", nargs="*", metavar="TEXT", help="poems, e.g. 白日依山尽，黄河入海流。欲穷千里目，更上一层楼。")
    poem.add_argument("--input", help="a UTF-8 file with one poem per line ('-': stdin)")
    poem.add_argument("--group", help="list the characters of a Pingshui rhyme group instead, e.g. 七阳 or 下平声七阳")
    add_json_flag(poem)
    poem.set_defaults(handler=run_poem)


def run_poem(args: argparse.Namespace) -> int:
    from rnnlab.errors import UserError
    from rnnlab.files import read_input_lines
    from rnnlab.poetry.pingshui import pingshui_table
    from rnnlab.poetry.report import describe_poem, format_description

    if args.group is not None and (args.texts or args.input):
        raise UserError("--group lists a rhyme group's characters; give poems or --group, not both")
    if args.group is not None:
        table = pingshui_table()
        group = table.groups[table.resolve(args.group)]  # UserError for an unknown name
        members = sorted(table.members(group.name))
        record = {"group": group.name, "traditional": group.traditional, "tone": group.tone, "characters": members}
        if args.json:
            print_json(record)
        else:
            print(f"{group.name} ({group.traditional}), tone {group.tone}, {len(members)} characters (both scripts):")
            print("".join(members))
        return 0
    texts = list(args.texts) + (read_input_lines(args.input, "poems") if args.input else [])
    if not texts:
        raise UserError("expected a poem (rnnlab poem 白日依山尽，黄河入海流。...), --input FILE, or --group NAME")
    if len(texts) > MAX_POEMS:
        raise UserError(f"at most {MAX_POEMS:,} poems per call, got {len(texts):,}; measure a corpus with rnnlab eval")
    for number, text in enumerate(texts, start=1):
        if len(text) > MAX_POEM_CHARS:
            raise UserError(f"poem {number}: at most {MAX_POEM_CHARS:,} characters per poem, got {len(text):,}")
        try:
            poem = describe_poem(text.strip())
        except UserError as error:
            where = f"poem {number}: " if len(texts) > 1 else ""
            raise UserError(f"{where}{error}") from None
        if args.json:
            print_json(poem)
        else:
            print(format_description(poem) + ("\n" if number < len(texts) else ""))
    return 0
