"""QM9: 130,831 small organic molecules (up to 9 heavy atoms: C, N, O, F) with DFT-computed properties, and
the fixed 20k / 2k / 2k subset the graph task predicts the HOMO-LUMO gap on.

    splits = load_dataset("qm9")      # {"train": [(smiles, gap_ev)] * 20000, "valid": ... 2000, "test": ... 2000}
    fixed_subset(130_831)             # {"train": [row, ...], ...}: which rows of the cache each split holds

Source: the PyPI wheel `qm9pack==1.0.3` (MIT; R. Ramakrishnan, an author of QM9), fetched on demand with
sha256 and never committed. Its `qm9pack/data/qm9_part{1,2,3}.csv` hold one molecule a row, with a header:
`XYZ_file, Index` (the QM9 id, 1..133,885 with 3,054 gaps: the molecules whose geometry failed to converge),
`SMILES` (GDB-17's), `InChi`, the atoms and their 3-D coordinates (Å, quoted lists), Mulliken charges,
frequencies, rotational constants, dipole, polarisability, `HOMO_au`, `LUMO_au`, `HOMO_LUMO_gap_au` (Hartree,
B3LYP/6-31G(2df,p), 4 decimals), R², zero-point energy, U0, U, H, G (Hartree) and Cv (cal/(mol K)).
The fetch keeps `index, smiles, homo_ev, lumo_ev, gap_ev` of every molecule in `<cache>/qm9/qm9.csv`, the
energies converted to eV (1 Hartree = 27.211386245988 eV, CODATA 2018; the gap's mean is 6.86 eV, its
standard deviation 1.28 eV).

The subset: the cache's rows (in QM9 id order) permuted by numpy's `default_rng(0)`; the first 2,000 are
the test set, the next 2,000 the validation set, the next 20,000 the training set (the rest are unused).
A different seed or size is a different subset; the same ones give the same molecules on every machine
(numpy's PCG64 stream is stable across versions).
"""

from __future__ import annotations

import csv
import io
import math
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from rnnlab.data.registries import download_pypi, verify_sha256
from rnnlab.data.registry import DatasetEntry, Source, register_dataset, register_kind
from rnnlab.errors import DataError
from rnnlab.files import write_text_atomically

__all__ = ["HARTREE_EV", "SIZES", "fixed_subset", "read_qm9_rows", "write_qm9_cache", "read_qm9_cache"]

HARTREE_EV = 27.211386245988  # eV per Hartree (CODATA 2018)
SIZES = {"train": 20_000, "valid": 2_000, "test": 2_000}
SEED = 0
MEMBERS = tuple(f"qm9pack/data/qm9_part{i}.csv" for i in (1, 2, 3))
COLUMNS = ("Index", "SMILES", "HOMO_au", "LUMO_au", "HOMO_LUMO_gap_au")
CACHE_COLUMNS = ("index", "smiles", "homo_ev", "lumo_ev", "gap_ev")

Row = tuple[int, str, float, float, float]  # (QM9 id, SMILES, HOMO, LUMO, gap), energies in eV


def read_qm9_rows(text: Iterable[str], source: str) -> Iterator[Row]:
    """The molecules of one of the wheel's CSVs (lines of text with its header), energies converted to eV.
    A missing column, an empty SMILES or an energy that is not a finite number is a DataError naming
    `source:line`."""
    csv.field_size_limit(1 << 26)  # the coordinate and frequency columns are long quoted lists
    reader = csv.DictReader(text)
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise DataError(f"{source}: expected QM9 columns {', '.join(missing)} in the header, got {reader.fieldnames}")
    try:
        for row in reader:
            where = f"{source}:{reader.line_num}"
            smiles = (row["SMILES"] or "").strip()
            if not smiles:
                raise DataError(f"{where}: empty SMILES")
            try:
                index = int(row["Index"])
                homo, lumo, gap = (float(row[c]) * HARTREE_EV for c in COLUMNS[2:])
            except (TypeError, ValueError):
                raise DataError(f"{where}: expected an integer Index and numbers for HOMO, LUMO and gap") from None
            if not all(map(math.isfinite, (homo, lumo, gap))):
                raise DataError(f"{where}: HOMO, LUMO and gap must be finite numbers")
            yield index, smiles, homo, lumo, gap
    except csv.Error as error:
        raise DataError(f"{source}:{reader.line_num}: not valid CSV ({error})") from None


def write_qm9_cache(rows: list[Row], path: Path) -> None:
    """`index,smiles,homo_ev,lumo_ev,gap_ev`, one molecule a line, sorted by QM9 id (written atomically)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CACHE_COLUMNS)
    for index, smiles, homo, lumo, gap in sorted(rows):
        writer.writerow([index, smiles, f"{homo:.6f}", f"{lumo:.6f}", f"{gap:.6f}"])
    write_text_atomically(path, buffer.getvalue())


def read_qm9_cache(path: Path) -> list[Row]:
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        return [(int(i), s, float(h), float(lu), float(g)) for i, s, h, lu, g in reader]


def fixed_subset(count: int, seed: int = SEED, sizes: dict[str, int] | None = None) -> dict[str, list[int]]:
    """Row numbers (0..count-1) of each split: a seeded permutation cut into test, valid, then train
    (sizes: SIZES unless given)."""
    sizes = sizes or SIZES
    needed = sizes["test"] + sizes["valid"] + sizes["train"]
    if count < needed:
        raise DataError(f"qm9: {count} molecules, expected at least {needed} for the fixed subset")
    order = np.random.default_rng(seed).permutation(count).tolist()
    test, valid = order[: sizes["test"]], order[sizes["test"] : sizes["test"] + sizes["valid"]]
    train = order[sizes["test"] + sizes["valid"] : needed]
    return {"train": train, "valid": valid, "test": test}


# ---------------------------------------------------------------------------------------------- registry
def _fetch(entry: DatasetEntry, out: Path, downloads: Path) -> tuple[str, dict[str, int]]:
    """Download the qm9pack wheel (PyPI), check its sha256, keep each molecule's id, SMILES and energies."""
    wheel = download_pypi(entry.source.package, entry.source.version, downloads, wheel=True)
    verify_sha256(wheel, entry.source.sha256)
    rows: list[Row] = []
    with zipfile.ZipFile(wheel) as archive:
        for member in MEMBERS:
            with archive.open(member) as handle:
                rows += read_qm9_rows(io.TextIOWrapper(handle, encoding="utf-8", newline=""), f"{wheel.name}/{member}")
    write_qm9_cache(rows, out / "qm9.csv")
    fixed_subset(len(rows))  # enough molecules for the subset, or fail before anything is cached
    return f"{len(rows):,} molecules (HOMO-LUMO gap in eV)", dict(SIZES)


def _load(entry: DatasetEntry, directory: Path | None) -> dict[str, list[tuple[str, float]]]:
    """The fixed subset: {split: [(SMILES, HOMO-LUMO gap in eV)]}."""
    assert directory is not None
    rows = read_qm9_cache(Path(directory) / "qm9.csv")
    return {split: [(rows[i][1], rows[i][4]) for i in chosen] for split, chosen in fixed_subset(len(rows)).items()}


register_kind("graphs", "graphs with node labels or per-node targets (the graph task)")
register_dataset(DatasetEntry(
    name="qm9",
    kind="graphs",
    description="QM9: 130,831 small organic molecules (C, N, O, F; <= 9 heavy atoms); the HOMO-LUMO gap (eV) "
    "from SMILES, a fixed seeded 20k/2k/2k subset",
    source=Source("pypi", "qm9pack", "1.0.3", "1d88c2988007c6778e717ee3224cf511bd60e10732ebe3b7ed500ea5af05c9f0",
                  member="qm9pack/data/qm9_part{1,2,3}.csv"),
    licence="qm9pack wheel: MIT; QM9 itself: CC0 (figshare, Ramakrishnan et al. 2014) (fetched, never embedded)",
    attribution="R. Ramakrishnan, P. O. Dral, M. Rupp and O. A. von Lilienfeld, Quantum chemistry structures "
    "and properties of 134 kilo molecules, Scientific Data 1 (2014); packaged by qm9pack",
    fetch=_fetch,
    load=_load,
    unit="molecules",
    sizes=dict(SIZES),
))  # fmt: skip
