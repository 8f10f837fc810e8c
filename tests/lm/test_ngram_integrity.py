"""Saved n-gram models are verified like neural checkpoints: manifest (sizes + sha256), field types, arrays.

Every damage is one `CheckpointError` naming the file (never EOFError, BadZipFile or TypeError), and saving
is atomic: a temporary directory renamed over the target, never a half-written model.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnnlab.errors import CheckpointError
from rnnlab.lm.ngram import NGramModel
from rnnlab.train.checkpoint import write_manifest

CORPUS = ["the cat sat on the mat", "the dog sat on the log", "a cat saw the dog"] * 3


@pytest.fixture()
def saved(tmp_path):
    model = NGramModel.train(CORPUS, order=3, smoothing="wb")
    return model, model.save(tmp_path / "model")


def test_saved_model_has_a_manifest_and_loads_back(saved):
    model, directory = saved
    manifest = json.loads((directory / "manifest.json").read_text())
    assert set(manifest["files"]) == {"config.json", "model.npz", "vocab.txt"}
    again = NGramModel.load(directory)
    assert again.score(["the cat sat"])[0].total_logprob == pytest.approx(model.score(["the cat sat"])[0].total_logprob)
    assert [p.name for p in directory.parent.iterdir()] == ["model"]  # no temporary directory left behind


@pytest.mark.parametrize("damage", ["empty", "truncated", "flipped", "missing"])
def test_damaged_arrays_are_one_checkpoint_error(saved, damage):
    _, directory = saved
    arrays = directory / "model.npz"
    data = arrays.read_bytes()
    if damage == "missing":
        arrays.unlink()
    else:
        arrays.write_bytes({"empty": b"", "truncated": data[: len(data) // 2],
                            "flipped": data[:100] + bytes([data[100] ^ 1]) + data[101:]}[damage])  # fmt: skip
    with pytest.raises(CheckpointError, match=r"model\.npz") as error:
        NGramModel.load(directory)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 not a zip", b"\x93NUMPY garbage"])
def test_damaged_arrays_with_a_matching_manifest_are_still_a_checkpoint_error(saved, content):
    """Someone rewrote the manifest too: np.load's EOFError / BadZipFile become one CheckpointError."""
    _, directory = saved
    (directory / "model.npz").write_bytes(content)
    write_manifest(directory)
    with pytest.raises(CheckpointError, match=r"model\.npz: damaged n-gram arrays"):
        NGramModel.load(directory)


@pytest.mark.parametrize(
    ("field", "value"),
    [("order", "3"), ("order", 0), ("min_count", 1.5), ("level", "byte"), ("prune", "none"),
     ("discounts", [["x"]]), ("counts", None), ("k", float("inf")), ("uniform_backoff", "no")],
)  # fmt: skip
def test_wrong_types_in_config_json_name_the_field(saved, field, value):
    _, directory = saved
    config_file = directory / "config.json"
    config = json.loads(config_file.read_text())
    config[field] = value
    config_file.write_text(json.dumps(config))  # Infinity for inf: JSON readers vary, ours must refuse it
    write_manifest(directory)
    with pytest.raises(CheckpointError, match=rf"config\.json: field '{field}' must be"):
        NGramModel.load(directory)


def test_modified_config_without_a_new_manifest_is_refused(saved):
    _, directory = saved
    config_file = directory / "config.json"
    config_file.write_text(config_file.read_text().replace('"order": 3', '"order": 2'))
    with pytest.raises(CheckpointError, match=r"config\.json: (truncated or modified|sha256)"):
        NGramModel.load(directory)


def test_arrays_of_the_wrong_kind_are_refused(saved):
    _, directory = saved
    with np.load(directory / "model.npz") as data:
        arrays = dict(data)
    arrays["logprob_2"] = arrays["logprob_2"].astype(np.int64)
    with open(directory / "model.npz", "wb") as handle:
        np.savez(handle, **arrays)
    write_manifest(directory)
    with pytest.raises(CheckpointError, match=r"array 'logprob_2' is int64"):
        NGramModel.load(directory)


def test_no_manifest_is_refused(saved):
    _, directory = saved
    (directory / "manifest.json").unlink()
    with pytest.raises(CheckpointError, match=r"manifest\.json: missing"):
        NGramModel.load(directory)


def test_save_replaces_a_model_atomically_and_never_a_directory_of_other_files(saved, tmp_path):
    model, directory = saved
    smaller = NGramModel.train(CORPUS, order=2, smoothing="wb")
    smaller.save(directory)  # over an n-gram model: fine, replaced as a whole
    assert NGramModel.load(directory).order == 2
    other = tmp_path / "notes"
    other.mkdir()
    (other / "thesis.tex").write_text("years of work")
    with pytest.raises(CheckpointError, match="not an n-gram model"):
        model.save(other)
    assert (other / "thesis.tex").read_text() == "years of work"
    failing = NGramModel.train(CORPUS, order=2, smoothing="addk")  # add-k has no ARPA form: fails half-way
    with pytest.raises(Exception, match="ARPA"):
        failing.save(directory, arpa=True)
    assert NGramModel.load(directory).order == 2  # the previous model is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "notes"]
