"""Quick mode of the neural protocols: small POJ-104 subsets, few epochs, still clearly learning."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import inst2vec
from inst2vec.cli import main
from tasks import classifyapp
from inst2vec.errors import Inst2vecError
from tasks.encoding import encode_ngrams
from tasks.learners import TrainingSettings


@pytest.fixture(scope="module")
def poj_subset(data_root, tmp_path_factory):
    work = tmp_path_factory.mktemp("poj104")
    data = classifyapp.compile_poj104(data_root, work, per_class=20, classes=8, jobs=2)
    return work, data


def test_split_is_per_class_3_1_1_and_disjoint(poj_subset):
    _, data = poj_subset
    train, validation, test = classifyapp.split(data, seed=0)
    assert not set(train) & set(test) and not set(validation) & set(test)
    assert len(train) + len(validation) + len(test) == len(data.files)
    for label in np.unique(data.labels):
        n = np.sum(data.labels == label)
        assert abs(np.sum(data.labels[train] == label) - 0.6 * n) <= 1
    assert not np.array_equal(classifyapp.split(data, seed=1)[2], test)


def test_bag_of_statements_learns(poj_subset, data_root):
    _, data = poj_subset
    result = classifyapp.run(data, "bag", inst2vec.load("published", data_root), "published", [0, 1],
                             TrainingSettings())
    for seed in result["seeds"]:
        assert seed["accuracy"] > seed["majority_accuracy"] + 0.4
    assert result["accuracy_std"] >= 0 and len(result["seeds"]) == 2


def test_statement_ngrams_learn_and_use_training_columns_only(poj_subset, data_root, tmp_path):
    _, data = poj_subset
    ids = encode_ngrams([data.files[0]])[0]
    assert len(ids) % 2 == 1 and ids.dtype == np.int64  # n statements and their n - 1 consecutive pairs
    with pytest.raises(Inst2vecError, match="missing.ll"):
        encode_ngrams([data.files[0], str(tmp_path / "missing.ll")])
    result = classifyapp.run(data, "ngram", inst2vec.load("published", data_root), "published", [0],
                             TrainingSettings())
    seed = result["seeds"][0]
    assert seed["accuracy"] > seed["majority_accuracy"] + 0.4 and seed["details"]["ngram_columns"] > 0
    ngrams = [np.array([1, 2, 3]), np.array([2, 3, 3, 9]), np.array([3, 7]), np.array([7, 9, 9])]
    counts = classifyapp.ngram_counts(ngrams, train=np.array([0, 1, 2]), min_files=2).toarray()
    assert counts.tolist() == [[1, 1], [1, 2], [0, 1], [0, 0]]  # columns 2 and 3; 7 and 9 not in 2 training files


def test_ncc_task_and_predict_from_the_command_line(poj_subset, tmp_path, capsys):
    work, data = poj_subset
    out = tmp_path / "results"
    assert main(["task", "classifyapp", "--model", "ncc", "--per-class", "20", "--classes", "8",
                 "--work-dir", str(work), "--seeds", "1", "--epochs", "15", "--max-length", "512",
                 "--save-models", "-o", str(out)]) == 0
    result = json.loads((out / "classifyapp-ncc-published.json").read_text())
    seed = result["seeds"][0]
    assert seed["accuracy"] > 2 * seed["majority_accuracy"]  # learning, on held-out programs
    assert {"task", "platform", "model", "embeddings", "accuracy_mean", "accuracy_std"} <= set(result)
    assert result["protocol"]["optimizer"] == "adam"
    capsys.readouterr()
    model = out / "classifyapp-ncc-published-seed0.keras"
    assert main(["predict", str(model), data.files[0], str(tmp_path / "missing.ll")]) == 1
    captured = capsys.readouterr()
    path, label, probability = captured.out.strip().split("\t")
    assert path == data.files[0] and label in data.classes and 0 < float(probability) <= 1
    assert "missing.ll" in captured.err


def test_ncc_model_runs_on_the_torch_backend():
    script = textwrap.dedent("""
        import numpy as np, keras
        from tasks import ncc
        assert keras.backend.backend() == "torch"
        rng = np.random.default_rng(0)
        model = ncc.build_ncc_model(3, dim=8, aux_inputs=2, lstm_units=8, dense_units=4)
        sequences = [rng.integers(0, 10, rng.integers(3, 40)) for _ in range(40)]
        vectors = rng.normal(size=(10, 8)).astype("float32")
        labels, aux = rng.integers(0, 3, 40), rng.normal(size=(40, 2))
        model.fit(ncc.make_batches(sequences, vectors, 0, labels, aux, 8, 64, seed=0, two_outputs=True),
                  epochs=2, verbose=0)
        p = ncc.predict_proba(model, sequences, vectors, 0, aux, 8, 64)
        assert p.shape == (40, 3) and np.allclose(p.sum(axis=1), 1, atol=1e-5)
        print("ok")
    """)
    env = dict(os.environ, KERAS_BACKEND="torch")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("ok")


def test_a_smaller_selection_reuses_the_build_and_keeps_to_its_programs(poj_subset, data_root):
    work, data = poj_subset
    smaller = classifyapp.compile_poj104(data_root, work, per_class=5, classes=8, jobs=2)
    assert len(smaller.files) <= 40 and set(smaller.files) <= set(data.files)
    assert np.bincount(smaller.labels).max() <= 5


def test_optimizer_specs():
    from inst2vec.errors import Inst2vecError
    from tasks.learners import make_optimizer

    sgd = make_optimizer("sgd:0.05")
    assert type(sgd).__name__ == "SGD" and sgd.get_config()["momentum"] == 0.9
    assert abs(float(sgd.get_config()["learning_rate"]) - 0.05) < 1e-9
    assert type(make_optimizer("adam")).__name__ == "Adam"
    for bad in ("sgd", "sgd:-1", "sgd:fast", "adam:0.1", "rmsprop"):
        with pytest.raises(Inst2vecError, match="sgd:LEARNING_RATE"):
            make_optimizer(bad)
