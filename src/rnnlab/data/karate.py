"""Zachary's karate club (networkx's copy): 34 members, 78 friendships, and the faction each member joined
when the club split ("Mr. Hi" or "Officer").

    club = load_dataset("karate")     # KarateClub(graph, labels, names, train, valid, test)

The task: from the two leaders' labels only (member 0, Mr. Hi's, and member 33, the officer John A's), put
every other member in the right faction (semi-supervised, transductive: the whole graph is seen, two labels).
Node features: each member's row of A + I (34 wide: 1 for each friend and for the member itself), so a member is
described by who its friends are; edges have no features. (One-hot member ids, Kipf & Welling's choice, let a
network fit the two labelled leaders by their own id alone: over seeds 0-4 the message-passing network of
configs/graph/karate.yaml then put 16-53% of the others right; with friend rows 97-100%.)
train: members 0 and 33; valid and test: the other 32 (the same members: there is nothing else to hold out).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from rnnlab.data.registry import DatasetEntry, Source, register_dataset, register_kind
from rnnlab.nn.graph import Graphs, graph_from_tensors

__all__ = ["FACTIONS", "KarateClub"]

FACTIONS = ("Mr. Hi", "Officer")
LEADERS = (0, 33)


@dataclass(frozen=True)
class KarateClub:
    """graph: one graph (34 nodes, one-hot features); labels (34,) faction ids; names of the factions;
    train / valid / test: member ids whose labels each split uses."""

    graph: Graphs
    labels: torch.Tensor
    names: tuple[str, ...]
    train: list[int]
    valid: list[int]
    test: list[int]


def _networkx_version() -> str:
    try:
        import networkx

        return networkx.__version__
    except ImportError:
        return ""


def _fetch(entry: DatasetEntry, out: Path, downloads: Path) -> tuple[str, dict[str, int]]:
    """Read networkx's karate_club_graph() (installed with torch; nothing downloaded) into karate.json."""
    import networkx as nx

    graph = nx.karate_club_graph()
    data = {"edges": [[int(u), int(v)] for u, v in graph.edges()],
            "club": [graph.nodes[n]["club"] for n in sorted(graph.nodes)]}  # fmt: skip
    (out / "karate.json").write_text(json.dumps(data), encoding="utf-8")
    return f"{len(data['club'])} members, {len(data['edges'])} friendships", {"train": 2, "valid": 32, "test": 32}


def _load(entry: DatasetEntry, directory: Path | None) -> KarateClub:
    assert directory is not None
    data = json.loads((Path(directory) / "karate.json").read_text(encoding="utf-8"))
    count = len(data["club"])
    pairs = [tuple(edge) for edge in data["edges"]]
    senders = [u for u, v in pairs] + [v for u, v in pairs]
    receivers = [v for u, v in pairs] + [u for u, v in pairs]
    friends = torch.eye(count)
    friends[senders, receivers] = 1.0
    graph = graph_from_tensors(friends, senders, receivers, where="karate club")
    labels = torch.tensor([FACTIONS.index(club) for club in data["club"]])
    others = [i for i in range(count) if i not in LEADERS]
    return KarateClub(graph, labels, FACTIONS, list(LEADERS), others, others)


register_kind("graphs", "graphs with node labels or per-node targets (the graph task)")
register_dataset(DatasetEntry(
    name="karate",
    kind="graphs",
    description="Zachary's karate club: 34 members, 78 friendships; each member's faction from the two leaders'",
    source=Source("system", "networkx", _networkx_version(), member="networkx.karate_club_graph()"),
    licence="networkx: BSD-3-Clause; the data: W. W. Zachary (1977), public",
    attribution="W. W. Zachary, An Information Flow Model for Conflict and Fission in Small Groups, "
    "J. Anthropological Research 33 (1977)",
    fetch=_fetch,
    load=_load,
    unit="members",
    sizes={"train": 2, "valid": 32, "test": 32},
))  # fmt: skip
