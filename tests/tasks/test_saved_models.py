"""Our default devmap and thread-coarsening models saved as arrays and applied by ``inst2vec predict``."""
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import inst2vec
from inst2vec.cli import main
from inst2vec.errors import Inst2vecError
from tasks import devmap, threadcoarsening
from tasks.encoding import encode_files
from tasks.datasets import COARSENING_FACTORS, DEVMAP_COLUMNS, load_devmap, load_threadcoarsening
from tasks.learners import TrainingSettings, boosted_trees
from tasks.linear_model import LinearModel
from tasks.threadcoarsening import NeighboursModel
from tasks.tree_model import BoostedTrees


@pytest.fixture(scope="module")
def published(data_root):
    return inst2vec.load("published", data_root)


@pytest.fixture(scope="module")
def amd(data_root, published):
    data = load_devmap("amd", data_root)
    return data, devmap.boost_inputs(data, published, jobs=2)


def test_saved_trees_give_scikit_learns_probabilities(amd, tmp_path):
    data, x = amd
    train, test = devmap.folds(data)[0]
    unseen = x[test].copy()
    unseen[::3, 5] = np.nan  # missing values take the side the trees learnt for them
    unseen[1::3, 40] = np.nan
    with_missing = x.copy()
    with_missing[::7, :10] = np.nan
    suites = np.unique(data.suites, return_inverse=True)[1]  # seven classes: one raw score per class
    for labels in (data.labels, suites):
        fitted = boosted_trees(0).fit(with_missing[train], labels[train])
        trees = BoostedTrees.from_sklearn(fitted, {"note": "kept"})
        trees.save(tmp_path / "trees.npz")
        loaded = BoostedTrees.load(tmp_path / "trees.npz")
        assert np.array_equal(loaded.raw_scores(unseen), fitted._raw_predict(unseen))
        assert np.array_equal(loaded.predict_proba(unseen), fitted.predict_proba(unseen))
        assert loaded.metadata == {"note": "kept", "kind": "boost", "version": 2}
    # Two members (devmap's boost: the launch and the code, the launch only): the mean of their probabilities.
    members = devmap.fit_boost(with_missing[train], data.labels[train], 0)
    BoostedTrees.from_sklearn(members).save(tmp_path / "blend.npz")
    loaded = BoostedTrees.load(tmp_path / "blend.npz")
    assert list(loaded.inputs) == [x.shape[1], devmap.LAUNCH_WIDTH]
    assert np.array_equal(loaded.raw_scores(unseen, 1), members[1]._raw_predict(unseen[:, :devmap.LAUNCH_WIDTH]))
    assert np.array_equal(loaded.predict_proba(unseen), devmap.boost_proba(members, unseen))
    assert not np.array_equal(loaded.predict_proba(unseen), members[0].predict_proba(unseen))
    with pytest.raises(Inst2vecError, match="trees.npz: not a neighbours model"):
        NeighboursModel.load(tmp_path / "trees.npz")
    junk = tmp_path / "junk.npz"  # numpy would take it for a pickle and suggest loading it unsafely
    junk.write_bytes(np.random.default_rng(0).bytes(5000))
    Path(str(junk) + ".json").write_text(json.dumps({"kind": "boost", "version": BoostedTrees.VERSION}))
    with pytest.raises(Inst2vecError, match="junk.npz: cannot read the boost model: not a NumPy .npz archive"):
        BoostedTrees.load(junk)
    # Bytes changed or cut off at random (seeded): zipfile's and numpy's own errors (BadZipFile, EOFError,
    # NotImplementedError, TokenError…) went past the loader's message.
    whole, rng = (tmp_path / "blend.npz").read_bytes(), np.random.default_rng(1)
    shutil.copy(str(tmp_path / "blend.npz") + ".json", str(junk) + ".json")
    for seed in range(200):
        data = bytearray(whole[:rng.integers(len(whole))] if seed % 4 == 0 else whole)
        for at in rng.integers(0, len(data), size=rng.integers(0 if seed % 4 == 0 else 1, 4)):
            data[at] = rng.integers(256)
        junk.write_bytes(bytes(data))
        try:
            BoostedTrees.load(junk)
        except Inst2vecError as err:
            assert str(err).startswith(f"{junk}: "), err
    # Damaged (or hand-made) arrays are refused on loading, not met as an IndexError or an endless walk later.
    nodes = len(loaded.feature)
    for change, message in (({"feature": loaded.feature + 10_000}, "reads an input column its member does not take"),
                            ({"left": np.zeros(nodes, np.int64)}, "child is not a later node of its tree"),
                            ({"threshold": loaded.threshold[:10]}, "node arrays differ in length"),
                            ({"tree_start": loaded.tree_start + 1}, "trees do not cover its nodes in order"),
                            ({"inputs": np.array([3, 2])}, "reads an input column its member does not take"),
                            ({"classes": np.array([5, 7])}, "label numbers [5, 7], but its description names 2")):
        arrays = {name: getattr(loaded, name) for name in BoostedTrees.ARRAYS} | change
        BoostedTrees(**arrays, metadata={"labels": ["CPU", "GPU"]}).save(tmp_path / "damaged.npz")
        with pytest.raises(Inst2vecError, match=f"damaged.npz: a damaged boost model: .*{re.escape(message)}"):
            BoostedTrees.load(tmp_path / "damaged.npz")


def test_devmap_boost_is_saved_and_predict_takes_the_launch(amd, published, data_root, tmp_path, capsys):
    data, x = amd
    # What `inst2vec task devmap --model boost --save-models` calls after the protocol's folds.
    model = devmap.save_full_model(data, published, "published", TrainingSettings(), str(tmp_path), "boost")
    assert model == str(tmp_path / "devmap-amd-boost-published.npz")
    expected = devmap.boost_proba(devmap.fit_boost(x, data.labels, 0), x)
    for row in (7, 300):
        transfer, wgsize = (float(data.features[row, DEVMAP_COLUMNS.index(c)]) for c in ("transfer", "wgsize"))
        flags = ["--aux", f"transfer={transfer!r}", "--aux", f"wgsize={wgsize!r}"]
        assert main(["predict", model, data.files[row], *flags, "--data-root", str(data_root)]) == 0
        path, device, probability = capsys.readouterr().out.strip().split("\t")
        assert path == data.files[row] and device == ("CPU", "GPU")[expected[row].argmax()]
        assert float(probability) == pytest.approx(expected[row].max(), abs=5e-4)  # printed to 3 decimals
    bad = tmp_path / "bad.ll"
    bad.write_bytes(b"junk\x00")
    assert main(["predict", model, data.files[7], str(bad), str(tmp_path / "none.ll"), *flags]) == 1
    captured = capsys.readouterr()  # the last line as the other batch commands end theirs
    assert captured.out.startswith(data.files[7]) and captured.err.endswith("skipped 2 of 3 file(s); 1 done\n")
    assert main(["predict", model, data.files[7], "--aux", "transfer=10"]) == 2
    assert "also needs --aux wgsize=VALUE" in capsys.readouterr().err
    assert main(["predict", model, data.files[7], "--aux", "transfer=10", "--aux", "comp=3"]) == 2
    assert "takes --aux transfer=VALUE --aux wgsize=VALUE" in capsys.readouterr().err
    assert main(["predict", model, data.files[7], "--aux", "transfer=10", "--aux", "wgsize=64", "--aux",
                 "transfer=20"]) == 2
    assert "--aux transfer=20: transfer is given twice" in capsys.readouterr().err
    # A description with fields of the wrong kind (damaged or hand-made) is refused, naming the field.
    description = Path(model + ".json")
    saved = json.loads(description.read_text())
    for change, message in (({"labels": "CPUGPU"}, "labels must be a list of two or more"),
                            ({"embeddings": 5}, "embeddings must be a name or path"),
                            ({"aux_inputs": ["transfer"]}, "takes the aux inputs ['transfer', 'wgsize'], not")):
        description.write_text(json.dumps(saved | change))
        assert main(["predict", model, data.files[7], "--aux", "transfer=10"] + ["--aux", "wgsize=64"] * (
            "aux_inputs" not in change)) == 2
        assert message in capsys.readouterr().err
    # A model saved before boost had two members (format 1: no version in its description; until 2026-12-06 it
    # took all eight devmap columns) is refused before its inputs are asked for.
    old = {key: value for key, value in saved.items() if key != "version"}
    description.write_text(json.dumps({**old, "aux_inputs": list(DEVMAP_COLUMNS)}))
    assert main(["predict", model, data.files[7], "--aux", "transfer=10", "--aux", "wgsize=64"]) == 2
    assert "devmap-amd-boost-published.npz: a boost model in format 1, which this version of the toolkit does not " \
        "read (it reads format 2); save the model again" in capsys.readouterr().err


def test_threadcoarsening_neighbours_saved_by_the_task_predicts_as_the_protocol(data_root, published, tmp_path,
                                                                               capsys):
    out = tmp_path / "out"
    assert main(["task", "threadcoarsening", "--platform", "fermi", "--model", "neighbours", "--seeds", "1",
                 "--save-models", "--data-root", str(data_root), "-o", str(out)]) == 0
    capsys.readouterr()
    saved = out / "threadcoarsening-Fermi-neighbours-published.npz"
    data = load_threadcoarsening("Fermi", data_root)
    assert main(["predict", str(saved), data.files[0], "--data-root", str(data_root)]) == 0
    path, label, speedup = capsys.readouterr().out.strip().split("\t")
    assert path == data.files[0] and label.startswith("coarsening factor ") and float(speedup) > 0
    # A description whose aux_inputs is null (a hand-written one) is read as naming none.
    description = Path(str(saved) + ".json")
    description.write_text(json.dumps(json.loads(description.read_text()) | {"aux_inputs": None}))
    assert main(["predict", str(saved), data.files[0], "--data-root", str(data_root)]) == 0
    assert capsys.readouterr().out.strip().split("\t") == [path, label, speedup]
    assert main(["predict", str(saved), data.files[0], "--aux", "transfer=1", "--data-root", str(data_root)]) == 2
    assert "takes no --aux inputs" in capsys.readouterr().err
    # A file that defines no function has no statements to predict from: it was given a factor all the same.
    (tmp_path / "declares.ll").write_text("declare i32 @puts(i8*)\n")
    (tmp_path / "empty.c").write_text("int f(int);\n")
    assert main(["predict", str(saved), str(tmp_path / "declares.ll"), str(tmp_path / "empty.c"), data.files[0],
                 "--data-root", str(data_root)]) == 1
    captured = capsys.readouterr()
    assert captured.out.strip().split("\t") == [path, label, speedup]
    assert captured.err == (f"error: {tmp_path / 'declares.ll'}: no statements to predict from (it defines no "
                            f"function)\nerror: {tmp_path / 'empty.c'}: no statements to predict from (it defines "
                            "no function)\nskipped 2 of 3 file(s); 1 done\n")
    # Kernels' OpenCL sources are compiled as optimised as the training IR: 15 of 16 get their IR's factor (at
    # -O0, as before, 7 of 16; scripts/kernel_compile_match.py). stencil.cl needs a header that is not there.
    kernels = data_root / "threadcoarsening" / "kernels_cl"
    sources = sorted(str(p) for p in kernels.glob("*.cl") if p.stem != "stencil")
    assert main(["predict", str(saved), *sources, "--data-root", str(data_root)]) == 0
    from_source = [line.split("\t")[1] for line in capsys.readouterr().out.splitlines()]
    irs = [str(data_root / "threadcoarsening" / "kernels_ir" / f"{Path(p).stem}.ll") for p in sources]
    assert main(["predict", str(saved), *irs, "--data-root", str(data_root)]) == 0
    from_ir = [line.split("\t")[1] for line in capsys.readouterr().out.splitlines()]
    assert len(sources) == 16 and sum(a == b for a, b in zip(from_source, from_ir)) >= 14
    # A model of the other 16 kernels, saved, predicts each kernel's factor as the protocol's fold did.
    result = threadcoarsening.run(data, "neighbours", published, "published", [0], TrainingSettings())
    pooled = encode_files(list(data.files), published).pooled()
    curves = threadcoarsening.log_speedup_curves(data)
    for kernel in (0, 5, 11):
        others = np.delete(np.arange(len(data.kernels)), kernel)
        model = tmp_path / f"without-{kernel}.npz"
        NeighboursModel.fit(pooled[others], curves[others],
                            metadata={"embeddings": "published",
                                      "labels": [f"factor {f}" for f in COARSENING_FACTORS]}).save(model)
        assert main(["predict", str(model), data.files[kernel], "--data-root", str(data_root)]) == 0
        factor = int(capsys.readouterr().out.split("\t")[1].split()[-1])
        clamped = COARSENING_FACTORS[data.clamp(kernel, COARSENING_FACTORS.index(factor))]
        assert clamped == result["seeds"][0]["folds"][kernel]["predicted_factor"]
    # Program vectors of other embeddings than the ones the model names: refused before any file is read.
    labels = [f"factor {f}" for f in COARSENING_FACTORS]
    NeighboursModel.fit(pooled[:, :10], curves, metadata={"embeddings": "published", "labels": labels}).save(model)
    assert main(["predict", str(model), data.files[0], "--data-root", str(data_root)]) == 2
    assert "takes program vectors of 10 numbers, but the embeddings it names (published: 200 per statement) give " \
        "400" in capsys.readouterr().err


def test_an_embeddings_folder_names_files_by_its_name_and_predict_finds_it_from_anywhere(data_root, published,
                                                                                          tmp_path, capsys,
                                                                                          monkeypatch):
    """``--embeddings PATH``: the files take the folder's name (the path itself went into the names, so they landed
    in folders below -o), the JSON keeps its absolute path, and a saved model reloads them from another folder."""
    from tasks.results import file_label

    published.save(tmp_path / "work" / "my emb")
    monkeypatch.chdir(tmp_path / "work")
    assert main(["task", "threadcoarsening", "--platform", "fermi", "--model", "neighbours", "--seeds", "1",
                 "--embeddings", "my emb/", "--save-models", "--data-root", str(data_root), "-o", "out"]) == 0
    capsys.readouterr()
    assert sorted(p.name for p in (tmp_path / "work" / "out").iterdir()) == [
        "threadcoarsening-Fermi-neighbours-my_emb.json", "threadcoarsening-Fermi-neighbours-my_emb.npz",
        "threadcoarsening-Fermi-neighbours-my_emb.npz.json"]
    result = json.loads((tmp_path / "work" / "out" / "threadcoarsening-Fermi-neighbours-my_emb.json").read_text())
    assert result["embeddings"] == str(tmp_path / "work" / "my emb")
    monkeypatch.chdir(tmp_path)
    kernel = load_threadcoarsening("Fermi", data_root).files[0]
    assert main(["predict", "work/out/threadcoarsening-Fermi-neighbours-my_emb.npz", kernel]) == 0
    assert capsys.readouterr().out.startswith(f"{kernel}\tcoarsening factor ")
    (tmp_path / "work" / "my emb").rename(tmp_path / "moved")  # the model names a folder that is gone
    assert main(["predict", "work/out/threadcoarsening-Fermi-neighbours-my_emb.npz", kernel]) == 2
    assert "my_emb.npz: the embeddings it was trained with cannot be loaded: " in capsys.readouterr().err
    assert [file_label(e) for e in ("ours", "/x/published", "/", "a/b.c+d")] == ["ours", "folder-published",
                                                                                   "folder", "b.c+d"]


def test_damaged_linear_and_neighbours_models_are_refused(tmp_path):
    def saved(model, **change):
        arrays = {name: getattr(model, name) for name in model.ARRAYS} | change
        type(model)(**arrays, metadata=model.metadata).save(tmp_path / "model.npz")
        return tmp_path / "model.npz"

    linear = LinearModel(np.arange(3), np.ones(3), np.zeros(2), np.ones(2), np.zeros((2, 5), np.float32),
                         np.zeros(2, np.float32), np.array([0, 1]), {"labels": ["a", "b"]})
    assert LinearModel.load(saved(linear)).coef.shape == (2, 5)
    for change, message in (({"coef": np.zeros((2, 4))}, "its weights (2, 4) do not match 2 classes of 5 features"),
                            ({"idf": np.ones(2)}, "its feature arrays differ in length"),
                            ({"classes": np.array([0, 2])}, "it predicts label numbers [0, 2], but its description")):
        with pytest.raises(Inst2vecError, match=re.escape(f"model.npz: a damaged linear model: {message}")):
            LinearModel.load(saved(linear, **change))
    rng = np.random.default_rng(0)
    neighbours = NeighboursModel.fit(rng.normal(size=(4, 3)), rng.normal(size=(4, 6)), k=3,
                                     metadata={"labels": [f"factor {f}" for f in COARSENING_FACTORS]})
    assert int(NeighboursModel.load(saved(neighbours)).k) == 3
    for change, message in (({"k": np.array(5)}, "k = 5 neighbours of 4 kernels"),
                            ({"curves": np.zeros((3, 6))}, "its vectors (4, 3) and curves (3, 6) do not match"),
                            ({"curves": np.zeros((4, 7))}, "it predicts label numbers [0, 1, 2, 3, 4, 5, 6], but its")):
        with pytest.raises(Inst2vecError, match=re.escape(f"model.npz: a damaged neighbours model: {message}")):
            NeighboursModel.load(saved(neighbours, **change))
