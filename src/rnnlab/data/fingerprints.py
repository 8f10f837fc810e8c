"""Morgan (ECFP-like) fingerprints of molecules, the input of the fingerprint-MLP baseline (benchmarks/graphs.py).

    bits = morgan_fingerprints(["CCO", "c1ccccc1O"])     # (2, 2048) float32 of 0/1

RDKit's Morgan fingerprint, radius 2 (ECFP4: every atom's neighbourhood up to two bonds away), folded into
2048 bits, counts ignored (a bit is set if any substructure hashed to it), chirality ignored, hydrogens
implicit: the same molecule parse as rnnlab.data.molecules. An unparseable SMILES is a DataError naming it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rnnlab.data.molecules import _rdkit
from rnnlab.errors import DataError

__all__ = ["BITS", "RADIUS", "morgan_fingerprints"]

RADIUS = 2
BITS = 2048


def morgan_fingerprints(smiles: Sequence[str], radius: int = RADIUS, bits: int = BITS) -> np.ndarray:
    """(len(smiles), bits) float32: each molecule's folded Morgan fingerprint as 0/1."""
    Chem = _rdkit()
    from rdkit.Chem import rdFingerprintGenerator

    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=bits)
    rows = np.zeros((len(smiles), bits), dtype=np.float32)
    for i, text in enumerate(smiles):
        molecule = Chem.MolFromSmiles(text.strip()) if text.strip() else None
        if molecule is None:
            raise DataError(f"not a valid SMILES string: molecule {i + 1} ({text[:40]!r})")
        rows[i] = generator.GetFingerprintAsNumPy(molecule)
    return rows
