"""Context pairs from the XFG (paper section 4): statements in each other's context, subsampled.

Two statement instances are neighbours in the dual graph when their XFG edges share a node;
the context of a statement is every instance within ``width`` hops. ``context_pairs`` counts
(target, context) statement pairs in one module; ``subsample_pairs`` draws the training pairs.

Differences from the original (spcl/ncc ``inst2vec_vocabulary.py``), both bug fixes:
* a pair of two cut-off (``!UNK``) statements is skipped with ``continue``; the original's
  ``break`` dropped the rest of the row;
* the subsampling threshold stays the threshold; the original's loop variable ``t``
  overwrote it, so from the second pair on the ``t > 0`` test read a statement index.
"""
from __future__ import annotations

from collections import Counter

import networkx as nx
import numpy as np
import scipy.sparse as sp

import os

from inst2vec.ir import read_module
from inst2vec.vocabulary import UNKNOWN, Vocabulary
from inst2vec.xfg import build_xfg


def dual_graph(xfg: nx.MultiDiGraph) -> tuple[sp.csr_matrix, list[str]]:
    """Adjacency of statement instances that share an XFG node, and each instance's statement.

    Returns:
        ``(adjacency, statements)``: a symmetric boolean ``(n, n)`` CSR matrix with an empty
        diagonal, and the statement text of each of the ``n`` instances.
    """
    instance_of: dict[int, int] = {}
    statements: list[str] = []
    node_of: dict[str, int] = {}
    rows, cols = [], []
    for source, target, data in xfg.edges(data=True):
        index = data.get("index", -1)
        if index is None or int(index) < 0:
            continue
        k = instance_of.get(index)
        if k is None:
            k = instance_of[index] = len(statements)
            statements.append(data["stmt"])
        for node in (source, target):
            rows.append(k)
            cols.append(node_of.setdefault(node, len(node_of)))
    n = len(statements)
    if n == 0:
        return sp.csr_matrix((0, 0), dtype=bool), statements
    incidence = sp.csr_matrix((np.ones(len(rows), dtype=np.int32), (rows, cols)), shape=(n, len(node_of)))
    adjacency = (incidence @ incidence.T).astype(bool).tolil()
    adjacency.setdiag(False)
    return adjacency.tocsr(), statements


def context_pairs(xfg: nx.MultiDiGraph, width: int = 2, vocabulary: Vocabulary | None = None) -> Counter:
    """Count (target, context) statement pairs of one module within ``width`` dual-graph hops.

    Pairs of equal statements are not counted. With a ``vocabulary``, statements outside it
    become ``!UNK`` and pairs of two ``!UNK`` are skipped.
    """
    if width < 1:
        raise ValueError(f"`width` must be >= 1. Received: width={width}")
    adjacency, statements = dual_graph(xfg)
    if adjacency.shape[0] == 0:
        return Counter()
    reach = adjacency.astype(np.int32)
    step = reach
    for _ in range(width - 1):
        step = (step @ adjacency.astype(np.int32)).astype(bool).astype(np.int32)
        reach = reach + step
    reach = reach.tocoo()
    if vocabulary is not None:
        statements = [s if s in vocabulary else UNKNOWN for s in statements]
    pairs: Counter = Counter()
    for i, j in zip(reach.row.tolist(), reach.col.tolist()):
        if i == j:
            continue
        target, context = statements[i], statements[j]
        if target == context:  # also skips !UNK-!UNK (the original's `break` bug is not kept)
            continue
        pairs[(target, context)] += 1
    return pairs


def subsample_pairs(pairs: Counter, threshold: float = 1e-7, seed: int = 0) -> list[tuple[str, str]]:
    """Draw training pairs: each occurrence is kept with probability ``min(1, sqrt(t*N/count))``.

    ``N`` is the number of pair occurrences in ``pairs`` (one module, as in the original) and
    ``count`` that of the pair; each kept occurrence gives ``(context, target)`` and, drawn
    independently, ``(target, context)``. ``threshold=0`` keeps every occurrence once each way.
    """
    if threshold < 0:
        raise ValueError(f"`threshold` must be >= 0. Received: threshold={threshold}")
    rng = np.random.default_rng(seed)
    total = sum(pairs.values())
    out: list[tuple[str, str]] = []
    for (target, context), count in sorted(pairs.items()):
        if threshold == 0:
            out.extend([(context, target), (target, context)] * count)
            continue
        keep = min(1.0, float(np.sqrt(threshold * total / count)))
        draws = rng.random((count, 2)) < keep
        out.extend([(context, target)] * int(draws[:, 0].sum()))
        out.extend([(target, context)] * int(draws[:, 1].sum()))
    return out


def file_context_pairs(path: str | os.PathLike, width: int = 2, vocabulary: Vocabulary | None = None) -> Counter:
    """:func:`context_pairs` of the XFG of one ``.ll`` file."""
    return context_pairs(build_xfg(read_module(path)), width, vocabulary)
