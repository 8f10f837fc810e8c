"""Output files are guarded: never an input, never inside a model or run directory, never an existing file
without --overwrite, never half-written (issue #20).

Every refusal is checked through `rnnlab.cli.main` where that is cheap: exit 2, one stderr line, and the
protected file's sha256 unchanged. The helpers (`rnnlab.paths.guard_output_file`, `guard_output_dir`,
`rnnlab.files.atomic_output`, `write_new_file`) are tested directly for the rest.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from rnnlab.cli import main
from rnnlab.errors import RunDirectoryError, UserError
from rnnlab.files import atomic_output, sha256_of, write_bytes_atomically, write_new_file
from rnnlab.lm.ngram import NGramModel
from rnnlab.paths import PathError, guard_output_dir, guard_output_file

SENTENCES = ["the cat sat on the mat", "the dog sat", "a cat saw the dog"] * 3


def train_ngram(corpus: Path, *rest) -> list[str]:
    """`rnnlab train ngram CORPUS ...` for a tiny 2-gram model (counted in a blink)."""
    return ["train", "ngram", str(corpus), "--order", "2", "--smoothing", "wb", *map(str, rest)]


@pytest.fixture
def model(tmp_path) -> Path:
    """A tiny word 2-gram model directory (config.json + manifest.json + model.npz + vocab.txt)."""
    return NGramModel.train(SENTENCES, order=2, smoothing="wb").save(tmp_path / "model")


@pytest.fixture
def corpus(tmp_path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    return path


def refused(capsys, argv: list[str], message: str) -> str:
    """Run the command; assert exit 2 and exactly one `rnnlab: error:` line containing `message`."""
    status = main([str(part) for part in argv])
    err = capsys.readouterr().err
    assert status == 2, err
    assert err.count("\n") == 1 and err.startswith("rnnlab: error: ") and "Traceback" not in err, err
    assert message in err, err
    return err


def listing(directory: Path) -> dict[str, str]:
    return {p.name: sha256_of(p) for p in sorted(directory.iterdir()) if p.is_file()}


# ----------------------------------------------------------------------------------------- the helper
def test_the_guard_refuses_each_kind_of_path(tmp_path, model):
    with pytest.raises(PathError, match="expected a path for the ARPA file, got an empty string"):
        guard_output_file("", "ARPA file")
    source = tmp_path / "in.txt"
    source.write_text("read me\n")
    with pytest.raises(PathError, match="it is an input of this command"):
        guard_output_file(source, "output file", inputs=[source])
    link = tmp_path / "link.txt"
    link.symlink_to(source)
    with pytest.raises(PathError, match=r"input of this command \(.*in.txt\)"):  # the same file by another name
        guard_output_file(link, "output file", inputs=[source], overwrite=True)
    with pytest.raises(PathError, match="inside the model directory"):
        guard_output_file(model / "model.npz", "ARPA file", overwrite=True)
    with pytest.raises(PathError, match="inside the model directory"):
        guard_output_file(model / "sub" / "new.arpa", "ARPA file")
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.yaml").write_text("# written by `rnnlab train`; ...\ntask: lm\n")
    with pytest.raises(PathError, match="inside the run directory"):
        guard_output_file(run / "notes.txt", "output file")
    with pytest.raises(PathError, match="the file already exists; --overwrite replaces it"):
        guard_output_file(source, "output file")
    assert guard_output_file(source, "output file", overwrite=True) == source
    with pytest.raises(PathError, match="it is a directory"):  # check_writable's refusals still apply
        guard_output_file(tmp_path, "output file", overwrite=True)
    assert guard_output_file(tmp_path / "new.txt", "output file", inputs=[None, "-", "ptb"]) == tmp_path / "new.txt"
    # a directory of artifacts: not the model's, not a run's, nor inside one
    with pytest.raises(PathError, match="it is the model directory"):
        guard_output_dir(model, "artifact directory")
    with pytest.raises(PathError, match="inside the run directory"):
        guard_output_dir(run / "plots", "artifact directory")
    assert guard_output_dir(tmp_path / "plots", "artifact directory") == tmp_path / "plots"


def test_atomic_output_keeps_the_old_file_and_leaves_no_temporary_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    with pytest.raises(OSError, match="No space"), atomic_output(target, "w") as out:
        out.write("half of the new")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    with atomic_output(target, "w") as out:
        out.write("new\n")
    assert target.read_text() == "new\n" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())  # not mkstemp's private 0600
    with pytest.raises(FileExistsError):
        write_bytes_atomically(target, b"x", replace=False)
    assert target.read_text() == "new\n" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    assert write_bytes_atomically(tmp_path / "a" / "b.txt", b"x").read_bytes() == b"x"  # parents created


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_artifacts_never_replace_a_file_they_take_the_next_free_name(tmp_path):
    out = tmp_path / "plots"
    out.mkdir()
    (out / "confusion.png").write_bytes(b"the user's own")
    taken: set[str] = set()
    first = write_new_file(out, "confusion.png", b"new 1", taken)
    second = write_new_file(out, "confusion.png", b"new 2", taken)
    assert (first.name, second.name) == ("confusion-2.png", "confusion-3.png")
    assert (out / "confusion.png").read_bytes() == b"the user's own" and second.read_bytes() == b"new 2"
    assert write_new_file(tmp_path / "new" / "dir", "notes", b"x").name == "notes"  # created; no suffix


# --------------------------------------------------------------------------------------- ngram export
def test_ngram_export_never_writes_into_the_model_nor_over_a_file_unasked(tmp_path, model, capsys):
    arrays = sha256_of(model / "model.npz")
    refused(capsys, ["ngram", "export", model, model / "model.npz", "--overwrite"], "inside the model directory")
    assert sha256_of(model / "model.npz") == arrays
    refused(capsys, ["ngram", "export", model, ""], "expected a path for the ARPA file, got an empty string")

    arpa = tmp_path / "model.arpa"
    assert main(["ngram", "export", str(model), str(arpa)]) == 0
    written = sha256_of(arpa)
    arpa.write_text("the user's edited copy\n")
    edited = sha256_of(arpa)
    refused(capsys, ["ngram", "export", model, arpa], "the file already exists; --overwrite replaces it")
    assert sha256_of(arpa) == edited
    assert main(["ngram", "export", str(model), str(arpa), "--overwrite"]) == 0
    assert sha256_of(arpa) == written


def test_ngram_export_failing_half_way_keeps_the_old_file(tmp_path, model, capsys, monkeypatch):
    import rnnlab.lm.arpa as arpa_module

    arpa = tmp_path / "out.arpa"
    arpa.write_text("the previous export\n")
    before = listing(tmp_path)
    real_write = arpa_module._write

    def full_disk(out, tables, words):  # the first lines go out, then the disk is full
        out.write("\\data\\\n")
        raise OSError(errno.ENOSPC, "No space left on device", str(arpa))

    monkeypatch.setattr(arpa_module, "_write", full_disk)
    refused(capsys, ["ngram", "export", model, arpa, "--overwrite"], "no space left on device")
    assert listing(tmp_path) == before  # the old file intact, no temporary file left
    monkeypatch.setattr(arpa_module, "_write", real_write)
    assert main(["ngram", "export", str(model), str(arpa), "--overwrite"]) == 0
    assert arpa.read_text(encoding="utf-8").startswith("\\data\\") and listing(tmp_path).keys() == before.keys()


# ---------------------------------------------------------------------------------- train ngram --arpa
def test_train_ngram_arpa_is_never_the_corpus_nor_an_existing_file(tmp_path, corpus, capsys):
    text = sha256_of(corpus)
    out = tmp_path / "run"
    refused(capsys, train_ngram(corpus, "--output-dir", out, "--arpa", corpus), "an input of this command")
    assert sha256_of(corpus) == text
    arpa = tmp_path / "kept.arpa"
    arpa.write_text("someone's model\n")
    refused(capsys, train_ngram(corpus, "--output-dir", out, "--arpa", arpa), "the file already exists")
    assert arpa.read_text() == "someone's model\n"
    # the refusals left nothing that blocks the next run
    assert main(train_ngram(corpus, "--output-dir", out, "--arpa", tmp_path / "new.arpa")) == 0
    assert (tmp_path / "new.arpa").read_text(encoding="utf-8").startswith("\\data\\")


# ------------------------------------------------------------------------------------- verbs and eval
def _fake_model(tmp_path: Path, task: str) -> Path:
    """A directory whose config.json names the task: the output checks come before the model is read."""
    directory = tmp_path / f"fake-{task}"
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps({"task": task}))
    return directory


def test_tag_output_is_never_the_input_nor_an_existing_file(tmp_path, capsys):
    tagger = _fake_model(tmp_path, "tagger")
    source = tmp_path / "in.conll"
    source.write_text("1\tThe\t_\tDET\n2\tcat\t_\tNOUN\n")
    text = sha256_of(source)
    refused(capsys, ["tag", tagger, "--input", source, "--output", source, "--overwrite"],
            "cannot write output file " + str(source) + ": it is an input of this command")  # fmt: skip
    assert sha256_of(source) == text
    existing = tmp_path / "tagged.conll"
    existing.write_text("yesterday's tags\n")
    refused(capsys, ["tag", tagger, "--input", source, "--output", existing], "--overwrite replaces it")
    assert existing.read_text() == "yesterday's tags\n"


def test_eval_out_is_never_the_model_or_a_run_directory(tmp_path, model, capsys):
    before = listing(model)
    refused(capsys, ["eval", model, "--out", model], "it is an input of this command")
    refused(capsys, ["eval", model, "--out", model / "plots"], "inside the model directory")
    assert listing(model) == before and not (model / "plots").exists()


# ----------------------------------------------------------------------------------------- inspect
def test_inspect_pictures_need_overwrite_and_stay_out_of_models(tmp_path, model, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    picture = tmp_path / "d.png"
    picture.write_bytes(b"the user's picture")
    refused(capsys, ["inspect", "diagram", "--out", picture], "the file already exists; --overwrite replaces it")
    assert picture.read_bytes() == b"the user's picture"
    refused(capsys, ["inspect", "diagram", "--out", model / "d.png"], "inside the model directory")
    assert not (model / "d.png").exists()
    assert main(["inspect", "diagram", "--out", str(picture), "--overwrite"]) == 0
    assert picture.read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.png", "model"]  # nothing drawn elsewhere


# ----------------------------------------------------------------------- run directories, the demo
def test_a_users_own_run_yaml_or_loss_curve_blocks_training_into_that_directory(tmp_path, corpus, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "run.yaml").write_text("task: lm\n# my own notes\n")
    mine = sha256_of(out / "run.yaml")
    for flags in ([], ["--overwrite"]):  # --overwrite moves only a run aside: a user's file stays refused
        refused(capsys, train_ngram(corpus, "--output-dir", out, *flags), "run.yaml that no rnnlab run wrote")
        assert sha256_of(out / "run.yaml") == mine and sorted(p.name for p in out.iterdir()) == ["run.yaml"]
    (out / "run.yaml").unlink()
    (out / "loss_curve.png").write_bytes(b"my plot")
    refused(capsys, train_ngram(corpus, "--output-dir", out), "loss_curve.png that no rnnlab run wrote")
    assert (out / "loss_curve.png").read_bytes() == b"my plot"


def test_run_yaml_written_by_rnnlab_is_not_foreign(tmp_path):
    from rnnlab.train.rundir import guard_run_directory

    out = tmp_path / "left"
    out.mkdir()
    (out / "run.yaml").write_text("# written by `rnnlab train`; train again with: ...\ntask: lm\n")
    with guard_run_directory(out, "lm", settings={"output_dir": str(out)}):  # e.g. left by a failed start
        pass
    (out / "loss_curve.png").write_bytes(b"x")  # but no run here wrote this one
    with pytest.raises(RunDirectoryError, match="loss_curve.png that no rnnlab run wrote"):
        with guard_run_directory(out, "lm", settings={"output_dir": str(out)}):
            pass


def test_the_demo_never_replaces_a_users_report(tmp_path):
    from rnnlab.demo import prepare_output_dir

    out = tmp_path / "demo"
    out.mkdir()
    (out / "report.md").write_text("# my report\n")
    with pytest.raises(UserError, match="report.md that no demo wrote"):
        prepare_output_dir(out)
    assert (out / "report.md").read_text() == "# my report\n"
