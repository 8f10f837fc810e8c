"""Checkpoints: round-trip, tied weights, tamper/truncation detection, atomic replace, no code execution."""

from __future__ import annotations

import json
import math
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from trainer_tiny_task import TinyLM

import rnnlab.train.checkpoint as checkpoint_module
from rnnlab.errors import CheckpointError
from rnnlab.train import load_checkpoint, load_model_weights, save_checkpoint, verify_checkpoint

CONFIG = {"task": "tiny", "hidden": 16, "layers": [1, 2]}


def make_state() -> dict:
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    return {
        "step": 12,
        "best": math.inf,
        "nothing": None,
        "optimizer": optimizer.state_dict(),  # int keys, tensors, tuples (betas)
        "rng": {"python": (3, tuple(range(5)), None), "numpy": np.random.get_state(), "torch": torch.get_rng_state()},
        "hidden": [torch.randn(1, 2, 4), torch.randn(1, 2, 4, dtype=torch.float64)],
        "__odd__": {"__tensor__": "not a tensor"},
    }


def assert_same(a, b):
    assert type(a) is type(b), (a, b)
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and torch.equal(a, b)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    else:
        assert a == b


@pytest.fixture
def saved(tmp_path) -> tuple[Path, TinyLM, dict]:
    torch.manual_seed(0)
    model = TinyLM()
    state = make_state()
    path = save_checkpoint(
        tmp_path / "ckpt",
        config=CONFIG,
        model=model,
        extra_files={"vocab.json": '{"<unk>": 0}', "spm/tok.model": b"\x00\x01binary"},
        trainer_state=state,
    )
    return path, model, state


def test_round_trip(saved):
    path, model, state = saved
    assert sorted(p.name for p in path.iterdir()) == [
        "config.json", "manifest.json", "model.safetensors", "spm", "trainer_state", "vocab.json",
    ]
    checkpoint = load_checkpoint(path)
    assert checkpoint.config == CONFIG and checkpoint.task == "tiny"
    assert checkpoint.files == ["spm/tok.model", "vocab.json"]
    assert checkpoint.read_json("vocab.json") == {"<unk>": 0}
    assert checkpoint.read_bytes("spm/tok.model") == b"\x00\x01binary"
    assert_same(checkpoint.trainer_state, state)
    with pytest.raises(CheckpointError, match="no file 'merges.txt'"):
        checkpoint.read_text("merges.txt")

    # tied weights are stored once and come back under both names
    assert list(checkpoint.state_dict) == list(model.state_dict())
    fresh = TinyLM()
    load_model_weights(fresh, checkpoint)
    for key, value in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value)
    assert fresh.out.weight is fresh.embed.weight


def test_weights_only_checkpoint_and_state_dict_input(tmp_path):
    weights = {"w": torch.arange(6.0).view(2, 3), "b": torch.zeros(2)}
    weights["w_view"] = weights["w"][0]  # shares storage but is not a tie: stored as a copy
    path = save_checkpoint(tmp_path / "c", config={"task": "x"}, model=weights)
    checkpoint = load_checkpoint(path)
    assert checkpoint.trainer_state is None
    assert torch.equal(checkpoint.state_dict["w_view"], torch.arange(3.0))


def test_config_needs_task(tmp_path):
    with pytest.raises(ValueError, match="'task'"):
        save_checkpoint(tmp_path / "c", config={"hidden": 3}, model=torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="reserved"):
        save_checkpoint(tmp_path / "c", config=CONFIG, model=torch.nn.Linear(2, 2), extra_files={"config.json": "{}"})
    with pytest.raises(ValueError, match="relative path"):
        save_checkpoint(tmp_path / "c", config=CONFIG, model=torch.nn.Linear(2, 2), extra_files={"../x": "{}"})
    with pytest.raises(TypeError, match="trainer_state.bad is a object"):
        save_checkpoint(tmp_path / "c", config=CONFIG, model=torch.nn.Linear(2, 2), trainer_state={"bad": object()})


def flip_byte(file: Path, offset: int = -1) -> None:
    data = bytearray(file.read_bytes())
    data[offset] ^= 0xFF
    file.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage, name, pattern",
    [
        (lambda p: flip_byte(p), "model.safetensors", "sha256 does not match"),
        (lambda p: flip_byte(p, 5), "config.json", "sha256 does not match"),
        (lambda p: p.write_bytes(p.read_bytes()[:-10]), "model.safetensors", "truncated"),
        (lambda p: p.write_bytes(p.read_bytes()[:3]), "trainer_state/tensors.safetensors", "truncated"),
        (lambda p: p.write_text(p.read_text().replace("12", "13")), "trainer_state/state.json", "sha256"),
        (lambda p: p.unlink(), "vocab.json", "missing"),
        (lambda p: p.unlink(), "manifest.json", "missing"),
        (lambda p: p.write_text("{}"), "manifest.json", "not a valid rnnlab checkpoint manifest"),
    ],
)
def test_damage_is_detected_and_named(saved, damage, name, pattern):
    path = saved[0]
    damage(path / name)
    with pytest.raises(CheckpointError, match=pattern) as info:
        load_checkpoint(path)
    assert name in str(info.value)


def test_failure_mid_save_keeps_previous_checkpoint(saved, monkeypatch):
    path, model, _ = saved
    before = {p.relative_to(path): p.read_bytes() for p in path.rglob("*") if p.is_file()}

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_module, "save_file", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, config={"task": "other"}, model=model, trainer_state={"step": 99})
    after = {p.relative_to(path): p.read_bytes() for p in path.rglob("*") if p.is_file()}
    assert after == before
    assert load_checkpoint(path).config == CONFIG
    assert [p.name for p in path.parent.iterdir()] == ["ckpt"]  # no temp directory left behind


def test_crash_between_renames_is_recovered(saved):
    path, model, _ = saved
    # a save killed after moving the old checkpoint aside but before moving the new one in
    os.rename(path, path.parent / ".ckpt.old")
    (path.parent / ".ckpt.tmp-deadbeef").mkdir()  # and an unfinished temp dir from that save
    assert load_checkpoint(path).config == CONFIG
    save_checkpoint(path, config={"task": "new"}, model=model)
    assert load_checkpoint(path).config == {"task": "new"}
    assert sorted(p.name for p in path.parent.iterdir()) == ["ckpt"]


class Payload:
    """Unpickling this runs code (writes a marker file): what a malicious pickle checkpoint would do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "pwned"))


@pytest.mark.parametrize("name", ["model.safetensors", "trainer_state/tensors.safetensors"])
def test_pickled_file_is_never_unpickled(saved, tmp_path, name):
    path = saved[0]
    marker = tmp_path / "marker.txt"
    evil = pickle.dumps({"w": Payload(marker)})
    (path / name).write_bytes(evil)  # a pickle in place of the safetensors file
    manifest = json.loads((path / "manifest.json").read_text())  # an attacker can fix the hashes too
    manifest["files"][name] = {"sha256": checkpoint_module.sha256_of(path / name), "size": len(evil)}
    (path / "manifest.json").write_text(json.dumps(manifest))
    verify_checkpoint(path)
    with pytest.raises(CheckpointError, match="cannot read safetensors"):
        load_checkpoint(path)
    assert not marker.exists()


def test_load_model_weights_errors(saved):
    checkpoint = load_checkpoint(saved[0])
    with pytest.raises(CheckpointError, match=r"'embed.weight' has shape \(11, 16\), the model expects \(11, 8\)"):
        load_model_weights(TinyLM(hidden=8), checkpoint)
    model = TinyLM()
    model.extra = torch.nn.Linear(2, 2)
    with pytest.raises(CheckpointError, match=r"missing keys \['extra.weight', 'extra.bias'\]"):
        load_model_weights(model, checkpoint)
    model = TinyLM()
    model.lstm = torch.nn.LSTM(16, 16, batch_first=True, bias=False)
    with pytest.raises(CheckpointError, match=r"unexpected keys \['lstm.bias_ih_l0', 'lstm.bias_hh_l0'\] \(2\)"):
        load_model_weights(model, checkpoint)
