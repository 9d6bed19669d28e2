"""Context pairs from the XFG (paper section 4): statements in each other's context, subsampled.

Two statement instances are neighbours in the dual graph when their XFG edges share a node;
the context of a statement is every instance within ``width`` hops. ``context_pairs`` counts
(target, context) statement pairs in one module; ``subsample_pairs`` (``draw_pairs`` on arrays) draws the
training pairs.

Differences from the original (spcl/ncc ``inst2vec_vocabulary.py``), both bug fixes:
* a pair of two cut-off (``!UNK``) statements is skipped with ``continue``; the original's
  ``break`` dropped the rest of the row;
* the subsampling threshold stays the threshold; the original's loop variable ``t``
  overwrote it, so from the second pair on the ``t > 0`` test read a statement index.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable

import networkx as nx
import numpy as np
import scipy.sparse as sp

import os

from inst2vec.ir import IRModule, read_module
from inst2vec.vocabulary import UNKNOWN, Vocabulary
from inst2vec.xfg import xfg_edges


#: Nodes touched by more statements than this are left out of the dual graph: a hub such as the
#: root ``@0`` of a module with thousands of globals would make every pair of them neighbours
#: (millions of pairs that say little). The original had no such bound and cached huge matrices.
MAX_SHARED = 500


def dual_graph(xfg: nx.MultiDiGraph, max_shared: int | None = MAX_SHARED, return_units: bool = False
               ) -> tuple[sp.csr_matrix, list[str]] | tuple[sp.csr_matrix, list[str], list[int]]:
    """Adjacency of statement instances that share an XFG node, and each instance's statement.

    Args:
        xfg: the graph of one module.
        max_shared: nodes touched by more statement instances than this link none of them
            (``None``: no bound).

    Returns:
        ``(adjacency, statements)``: a symmetric boolean ``(n, n)`` CSR matrix with an empty
        diagonal, and the statement text of each of the ``n`` instances; with ``return_units``
        also each instance's unit index in the module (the edges' ``index``).
    """
    edges = ((source, target, data.get("index", -1), data.get("stmt")) for source, target, data in xfg.edges(data=True))
    adjacency, statements, units = _dual_graph_of_edges(edges, max_shared)
    return (adjacency, statements, units) if return_units else (adjacency, statements)


def _dual_graph_of_edges(edges: Iterable[tuple[str, str, object, str]], max_shared: int | None
                         ) -> tuple[sp.csr_matrix, list[str], list[int]]:
    """:func:`dual_graph` of the XFG's edges as ``(source, target, index, statement)``, with the units."""
    instance_of: dict[int, int] = {}
    statements: list[str] = []
    node_of: dict[str, int] = {}
    rows, cols = [], []
    for source, target, index, statement in edges:
        if index is None or int(index) < 0:
            continue
        k = instance_of.get(index)
        if k is None:
            k = instance_of[index] = len(statements)
            statements.append(statement)
        for node in (source, target):
            rows.append(k)
            cols.append(node_of.setdefault(node, len(node_of)))
    n = len(statements)
    units = [int(i) for i in instance_of]  # dicts keep insertion order: instance k <-> k-th unit seen
    if n == 0:
        return sp.csr_matrix((0, 0), dtype=bool), statements, units
    incidence = sp.csr_matrix((np.ones(len(rows), dtype=np.int32), (rows, cols)), shape=(n, len(node_of)))
    incidence.data = np.minimum(incidence.data, 1)  # an instance touching a node twice counts once
    if max_shared is not None:
        shared = np.asarray(incidence.sum(axis=0)).ravel()
        incidence = incidence[:, np.flatnonzero(shared <= max_shared)]
    adjacency = (incidence @ incidence.T).tocsr()
    adjacency.setdiag(0)
    adjacency.eliminate_zeros()
    return adjacency.astype(bool), statements, units


def module_dual_graph(module: IRModule, tokens: list[str] | None = None, max_shared: int | None = MAX_SHARED
                      ) -> tuple[sp.csr_matrix, list[str], list[int]]:
    """:func:`dual_graph` of a module's XFG, with the units, without building the graph (:func:`xfg_edges`):
    building a networkx graph of the edges took 15 % of a file's pairs and 20 % of its embedding.
    The instances may come in another order than ``dual_graph``'s: it does not matter to its callers."""
    edges, tokens = xfg_edges(module, tokens)
    return _dual_graph_of_edges(((source, target, index, tokens[index]) for source, target, index, _ in edges),
                                max_shared)


def context_pairs(xfg: nx.MultiDiGraph, width: int = 2, vocabulary: Vocabulary | None = None,
                  max_shared: int | None = MAX_SHARED) -> Counter:
    """Count (target, context) statement pairs of one module within ``width`` dual-graph hops.

    Pairs of equal statements are not counted. With a ``vocabulary``, statements outside it
    become ``!UNK`` and pairs of two ``!UNK`` are skipped.
    """
    names, targets, contexts, counts = _pair_counts(xfg, width, vocabulary, max_shared)
    return Counter({(names[t], names[c]): n for t, c, n in zip(targets.tolist(), contexts.tolist(), counts.tolist())})


def _pair_counts(xfg: nx.MultiDiGraph, width: int, vocabulary: Vocabulary | None, max_shared: int | None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`context_pairs` as arrays: the statements (sorted), and per pair the positions of its target and
    context among them and its count, the pairs in the order of (target, context)."""
    return _reach_counts(*dual_graph(xfg, max_shared), width, vocabulary)


def _reach_counts(adjacency: sp.csr_matrix, statements: list[str], width: int, vocabulary: Vocabulary | None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_pair_counts` of the dual graph: what does not depend on the order of its instances."""
    if width < 1:
        raise ValueError(f"`width` must be >= 1. Received: width={width}")
    if adjacency.shape[0] == 0:
        empty = np.zeros(0, dtype=np.int64)
        return np.array([], dtype=object), empty, empty, empty
    step = adjacency.astype(np.int32)
    reach = step.copy()
    for _ in range(width - 1):
        step = (step @ adjacency.astype(np.int32)).astype(bool).astype(np.int32)
        reach = reach + step
    reach = reach.tocoo()
    if vocabulary is not None:
        statements = [s if s in vocabulary else UNKNOWN for s in statements]
    names, ids = np.unique(np.array(statements, dtype=object), return_inverse=True)
    targets, contexts = ids[reach.row], ids[reach.col]
    keep = (reach.row != reach.col) & (targets != contexts)  # also skips !UNK-!UNK (no `break` bug)
    keys, counts = np.unique(targets[keep].astype(np.int64) * len(names) + contexts[keep], return_counts=True)
    return names, keys // len(names), keys % len(names), counts.astype(np.int64)


def subsample_pairs(pairs: Counter, threshold: float = 1e-7, seed: int = 0) -> list[tuple[str, str]]:
    """Draw training pairs: each occurrence is kept with probability ``min(1, sqrt(t*N/count))``.

    ``N`` is the number of pair occurrences in ``pairs`` (one module, as in the original) and
    ``count`` that of the pair; each kept occurrence gives ``(context, target)`` and, drawn
    independently, ``(target, context)``. ``threshold=0`` keeps every occurrence once each way.
    (:func:`draw_pairs` does the same on arrays, as :func:`corpus_pairs` uses it.)
    """
    keys = sorted(pairs)
    names = [t for t, _ in keys] + [c for _, c in keys]
    positions = np.arange(len(keys))
    first, second = draw_pairs(positions, positions + len(keys), np.array([pairs[k] for k in keys], dtype=np.int64),
                               threshold, seed)
    return [(names[a], names[b]) for a, b in zip(first.tolist(), second.tolist())]


#: Pair occurrences whose random draws :func:`draw_pairs` makes at once (16 bytes each).
DRAW_CHUNK = 1 << 20


def draw_pairs(targets: np.ndarray, contexts: np.ndarray, counts: np.ndarray, threshold: float = 1e-7,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """:func:`subsample_pairs` on arrays: pair ``k`` is (``targets[k]``, ``contexts[k]``) seen ``counts[k]`` times,
    the pairs in the order of their statements. Returns the first and second element of each drawn pair.

    Pair by pair, its kept occurrences give ``(context, target)`` and then ``(target, context)`` (with
    ``threshold=0``: the two alternating, once per occurrence), drawn from the same random numbers in the same
    order as one ``rng.random((count, 2))`` per pair did, so the pairs are those of that loop, bit for bit, at a
    fraction of its time (it was a third of ``pairs``'s).
    """
    if threshold < 0:
        raise ValueError(f"`threshold` must be >= 0. Received: threshold={threshold}")
    targets, contexts = np.asarray(targets), np.asarray(contexts)
    counts = np.asarray(counts, dtype=np.int64)
    if threshold == 0:  # [(context, target), (target, context)] * count, pair by pair
        pair = np.repeat(np.arange(len(counts)), 2 * counts)
        flipped = (np.arange(len(pair)) - np.repeat(np.cumsum(2 * counts) - 2 * counts, 2 * counts)) % 2 == 1
        return np.where(flipped, targets[pair], contexts[pair]), np.where(flipped, contexts[pair], targets[pair])
    rng = np.random.default_rng(seed)
    keep = np.minimum(1.0, np.sqrt(threshold * int(counts.sum()) / counts))
    kept = np.zeros((len(counts), 2), dtype=np.int64)  # per pair: (context, target) and (target, context) copies
    ends = np.cumsum(counts)
    start = 0
    while start < len(counts):  # pairs in chunks of about DRAW_CHUNK occurrences: the draws of a large module
        first_occurrence = ends[start] - counts[start]
        stop = max(start + 1, int(np.searchsorted(ends, first_occurrence + DRAW_CHUNK, side="right")))
        chunk = counts[start:stop]
        draws = rng.random((int(chunk.sum()), 2)) < np.repeat(keep[start:stop], chunk)[:, None]
        kept[start:stop] = np.add.reduceat(draws, np.cumsum(chunk) - chunk, axis=0, dtype=np.int64)
        start = stop
    copies = kept.ravel()
    return (np.repeat(np.column_stack([contexts, targets]).ravel(), copies),
            np.repeat(np.column_stack([targets, contexts]).ravel(), copies))


def file_pair_counts(path: str | os.PathLike, vocabulary: Vocabulary, width: int = 2
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`context_pairs` of the XFG of one ``.ll`` file as arrays: the vocabulary rows of each pair's target
    and context, and its count, the pairs in the order of (target, context) statements (as :func:`draw_pairs`
    takes them). Arrays, not a ``Counter`` of statement pairs: a worker process sends them back in a fraction
    of the bytes."""
    adjacency, statements, _ = module_dual_graph(read_module(path))
    names, targets, contexts, counts = _reach_counts(adjacency, statements, width, vocabulary)
    rows = np.asarray(vocabulary.indices(names.tolist()), dtype=np.int32)
    return rows[targets], rows[contexts], counts


def corpus_pairs(files: list[str], vocabulary: Vocabulary, width: int = 2, threshold: float = 1e-7,
                 seed: int = 0, jobs: int = 1, progress: bool | None = None
                 ) -> tuple[np.ndarray, np.ndarray, int, list[str]]:
    """Drawn context pairs of many files as vocabulary rows (file ``k`` subsampled with its own seed).

    Returns:
        ``(targets, contexts, occurrences, errors)``: int32 arrays of equal length, the number of
        pair occurrences before subsampling, and one message per file that could not be read.
    """
    import functools

    from inst2vec.batch import run_batch

    targets, contexts, errors, occurrences = [], [], [], 0
    worker = functools.partial(file_pair_counts, vocabulary=vocabulary, width=width)
    for k, result in enumerate(run_batch(worker, files, jobs, progress, "pairs")):
        if not result.ok:
            errors.append(result.error)
            continue
        pair_targets, pair_contexts, counts = result.value
        occurrences += int(counts.sum())
        first, second = draw_pairs(pair_targets, pair_contexts, counts, threshold, seed=seed * 1_000_003 + k)
        targets.append(first)
        contexts.append(second)
    empty = np.zeros(0, dtype=np.int32)
    return (np.concatenate(targets) if targets else empty, np.concatenate(contexts) if contexts else empty,
            occurrences, errors)
