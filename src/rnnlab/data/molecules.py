"""Molecules as graphs (RDKit): atoms are nodes, bonds are edges (both directions), and `smiles,target` CSVs.

    graph = smiles_graph("CCO")                    # a one-graph rnnlab.nn.graph.Graphs, or None if unparseable
    examples, skipped = read_molecule_csv("mine.csv", "smiles", "target")   # bad SMILES skipped, with lines

Atom features (`ATOM_FEATURES` wide, one-hot blocks, "other" where a value is not listed):
element (H C N O F P S Cl Br I, other), heavy-atom degree (0..5, other), formal charge (-1, 0, +1, other),
hybridisation (SP, SP2, SP3, other), aromatic (1), attached hydrogens (0..3, 4+), in a ring (1).
Bond features (`BOND_FEATURES` wide): type (single, double, triple, aromatic), conjugated (1), in a ring (1).
Hydrogens are implicit (RDKit's default), so "[H][H]" is a graph of two nodes and "C" one node without edges.
The built-in molecules are FreeSolv (`rnnlab.data.tabular`, the regression task's set, same split).
"""

from __future__ import annotations

import csv
import io
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from rnnlab.errors import DataError
from rnnlab.nn.graph import Graphs, graph_from_tensors

__all__ = ["ATOM_FEATURES", "BOND_FEATURES", "Molecule", "molecule_graph", "read_molecule_csv", "smiles_graph",
           "smiles_graphs"]  # fmt: skip

ELEMENTS = ("H", "C", "N", "O", "F", "P", "S", "Cl", "Br", "I")
DEGREES = (0, 1, 2, 3, 4, 5)
CHARGES = (-1, 0, 1)
HYBRIDISATIONS = ("SP", "SP2", "SP3")
HYDROGENS = (0, 1, 2, 3)
BOND_TYPES = ("SINGLE", "DOUBLE", "TRIPLE", "AROMATIC")
ATOM_FEATURES = (len(ELEMENTS) + 1) + (len(DEGREES) + 1) + (len(CHARGES) + 1) + (len(HYBRIDISATIONS) + 1) + 1 + (
    len(HYDROGENS) + 1) + 1  # fmt: skip
BOND_FEATURES = len(BOND_TYPES) + 2


@dataclass(frozen=True)
class Molecule:
    """One parsed row: its SMILES, target, graph and where it came from (`file:line`)."""

    smiles: str
    target: float
    graph: Graphs
    where: str


def _rdkit():
    try:
        from rdkit import Chem, RDLogger
    except ImportError:  # a dependency; say what to install rather than fail deep inside
        raise DataError("molecules need RDKit: pip install rdkit") from None
    RDLogger.DisableLog("rdApp.*")  # unparseable SMILES are counted and reported by us, one line in all
    return Chem


def _one_hot(value, choices) -> list[float]:
    row = [0.0] * (len(choices) + 1)
    row[choices.index(value) if value in choices else len(choices)] = 1.0
    return row


def atom_row(atom) -> list[float]:
    return (_one_hot(atom.GetSymbol(), ELEMENTS) + _one_hot(atom.GetDegree(), DEGREES)
            + _one_hot(atom.GetFormalCharge(), CHARGES) + _one_hot(str(atom.GetHybridization()), HYBRIDISATIONS)
            + [float(atom.GetIsAromatic())] + _one_hot(min(atom.GetTotalNumHs(), 4), HYDROGENS)
            + [float(atom.IsInRing())])  # fmt: skip


def bond_row(bond) -> list[float]:
    return _one_hot(str(bond.GetBondType()), BOND_TYPES)[:-1] + [float(bond.GetIsConjugated()), float(bond.IsInRing())]


def molecule_graph(molecule, where: str = "molecule") -> Graphs:
    """An RDKit molecule as a one-graph batch: nodes (atoms, ATOM_FEATURES), edges (2 per bond, BOND_FEATURES),
    no global features (width 0)."""
    nodes = torch.tensor([atom_row(a) for a in molecule.GetAtoms()], dtype=torch.float32).reshape(-1, ATOM_FEATURES)
    senders, receivers, rows = [], [], []
    for bond in molecule.GetBonds():
        a, b, row = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx(), bond_row(bond)
        senders += [a, b]
        receivers += [b, a]
        rows += [row, row]
    edges = torch.tensor(rows, dtype=torch.float32).reshape(-1, BOND_FEATURES)
    return graph_from_tensors(nodes, senders, receivers, edges, torch.zeros(0), where=where)


def smiles_graph(smiles: str, where: str = "SMILES") -> Graphs | None:
    """The graph of a SMILES string, or None if RDKit cannot parse it (or it has no atoms)."""
    Chem = _rdkit()
    molecule = Chem.MolFromSmiles(smiles.strip()) if smiles.strip() else None
    if molecule is None or molecule.GetNumAtoms() == 0:
        return None
    return molecule_graph(molecule, where)


def smiles_graphs(smiles: list[str], where: str = "input") -> list[Graphs]:
    """Graphs of user inputs; any unparseable SMILES is an error naming every bad input (for verbs)."""
    graphs = [smiles_graph(text, f"{where} {i}") for i, text in enumerate(smiles, start=1)]
    bad = [f"{where} {i} ({text[:40]!r})" for i, (text, g) in enumerate(zip(smiles, graphs), start=1) if g is None]
    if bad:
        raise DataError(f"not a valid SMILES string: {', '.join(bad[:10])}" + (" ..." if len(bad) > 10 else ""))
    return graphs  # type: ignore[return-value]


def read_molecule_csv(path: str | Path, smiles_column: str = "smiles",
                      target_column: str = "target") -> tuple[list[Molecule], list[int]]:  # fmt: skip
    """The molecules of a `smiles,target` CSV with a header, and the line numbers of unparseable SMILES
    (skipped). A missing column, a target that is not a finite number, or a file without one parseable
    molecule is a DataError naming the file and line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read the CSV ({error})") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in (smiles_column, target_column) if c not in (reader.fieldnames or [])]
    if missing:
        raise DataError(f"{path}: expected columns {smiles_column!r} and {target_column!r}, got {reader.fieldnames}")
    molecules, skipped = [], []
    try:
        for row in reader:
            where = f"{path}:{reader.line_num}"
            raw = row[target_column]
            try:
                value = float(raw)
            except (TypeError, ValueError):
                raise DataError(f"{where}: {target_column} must be a number, got {raw!r}") from None
            if not math.isfinite(value):
                raise DataError(f"{where}: {target_column} must be finite, got {raw!r}")
            graph = smiles_graph(row[smiles_column] or "", where)
            if graph is None:
                skipped.append(reader.line_num)
                continue
            molecules.append(Molecule(row[smiles_column].strip(), value, graph, where))
    except csv.Error as error:
        raise DataError(f"{path}:{reader.line_num}: not valid CSV ({error})") from None
    if not molecules:
        raise DataError(f"{path}: no parseable molecule" + (f" ({skipped_note(skipped)})" if skipped else ""))
    return molecules, skipped


def skipped_note(lines: list[int]) -> str:
    shown = ", ".join(map(str, lines[:20])) + (", ..." if len(lines) > 20 else "")
    return f"{len(lines)} unparseable SMILES skipped, line{'s' if len(lines) > 1 else ''} {shown}"


def warn_skipped(path: str | Path, lines: list[int]) -> None:
    if lines:
        print(f"rnnlab: warning: {path}: {skipped_note(lines)}", file=sys.stderr)
