"""inst2vec embed: rows in file order, OOV rates, mean and flow pooling, one .npz without pickles."""
import numpy as np
import pytest

from inst2vec.cli import main
from inst2vec.embed import embed_file
from inst2vec.embeddings import load
from inst2vec.statements import file_statements


@pytest.fixture(scope="module")
def published(data_root):
    return load("published", data_root)


def test_embed_file(data_root, published):
    path = data_root / "threadcoarsening" / "kernels_ir" / "sgemm.ll"
    result = embed_file(path, published)
    statements = file_statements(path)
    assert result.indices.tolist() == published.vocabulary.indices(statements)
    unknown = sum(s not in published for s in statements)
    assert result.oov_rate == pytest.approx(unknown / len(statements))
    assert np.allclose(result.mean, published.matrix[result.indices].mean(axis=0), atol=1e-5)
    assert not np.allclose(result.flow, result.mean)  # the XFG context changes the pooling
    (name, mean, flow), = result.functions
    assert name.startswith("@") and mean.shape == flow.shape == (200,)
    assert repr(result) == (f"FileEmbedding<{path}: {len(statements)} statements ({100 * result.oov_rate:.1f} % out "
                            f"of vocabulary), functions: 1, dimensions: 200>")  # not every vector component


def test_embeddings_are_required(data_root):
    """`embed_file(path, None)` failed deep inside with "'NoneType' object has no attribute 'vocabulary'"."""
    path = data_root / "threadcoarsening" / "kernels_ir" / "sgemm.ll"
    with pytest.raises(TypeError, match=r"statement embeddings are needed here, not NoneType: pass inst2vec.load\(\)"):
        embed_file(path, None)


def test_cli_npz(data_root, tmp_path, capsys):
    files = [str(data_root / "threadcoarsening" / "kernels_ir" / k) for k in ("mt.ll", "sgemm.ll")]
    bad = tmp_path / "bad.ll"
    bad.write_text("garbage\n")
    out = tmp_path / "e.npz"
    assert main(["embed", *files, str(bad), "-o", str(out), "--data-root", str(data_root)]) == 1
    assert "bad.ll:1: not LLVM IR" in capsys.readouterr().err
    data = np.load(out, allow_pickle=False)
    assert data["files"].tolist() == files and data["offsets"].tolist()[-1] == len(data["indices"])
    assert data["statement_vectors"].shape == (len(data["indices"]), 200)
    assert data["file_mean"].shape == data["file_flow"].shape == (2, 200) and len(data["function_names"]) == 2
    # which embeddings the indices are rows of (not said before: "ours" and "published" number rows differently)
    assert str(data["embeddings"]) == "ours" and data["embeddings_shape"].tolist() == list(load().matrix.shape)
    assert main(["embed", files[0], "-o", str(out), "--embeddings", "published", "--data-root", str(data_root)]) == 0
    assert str(np.load(out)["embeddings"]) == "published" and np.load(out)["embeddings_shape"].tolist() == [8565, 200]


def test_statement_vectors_are_written_in_pieces_as_np_savez_writes_them(data_root, published, tmp_path,
                                                                          monkeypatch):
    """The same bytes as np.savez of the whole array (checked with pieces of 1,000 rows), without holding the
    statement vectors whole: they took 4 * dim bytes per statement of memory at once, 10.8 GB for the 13.5 M
    statements of our default corpus. --no-statement-vectors leaves them out."""
    import tracemalloc

    import inst2vec.embed as embed

    files = sorted((data_root / "devmap" / "kernels_ir").glob("*.ll"))[:60]
    results = [embed_file(f, published) for f in files]
    monkeypatch.setattr(embed, "WRITE_ROWS", 1000)
    tracemalloc.start()
    embed.save_embedded(results, published, tmp_path / "pieces.npz")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    with np.load(tmp_path / "pieces.npz", allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    n = len(arrays["indices"])
    assert n > 20000 and np.array_equal(arrays["statement_vectors"], published.matrix[arrays["indices"]])
    whole = 4 * 200 * n
    assert peak < whole / 4, (peak, whole)  # a gather of all rows alone is `whole`
    np.savez(tmp_path / "whole.npz", **arrays)
    assert (tmp_path / "whole.npz").read_bytes() == (tmp_path / "pieces.npz").read_bytes()
    assert main(["embed", *map(str, files[:2]), "-o", str(tmp_path / "lean.npz"), "--no-statement-vectors",
                 "--embeddings", "published", "--data-root", str(data_root)]) == 0
    with np.load(tmp_path / "lean.npz", allow_pickle=False) as lean:
        assert "statement_vectors" not in lean.files and len(lean["indices"]) > 0


def test_embed_says_how_to_leave_large_statement_vectors_out(data_root, tmp_path, monkeypatch, capsys):
    """`embed corpus/ir -o files.npz` writes 10.8 GB of statement vectors for the default corpus (13.5 M statements):
    it did so without a word."""
    import inst2vec.cli

    files = [str(f) for f in sorted((data_root / "devmap" / "kernels_ir").glob("*.ll"))[:2]]
    n = sum(len(file_statements(f)) for f in files)
    monkeypatch.setattr(inst2vec.cli, "LARGE_STATEMENT_VECTORS", 4 * 200 * n)
    note = f"holds {n:,} statement vectors ({4 * 200 * n / 1e9:.1f} GB); --no-statement-vectors leaves them out"
    for lean in ([], ["--no-statement-vectors"]):
        assert main(["embed", *files, "-o", str(tmp_path / "v.npz"), "--data-root", str(data_root), *lean]) == 0
        assert (note in capsys.readouterr().err) == (not lean)
    monkeypatch.setattr(inst2vec.cli, "LARGE_STATEMENT_VECTORS", 4 * 200 * n + 1)
    assert main(["embed", *files, "-o", str(tmp_path / "v.npz"), "--data-root", str(data_root)]) == 0
    assert "note:" not in capsys.readouterr().err


def test_flow_pooling_skips_the_networkx_graph_and_does_not_depend_on_the_order_of_the_instances(
        data_root, published, monkeypatch):
    """`embed` built each file's networkx graph only to take its dual graph (20 % of an embedding, 1.51 -> 0.82 s
    for a 66,000-statement file); it now takes the XFG builder's edges, which number the statement instances
    in another order. The neighbour sums were float32 in the order of the instances, so 56 of the 702 devmap and
    thread-coarsening kernels got other last bits that way. Summed in float64 they are the same in either order:
    here the flow vectors through the graph's dual graph equal those through the edges', bit for bit."""
    import glob

    import inst2vec.embed
    from inst2vec.pairs import dual_graph
    from inst2vec.xfg import build_xfg

    files = sorted(glob.glob(str(data_root / "devmap" / "kernels_ir" / "*.ll")))[::4]
    through_edges = [embed_file(path, published) for path in files]
    monkeypatch.setattr(inst2vec.embed, "module_dual_graph",
                        lambda module, tokens: dual_graph(build_xfg(module, tokens), return_units=True))
    through_graph = [embed_file(path, published) for path in files]
    assert len(files) > 50
    for path, got, want in zip(files, through_edges, through_graph):
        assert np.array_equal(got.flow, want.flow), path
        assert all(np.array_equal(a[2], b[2]) for a, b in zip(got.functions, want.functions)), path
