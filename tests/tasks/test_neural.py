"""Quick mode of the neural protocols: small POJ-104 subsets, few epochs, still clearly learning."""
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import inst2vec
from inst2vec.cli import main
from tasks import classifyapp
from inst2vec.errors import Inst2vecError
from tasks.encoding import encode_files
from tasks.learners import TrainingSettings
from tasks.linear_model import frequent_tokens, token_counts


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


def test_statement_ngrams_and_their_columns(poj_subset, data_root, tmp_path):
    _, data = poj_subset
    embeddings = inst2vec.load("published", data_root)
    encoded = encode_files(data.files[:2], embeddings, ngrams=True)
    ids = encoded.ngrams[0]
    assert len(ids) % 2 == 1 and ids.dtype == np.int64  # n statements and their n - 1 consecutive pairs
    assert len(ids) == 2 * len(encoded.sequences[0]) - 1
    statements = sum(map(len, encoded.sequences))
    assert repr(encoded) == f"EncodedFiles<2 files, {statements} statements, 200 dimensions, with n-grams>"
    assert encode_files(data.files[:2], embeddings).ngrams is None
    with pytest.raises(Inst2vecError, match="missing.ll"):
        encode_files([data.files[0], str(tmp_path / "missing.ll")], embeddings, ngrams=True)
    with pytest.raises(TypeError, match="statement embeddings are needed here, not str"):  # not load("published")
        encode_files(data.files[:2], "published")
    ngrams = [np.array([1, 2, 3]), np.array([2, 3, 3, 9]), np.array([3, 7]), np.array([7, 9, 9])]
    columns = frequent_tokens(ngrams[:3], min_files=2)
    assert columns.tolist() == [2, 3]  # 7 and 9 are not in 2 of the 3 training files
    assert token_counts(ngrams, columns).toarray().tolist() == [[1, 1], [1, 2], [0, 1], [0, 0]]


@pytest.mark.parametrize("model", ["ngram", "bag"])
def test_linear_model_learns_and_predict_uses_the_saved_model(poj_subset, tmp_path, capsys, model):
    work, data = poj_subset
    out = tmp_path / "results"
    model_flag = ["--model", model] if model != "ngram" else []  # ngram is the default model
    assert main(["task", "classifyapp", *model_flag, "--per-class", "20", "--classes", "8", "--work-dir", str(work),
                 "--seeds", "2", "--save-models", "-o", str(out)]) == 0
    result = json.loads((out / f"classifyapp-{model}-published.json").read_text())
    for seed in result["seeds"]:  # held-out programs
        assert seed["accuracy"] > seed["majority_accuracy"] + 0.4 and seed["details"]["columns"] > 0
    seed = result["seeds"][0]
    assert capsys.readouterr().out.startswith(f"classifyapp {model} (published): accuracy ")  # no platform, no gap
    test_rows = classifyapp.split(data, seed=0)[2][:6]
    files = [data.files[i] for i in test_rows]
    assert main(["predict", str(out / f"classifyapp-{model}-published-seed0.npz"), *files]) == 0
    lines = [line.split("\t") for line in capsys.readouterr().out.strip().splitlines()]
    assert [line[0] for line in lines] == files
    assert [line[1] for line in lines] == [data.classes[p] for p in seed["predictions"][:6]]  # as in the run
    # The programs' sources are compiled as the task compiled POJ-104 (header in front, C++11), not as plain C++
    # files: none of these 6 compiled that way (no #include for scanf or cin, `void main`).
    sources = [work / "selection-8x20" / "poj104" / Path(f).parent.name / Path(f).name.removesuffix(".O0.ll")
               for f in files]
    assert main(["predict", str(out / f"classifyapp-{model}-published-seed0.npz"), *map(str, sources)]) == 0
    assert [line.split("\t")[1:] for line in capsys.readouterr().out.strip().splitlines()] == [l[1:] for l in lines]
    truncated = tmp_path / "truncated.ll"
    text = Path(files[0]).read_text()
    truncated.write_text(text[:len(text) // 2])
    assert main(["predict", str(out / f"classifyapp-{model}-published-seed0.npz"), str(truncated), files[1]]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith(files[1] + "\t")  # the other file is still predicted
    assert re.match(rf"error: {re.escape(str(truncated))}:\d+: ", captured.err)  # names the file and line
    folder = tmp_path / "programs"
    folder.mkdir()
    for k, file in enumerate(files[:2]):  # a folder is searched for *.ll, as the batch commands do
        (folder / f"{k}.ll").write_text(Path(file).read_text())
    assert main(["predict", str(out / f"classifyapp-{model}-published-seed0.npz"), str(folder)]) == 0
    assert [line.split("\t")[1] for line in capsys.readouterr().out.splitlines()] == [line[1] for line in lines[:2]]
    (tmp_path / "no_ir").mkdir()
    assert main(["predict", str(out / f"classifyapp-{model}-published-seed0.npz"), str(tmp_path / "no_ir")]) == 2
    assert "error: no .ll or .bc files found in the inputs" in capsys.readouterr().err  # it used to say nothing
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    (tmp_path / "bad.npz.json").write_text(json.dumps({"kind": "linear", "model": "ngram", "embeddings": "published",
                                                          "labels": ["a", "b"]}))
    assert main(["predict", str(bad), files[0]]) == 2
    assert "bad.npz: cannot read the linear model" in capsys.readouterr().err
    (tmp_path / "bad.npz.json").write_text(json.dumps({"kind": "svm", "embeddings": "published", "labels": ["a", "b"]}))
    assert main(["predict", str(bad), files[0]]) == 2
    assert "unknown model kind 'svm'" in capsys.readouterr().err
    saved = out / f"classifyapp-{model}-published-seed0.npz"
    description = json.loads(Path(f"{saved}.json").read_text())
    Path(f"{saved}.json").write_text(json.dumps({k: v for k, v in description.items() if k != "model"}))
    assert main(["predict", str(saved), files[0]]) == 2
    assert "a linear model is a 'bag' or 'ngram' model, not None" in capsys.readouterr().err  # was a KeyError
    assert main(["task", "devmap", "--model", "grewe", "--save-models", "-o", str(out)]) == 2
    assert "cannot save devmap grewe models; it saves classifyapp bag" in capsys.readouterr().err


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
    assert result["protocol"]["optimizer"] == "adam" and result["protocol"]["recalibrate_batch_norm"] is False
    assert (result["protocol"]["epochs"], result["protocol"]["max_length"]) == (15, 512)
    capsys.readouterr()
    model = out / "classifyapp-ncc-published-seed0.keras"
    assert main(["predict", str(model), data.files[0], str(tmp_path / "missing.ll")]) == 1
    captured = capsys.readouterr()
    path, label, probability = captured.out.strip().split("\t")
    assert path == data.files[0] and label in data.classes and 0 < float(probability) <= 1
    assert "missing.ll" in captured.err


def test_an_interrupted_model_save_leaves_no_file(tmp_path):
    """Keras writes a .keras file by name: interrupted, it left half a file where the model should be."""
    from tasks.learners import save_model

    class Interrupted:
        def save(self, path):
            Path(path).write_bytes(b"PK\x03\x04 half a zip")
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        save_model(Interrupted(), tmp_path / "m.keras", {"task": "devmap"})
    assert list(tmp_path.iterdir()) == []


def test_a_model_compiled_with_an_optimizer_class_of_its_own_is_loaded_for_predict(tmp_path):
    """A model trained with --distributed names DistributedOptimizer's class, made while training: `predict` said
    "Could not locate class 'Adam'" (module train.keras_distributed). It needs no optimizer, so none is loaded."""
    import keras

    from tasks.cli import _load_keras_model

    class Adam(keras.optimizers.Adam):  # what DistributedOptimizer makes: a subclass of the optimizer's class
        pass

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=Adam(), loss="sparse_categorical_crossentropy")
    model.fit(np.ones((4, 3), np.float32), np.zeros(4, np.int32), verbose=0)
    model.save(tmp_path / "m.keras")
    with pytest.raises(TypeError, match="Could not locate class 'Adam'"):
        keras.models.load_model(tmp_path / "m.keras")
    loaded = _load_keras_model(tmp_path / "m.keras")
    assert np.array_equal(loaded.predict(np.ones((1, 3), np.float32), verbose=0),
                          model.predict(np.ones((1, 3), np.float32), verbose=0))


def test_devmap_ncc_model_is_saved_and_predict_takes_its_aux_inputs(data_root, tmp_path, capsys):
    import keras

    from tasks import devmap, ncc
    from tasks.datasets import load_devmap

    data = load_devmap("amd", data_root)
    embeddings = inst2vec.load("published", data_root)
    # What `inst2vec task devmap --model ncc --save-models` calls after the protocol's folds.
    model = devmap.save_full_model(data, embeddings, "published", TrainingSettings(epochs=1, max_length=32),
                                   str(tmp_path))
    assert model == str(tmp_path / "devmap-amd-ncc-published.keras")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["devmap-amd-ncc-published.keras",
                                                          "devmap-amd-ncc-published.keras.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(model).st_mode & 0o777 == 0o666 & ~umask  # as a plain open() makes it, not mkstemp's 0600
    row = 7
    transfer, wgsize = data.features[row, -2:]
    capsys.readouterr()
    assert main(["predict", str(model), data.files[row], "--aux", f"transfer={transfer:.0f}",
                 "--aux", f"wgsize={wgsize:.0f}", "--data-root", str(data_root)]) == 0
    path, device, probability = capsys.readouterr().out.strip().split("\t")
    assert path == data.files[row] and device in ("CPU", "GPU")
    # The same as the model applied to the row with the training rows' scaling (all 680 rows).
    raw = np.log1p(data.features[:, -2:])
    aux = (raw[row:row + 1] - raw.mean(axis=0)) / raw.std(axis=0)
    sequence = encode_files([data.files[row]], embeddings).sequences
    expected = ncc.predict_proba(keras.models.load_model(model), sequence,
                                 np.asarray(embeddings.normalized, dtype=np.float32),
                                 embeddings.vocabulary.unknown_index, aux, max_length=32)[0]
    assert device == ("CPU", "GPU")[int(expected.argmax())] and abs(float(probability) - expected.max()) < 1e-3
    assert main(["predict", str(model), data.files[row], "--aux", "transfer=10"]) == 2
    assert "also needs --aux wgsize=VALUE" in capsys.readouterr().err
    assert main(["predict", str(model), data.files[row], "--aux", "transfer=10", "--aux", "size=3"]) == 2
    assert "takes --aux transfer=VALUE --aux wgsize=VALUE" in capsys.readouterr().err
    assert main(["predict", str(model), data.files[row], "--aux", "transfer=-1", "--aux", "wgsize=3"]) == 2
    assert "must be a finite number >= 0" in capsys.readouterr().err
    description = Path(model + ".json")
    description.write_text(json.dumps({**json.loads(description.read_text()), "labels": ["CPU", "GPU", "FPGA"]}))
    assert main(["predict", str(model), data.files[row], "--aux", "transfer=10", "--aux", "wgsize=3"]) == 2
    assert "the model has 2 outputs per row, but devmap-amd-ncc-published.keras.json names 3 labels" in \
        capsys.readouterr().err


def test_recalibrated_batch_norm_holds_the_statistics_of_the_training_features():
    """Recalibrated before validation of the last epoch: afterwards the moving statistics are exactly the
    mean and variance of BatchNorm's inputs over the training batches under the final weights."""
    import keras

    from tasks import ncc
    from tasks.learners import batch_norm_recalibration_callback

    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    model = ncc.build_ncc_model(3, dim=8, aux_inputs=2, lstm_units=8, dense_units=4)
    sequences = [rng.integers(0, 10, rng.integers(3, 40)) for _ in range(60)]
    vectors = rng.normal(size=(10, 8)).astype("float32")
    labels, aux = rng.integers(0, 3, 60), rng.normal(size=(60, 2))
    batches = ncc.make_batches(sequences, vectors, 0, labels, aux, 8, 64, seed=0, two_outputs=True)
    statistics = ncc.make_batches(sequences, vectors, 0, aux=aux, batch_size=8, max_length=64, seed=1)
    validation = ncc.make_batches(sequences[:16], vectors, 0, labels[:16], aux[:16], 8, 64, two_outputs=True)
    model.fit(ncc.for_fit(batches), epochs=2, verbose=0, shuffle=False, validation_data=ncc.for_fit(validation),
              callbacks=[batch_norm_recalibration_callback(statistics)])
    norm = model.get_layer("batch_norm")
    probe = keras.Model(model.inputs, norm.input)
    h = np.concatenate([np.asarray(probe.predict_on_batch(statistics[k][0])) for k in range(len(statistics))])
    np.testing.assert_allclose(np.asarray(norm.moving_mean), h.mean(axis=0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.asarray(norm.moving_variance), h.var(axis=0), rtol=1e-3, atol=1e-7)


def test_recalibrating_only_at_the_end_leaves_the_same_model_as_every_epoch(monkeypatch):
    """Without validation one recalibration, at the end, and the same final weights as one per epoch."""
    import keras

    from tasks import learners, ncc

    calls = []
    recalibrate = learners.recalibrate_batch_norm
    monkeypatch.setattr(learners, "recalibrate_batch_norm", lambda *a, **k: (calls.append(1), recalibrate(*a, **k)))
    rng = np.random.default_rng(0)
    sequences = [rng.integers(0, 10, rng.integers(3, 40)) for _ in range(40)]
    vectors, labels = rng.normal(size=(10, 8)).astype("float32"), rng.integers(0, 3, 40)
    statistics = ncc.make_batches(sequences, vectors, 0, batch_size=8, max_length=64, seed=1)
    weights, counts = [], []
    for every_epoch in (False, True):
        keras.utils.set_random_seed(0)
        batches = ncc.make_batches(sequences, vectors, 0, labels, None, 8, 64, seed=0)  # its order advances
        model = ncc.build_ncc_model(3, dim=8, lstm_units=8, dense_units=4)
        calls.clear()
        model.fit(ncc.for_fit(batches), epochs=3, verbose=0, shuffle=False,
                  callbacks=[learners.batch_norm_recalibration_callback(statistics, every_epoch)])
        weights.append(model.get_weights())
        counts.append(len(calls))
    assert counts == [1, 3]
    assert all(np.array_equal(a, b) for a, b in zip(*weights))


def test_the_batch_order_moves_on_after_a_whole_pass_only():
    """On torch and JAX, model.fit calls on_epoch_end when it starts, after a look at the first batch: that moved
    the order a checkpoint had saved, and a resumed run trained on other batches than an uninterrupted one."""
    from tasks import ncc

    rng = np.random.default_rng(0)
    sequences = [rng.integers(0, 10, rng.integers(3, 40)) for _ in range(40)]
    batches = ncc.make_batches(sequences, np.zeros((10, 4), np.float32), 0, rng.integers(0, 3, 40), None, 4, 64,
                               seed=0)
    order = [b.tolist() for b in batches.batches]
    batches[0]
    batches.on_epoch_end()  # a look, not a pass
    assert [b.tolist() for b in batches.batches] == order
    for k in range(len(batches)):
        batches[k]
    batches.on_epoch_end()
    assert [b.tolist() for b in batches.batches] != order
    assert sorted(np.concatenate(batches.batches).tolist()) == list(range(40))


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_ncc_model_runs_on_the_torch_and_jax_backends(backend):
    pytest.importorskip(backend)
    script = textwrap.dedent(f"""
        import numpy as np, keras
        from tasks import ncc
        assert keras.backend.backend() == "{backend}"
        rng = np.random.default_rng(0)
        model = ncc.build_ncc_model(3, dim=8, aux_inputs=2, lstm_units=8, dense_units=4)
        sequences = [rng.integers(0, 10, rng.integers(3, 40)) for _ in range(40)]
        vectors = rng.normal(size=(10, 8)).astype("float32")
        labels, aux = rng.integers(0, 3, 40), rng.normal(size=(40, 2))
        model.fit(ncc.make_batches(sequences, vectors, 0, labels, aux, 8, 64, seed=0, two_outputs=True),
                  epochs=2, verbose=0)
        p = ncc.predict_proba(model, sequences, vectors, 0, aux, 8, 64)
        assert p.shape == (40, 3) and np.allclose(p.sum(axis=1), 1, atol=1e-5)
        from tasks.learners import recalibrate_batch_norm
        batches = ncc.make_batches(sequences, vectors, 0, aux=aux, batch_size=8, max_length=64)
        recalibrate_batch_norm(model, batches)
        h = np.concatenate([keras.Model(model.inputs, model.get_layer("batch_norm").input)
                            .predict_on_batch(batches[k][0]) for k in range(len(batches))])
        assert np.allclose(keras.ops.convert_to_numpy(model.get_layer("batch_norm").moving_mean), h.mean(axis=0),
                           atol=1e-5)
        plain = ncc.build_ncc_model(3, dim=8, lstm_units=8, dense_units=4)  # no aux input (classifyapp, coarsening)
        plain.fit(ncc.make_batches(sequences, vectors, 0, labels, None, 8, 64, seed=0), epochs=1, verbose=0)
        assert ncc.predict_proba(plain, sequences, vectors, 0, None, 8, 64).shape == (40, 3)
        print("ok")
    """)
    env = dict(os.environ, KERAS_BACKEND=backend)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("ok")
    # A model of one input was given a bare array where it takes a list of one: Keras warned on torch.
    assert "doesn't match the expected structure" not in done.stderr, done.stderr[-2000:]


def test_a_smaller_selection_reuses_the_build_and_keeps_to_its_programs(poj_subset, data_root):
    work, data = poj_subset
    smaller = classifyapp.compile_poj104(data_root, work, per_class=5, classes=8, jobs=2)
    assert len(smaller.files) <= 40 and set(smaller.files) <= set(data.files)
    assert repr(smaller) == f"Poj104Data<{len(smaller.files)} files, 8 classes>"  # not every path
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


def test_resume_with_another_batch_size_is_refused(data_root, tmp_path):
    """The training loop hands its settings to the checkpoint; resumed with other ones it stops, naming them."""
    import dataclasses

    from tasks.datasets import load_threadcoarsening
    from tasks.learners import FoldInputs, fit_predict_ncc

    data = load_threadcoarsening("Fermi", data_root)
    inputs = FoldInputs(encode_files(list(data.files), inst2vec.load("published", data_root)), np.arange(17),
                        data.labels, 6)
    settings = TrainingSettings(epochs=1, batch_size=4, max_length=64, checkpoint=str(tmp_path / "run.npz"))
    train, test = np.arange(1, 17), np.arange(1)
    fit_predict_ncc(inputs, train, test, 0, settings)
    resumed = dataclasses.replace(settings, epochs=2, resume=True)
    fit_predict_ncc(inputs, train, test, 0, resumed)  # more epochs, same settings: resumed
    with pytest.raises(Inst2vecError, match=r"run\.npz: written by a run with other settings \(batch_size 4 there, "
                                            r"8 now\)"):
        fit_predict_ncc(inputs, train, test, 0, dataclasses.replace(resumed, batch_size=8))
