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
