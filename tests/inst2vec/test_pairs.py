"""Context pairs: dual graph, widths, the original's two subsampling bugs fixed, determinism."""
from collections import Counter

import networkx as nx
import numpy as np
import pytest

from inst2vec.ir import parse_module
from inst2vec.pairs import context_pairs, dual_graph, subsample_pairs
from inst2vec.vocabulary import UNKNOWN, Vocabulary
from inst2vec.xfg import build_xfg


def _chain(*statements):
    """An XFG that is a path a -> b -> c ...: statement k joins node k and node k+1."""
    graph = nx.MultiDiGraph()
    for k, stmt in enumerate(statements):
        graph.add_edge(f"n{k}", f"n{k + 1}", stmt=stmt, flow="data", index=k, line=k + 1)
    return graph


def test_dual_graph_links_statements_sharing_a_node():
    adjacency, statements = dual_graph(_chain("A", "B", "C"))
    assert statements == ["A", "B", "C"]
    assert adjacency.toarray().tolist() == [[False, True, False], [True, False, True], [False, True, False]]


def test_context_width():
    graph = _chain("A", "B", "C", "D")
    assert context_pairs(graph, width=1) == Counter({("A", "B"): 1, ("B", "A"): 1, ("B", "C"): 1, ("C", "B"): 1,
                                                     ("C", "D"): 1, ("D", "C"): 1})
    two = context_pairs(graph, width=2)
    assert two[("A", "C")] == 1 and two[("A", "D")] == 0
    assert context_pairs(graph, width=3)[("A", "D")] == 1
    with pytest.raises(ValueError, match="width"):
        context_pairs(graph, width=0)


def test_equal_statements_and_unknown_pairs_are_skipped_but_rows_go_on():
    """(!UNK, !UNK) is skipped with `continue`: the later pairs of the row survive (original: `break`)."""
    graph = _chain("X", "Y", "A", "Z")
    vocabulary = Vocabulary.build({"A": 5, "Z": 5})
    pairs = context_pairs(graph, width=3, vocabulary=vocabulary)
    assert (UNKNOWN, UNKNOWN) not in pairs
    assert pairs[(UNKNOWN, "A")] == 2 and pairs[(UNKNOWN, "Z")] == 2 and pairs[("A", "Z")] == 1


def test_subsampling_formula_and_determinism():
    pairs = Counter({("A", "B"): 400, ("B", "A"): 100})
    # N = 500, t = 1e-3: keep = sqrt(0.5/400) = 0.0354 for (A, B), sqrt(0.5/100) = 0.0707 for (B, A)
    drawn = subsample_pairs(pairs, threshold=1e-3, seed=7)
    assert drawn == subsample_pairs(pairs, threshold=1e-3, seed=7)
    n_ab = sum(1 for p in drawn if p in {("A", "B"), ("B", "A")})
    expected = 2 * (400 * (0.5 / 400) ** 0.5 + 100 * (0.5 / 100) ** 0.5)  # both directions, 42.4
    assert abs(n_ab - expected) < 4 * expected ** 0.5
    assert sorted(subsample_pairs(Counter({("A", "B"): 2}), threshold=0)) == [("A", "B"), ("A", "B"), ("B", "A"),
                                                                              ("B", "A")]
    with pytest.raises(ValueError, match="threshold"):
        subsample_pairs(pairs, threshold=-1)


def _drawn_one_pair_at_a_time(pairs: Counter, threshold: float, seed: int) -> list[tuple[str, str]]:
    """The loop :func:`draw_pairs` replaced (a third of `pairs`'s time), as the reference for its draws."""
    rng = np.random.default_rng(seed)
    total = sum(pairs.values())
    out = []
    for (target, context), count in sorted(pairs.items()):
        if threshold == 0:
            out.extend([(context, target), (target, context)] * count)
            continue
        keep = min(1.0, float(np.sqrt(threshold * total / count)))
        draws = rng.random((count, 2)) < keep
        out.extend([(context, target)] * int(draws[:, 0].sum()))
        out.extend([(target, context)] * int(draws[:, 1].sum()))
    return out


@pytest.mark.parametrize("threshold", [0.0, 1e-4, 1e-2, 1.0])
@pytest.mark.parametrize("chunk", [5, 1 << 20])
def test_drawn_pairs_are_those_of_the_loop_they_replace(data_root, monkeypatch, threshold, chunk):
    """Bit for bit, also when the draws are made in chunks (so trained embeddings do not change)."""
    from inst2vec import pairs as pairs_module

    monkeypatch.setattr(pairs_module, "DRAW_CHUNK", chunk)
    module = parse_module((data_root / "devmap" / "kernels_ir" / "npb-3.3-LU-rhsz_C.ll").read_text())
    pairs = context_pairs(build_xfg(module))
    assert sum(pairs.values()) > 20_000 and max(pairs.values()) > 5
    for seed in (0, 11):
        assert subsample_pairs(pairs, threshold, seed) == _drawn_one_pair_at_a_time(pairs, threshold, seed)
    assert subsample_pairs(Counter(), threshold) == []


def test_pairs_of_a_real_module(data_root):
    module = parse_module((data_root / "threadcoarsening" / "kernels_ir" / "mt.ll").read_text())
    pairs = context_pairs(build_xfg(module))
    assert pairs and all(t != c for t, c in pairs)
    assert all(pairs[(t, c)] == pairs[(c, t)] for t, c in pairs)  # the dual graph is undirected


def test_hub_nodes_are_bounded():
    """A node touched by more than `max_shared` statements links none of them (the root of a big module)."""
    graph = nx.MultiDiGraph()
    for k in range(6):
        graph.add_edge("@0", f"@g{k}", stmt=f"S{k}", flow="path", index=k, line=k + 1)
    assert len(context_pairs(graph, width=1, max_shared=None)) == 30
    assert context_pairs(graph, width=1, max_shared=5) == Counter()
    adjacency, _ = dual_graph(graph, max_shared=6)
    assert adjacency.nnz == 30


def test_pairs_of_a_file_skip_the_networkx_graph_and_stay_the_same(data_root):
    """`pairs` and `train-embeddings` built each file's networkx graph only to walk its edges again (15 % of a
    worker's time); `file_pair_counts` now walks the XFG builder's edges. The counts are those of the graph."""
    import glob

    from inst2vec.ir import read_module
    from inst2vec.pairs import MAX_SHARED, _pair_counts, file_pair_counts

    files = sorted(glob.glob(str(data_root / "devmap" / "kernels_ir" / "*.ll")))[::20]
    files += sorted(glob.glob(str(data_root / "threadcoarsening" / "kernels_ir" / "*.ll")))
    vocabulary = Vocabulary.build(Counter({"<%ID> = load float, float* <%ID>, align 4": 3, "ret void": 2}))
    for path in files:
        for known in (None, vocabulary):
            names, targets, contexts, counts = _pair_counts(build_xfg(read_module(path)), 2, known, MAX_SHARED)
            if known is None:  # every statement its own row
                known = Vocabulary.build(Counter(names.tolist()))
            rows = np.asarray(known.indices(names.tolist()))
            expected = (rows[targets], rows[contexts], counts)
            assert all(np.array_equal(got, want) for got, want in zip(file_pair_counts(path, known), expected)), path
    assert len(files) > 20
