"""Skip-gram training on real XFG context pairs (small and seeded, single thread)."""
import glob
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gensim.models import KeyedVectors

from inst2vec.cli import main
from inst2vec.embeddings import Embeddings, load
from inst2vec.skipgram import embeddings_from_corpus, train_skipgram
from inst2vec.vocabulary import Vocabulary


@pytest.fixture(scope="module")
def kernels(data_root):
    return sorted(glob.glob(str(data_root / "threadcoarsening" / "kernels_ir" / "*.ll")))


def test_training_on_kernels(kernels):
    embeddings, report, summary = embeddings_from_corpus(kernels, threshold=0, dim=16, epochs=4, workers=1)
    assert summary["files"] == 17 and summary["statements"] == 1331 and summary["pairs_drawn"] > 10_000
    assert embeddings.matrix.shape == (summary["vocabulary"], 16) and np.isfinite(embeddings.matrix).all()
    assert report.pairs == summary["pairs_drawn"] and report.words_per_second > 0
    assert len(report.losses) == 4  # gensim's running loss: reported, too unreliable to assert on
    # It learns: statements end up far closer to their nearest neighbour than to an average one.
    unit = embeddings.normalized
    similarity = unit @ unit.T
    assert similarity[np.triu_indices(len(unit), 1)].mean() < np.sort(similarity, axis=1)[:, -2].mean()


def test_bad_arguments():
    vocabulary = Vocabulary.build({"a": 2, "b": 2})
    with pytest.raises(ValueError, match="no context pairs"):
        train_skipgram(np.zeros(0, np.int32), np.zeros(0, np.int32), vocabulary)
    with pytest.raises(ValueError, match="dim=0"):
        train_skipgram(np.array([1]), np.array([2]), vocabulary, dim=0)


def test_a_folder_given_for_the_file_list_is_refused(kernels):
    """A path where the list of files goes was read as one file per character ('/', 'w', ...), each skipped."""
    from inst2vec.batch import collect_ir_files
    from inst2vec.pairs import corpus_pairs
    from tasks.encoding import encode_files

    folder = os.path.dirname(kernels[0])
    message = rf"files is a list of paths, not one path \('{folder}'\); pass \[path\], or for a folder's IR files " \
        rf"inst2vec.batch.collect_ir_files\(\[folder\]\)\[0\]"
    for call in (lambda: embeddings_from_corpus(folder), lambda: corpus_pairs(folder, Vocabulary(["!UNK"])),
                 lambda: encode_files(folder, load()), lambda: embeddings_from_corpus(Path(folder))):
        with pytest.raises(TypeError, match=message):
            call()
    with pytest.raises(TypeError, match=r"inputs is a list of paths, not one path"):
        collect_ir_files(folder)
    assert collect_ir_files([folder])[0] == kernels


def test_a_cutoff_above_every_count_says_so(kernels, tmp_path, capsys):
    """It said 'no context pairs (empty corpus, or everything subsampled away)', neither of which was the case."""
    assert main(["train-embeddings", *kernels[:2], "-o", str(tmp_path / "m"), "--cutoff", "100000"]) == 2
    err = capsys.readouterr().err
    assert "no statement is seen more than 100000 times (--cutoff), so none is in the vocabulary; the most " \
        "frequent is seen" in err and not (tmp_path / "m").exists()


def test_cli_writes_a_loadable_model(kernels, tmp_path, capsys):
    out = tmp_path / "model"
    out.mkdir()
    for stale in ("vocabulary.json", "embeddings.w2v.txt"):  # an earlier version's uncompressed files: replaced
        (out / stale).write_text("stale")
    assert main(["train-embeddings", *kernels[:6], "-o", str(out), "--dim", "8", "--epochs", "1",
                 "--subsample", "0", "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["files"] == 6
    record = json.loads((out / "training.json").read_text())
    assert record["seed"] == 0 and record["versions"]["gensim"] and record["dim"] == 8
    assert record["workers"] == 1  # -j 1 (the default): a rerun repeats exactly, so the record says so
    assert sorted(p.name for p in out.iterdir()) == ["embeddings.npy", "embeddings.w2v.txt.gz", "training.json",
                                                     "vocabulary.json.gz"]
    assert load(out).matrix.shape[1] == 8
    header = f"{record['vocabulary']} 8\n".encode()
    assert gzip.decompress((out / "embeddings.w2v.txt.gz").read_bytes()).startswith(header)
    keyed = KeyedVectors.load_word2vec_format(out / "embeddings.w2v.txt.gz")
    assert len(keyed) == record["vocabulary"] and np.allclose(keyed["!UNK"], load(out)["!UNK"], atol=1e-5)
    assert main(["evaluate-embeddings", str(out), "--json"]) == 0
    ours = json.loads(capsys.readouterr().out)["analogy"]["total"]
    assert main(["evaluate-embeddings", "published", "--common-with", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["analogy"]["total"] == ours  # the same questions for both
    assert main(["evaluate-embeddings", str(out), "--questions", "generated", "--json"]) == 0


def test_an_interrupted_run_leaves_the_earlier_files_whole(kernels, tmp_path, monkeypatch):
    """The files were replaced one after the other: a run stopped while writing the word2vec text (the slowest)
    left its embeddings beside the earlier run's word2vec file and training.json."""
    out = tmp_path / "model"
    command = ["train-embeddings", *kernels[:4], "-o", str(out), "--dim", "8", "--epochs", "1", "--no-progress"]
    assert main(command) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def interrupted(self, path):
        Path(path).write_text("4 8\n")  # a start, then the interruption
        raise KeyboardInterrupt

    monkeypatch.setattr(Embeddings, "save_word2vec", interrupted)
    assert main(command + ["--seed", "1"]) == 130  # "interrupted"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no temporary file left either


def test_one_job_repeats_exactly_whatever_the_hash_seed(kernels, tmp_path):
    """The docs said an exact rerun also needs a fixed PYTHONHASHSEED; gensim 4 seeds its vectors without hashing."""
    matrices = []
    for hash_seed in ("1", "2"):
        out = tmp_path / hash_seed
        subprocess.run([sys.executable, "-m", "inst2vec.cli", "train-embeddings", *kernels[:4], "-o", str(out),
                        "--dim", "8", "--epochs", "1", "-j", "1", "--no-progress"], check=True, capture_output=True,
                       env={**os.environ, "PYTHONHASHSEED": hash_seed})
        matrices.append([(out / name).read_bytes() for name in ("embeddings.npy", "embeddings.w2v.txt.gz",
                                                                 "vocabulary.json.gz")])
    assert matrices[0] == matrices[1]  # the gzip files too: no time or name in their headers
