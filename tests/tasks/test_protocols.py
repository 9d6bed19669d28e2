"""The task protocols on the real data: baselines reproduce known re-runs, our models learn."""
import subprocess
from pathlib import Path

import numpy as np
import pytest

import inst2vec
from tasks import devmap, threadcoarsening
from tasks.datasets import COARSENING_FACTORS, load_devmap, load_threadcoarsening
from tasks.learners import TrainingSettings


@pytest.fixture(scope="module")
def published(data_root):
    return inst2vec.load("published", data_root)


def test_devmap_baselines_reproduce_known_reruns(data_root):
    amd = load_devmap("amd", data_root)
    static = devmap.run(amd, "static", None, "none", [0], TrainingSettings())
    assert static["accuracy_mean"] == pytest.approx(400 / 680) and static["speedup_mean"] == 1.0
    grewe = devmap.run(amd, "grewe", None, "none", [204], TrainingSettings())
    # IR2Vec's stored re-run of DeepTune's Grewe et al. model: 70.29 % and 2.641 on AMD.
    assert grewe["accuracy_mean"] == pytest.approx(0.7029, abs=1e-4)
    assert grewe["speedup_mean"] == pytest.approx(2.641, abs=1e-3)
    nvidia = load_devmap("nvidia", data_root)
    assert devmap.run(nvidia, "oracle", None, "none", [0], TrainingSettings())["speedup_mean"] == \
        pytest.approx(1.526, abs=1e-3)
    # Our trees on the launch alone (transfer, wgsize): no embeddings, yet far above Grewe's tree on AMD.
    launch = devmap.run(amd, "launch", None, "none", [0], TrainingSettings())
    assert launch["accuracy_mean"] > 0.9 and launch["speedup_mean"] > 3.3


def test_results_name_the_code_revision_that_made_them(data_root):
    checkout = Path(__file__).resolve().parents[2]
    if not (checkout / ".git").exists():
        pytest.skip("not a git checkout")
    head = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    result = devmap.run(load_devmap("amd", data_root), "static", None, "none", [0], TrainingSettings())
    assert result["versions"]["inst2vec-toolkit-revision"] in (head, head + "+changes")


def test_devmap_grouped_folds_never_share_a_kernel(data_root):
    data = load_devmap("nvidia", data_root)
    for assignment in (None, 1):  # the protocol's folds, and another assignment used to check findings
        folds = devmap.folds(data, "grouped", assignment)
        assert sorted(np.concatenate([test for _, test in folds])) == list(range(680))
        for train, test in folds:
            assert not set(data.kernels[train]) & set(data.kernels[test])
    assert [list(t) for _, t in devmap.folds(data, "stratified", 1)] != [list(t) for _, t in devmap.folds(data)]


def test_devmap_scores_on_other_assignments_cover_every_row(data_root):
    data = load_devmap("amd", data_root)
    tested = []

    def predict(train, test):
        tested.append(test)
        return {"oracle": data.labels[test], "cpu": np.zeros(len(test), int)}

    results = list(devmap.scores_on_assignments(data, [("stratified", None), ("grouped", 2)], predict))
    assert [(split, assignment) for split, assignment, _ in results] == [("stratified", None), ("grouped", 2)]
    for _, _, scores in results:
        assert scores["oracle"] == {"accuracy": 1.0, "speedup": pytest.approx(3.642, abs=1e-3)}
        assert scores["cpu"] == data.score(np.zeros(680, int)) and scores["cpu"]["speedup"] == 1.0
    assert len(tested) == 20 and sorted(np.concatenate(tested[10:])) == list(range(680))


def test_devmap_variant_comparison_covers_both_platforms_and_splits(data_root):
    def variants(data, x):
        assert x.shape == (680, devmap.LAUNCH_WIDTH + 400)  # the launch features, then [flow, mean] vectors
        return lambda train, test: {"oracle": data.labels[test], "gpu": np.ones(len(test), int)}

    records = list(devmap.compare_variants(variants, [3], data_root))
    assert [(r["platform"], r["split"], r["assignment"]) for r in records] == [
        ("amd", "stratified", 3), ("amd", "grouped", 3), ("nvidia", "stratified", 3), ("nvidia", "grouped", 3)]
    assert all(r["oracle"]["accuracy"] == 1.0 for r in records)
    assert records[2]["gpu"] == {"accuracy": pytest.approx(0.5691, abs=1e-4), "speedup": 1.0}  # GPU is NVIDIA's static


@pytest.mark.slow
def test_devmap_boosted_trees_beat_grewe(data_root, published):
    data = load_devmap("amd", data_root)
    ours = devmap.run(data, "boost", published, "published", [0], TrainingSettings(), jobs=2)
    assert ours["accuracy_mean"] > 0.88 and ours["speedup_mean"] > 3.3
    assert len(ours["seeds"][0]["folds"]) == 10


def test_threadcoarsening_baselines_and_ours(data_root, published):
    data = load_threadcoarsening("Cypress", data_root)
    magni = threadcoarsening.run(data, "magni", None, "none", [0], TrainingSettings())
    assert 1.0 < magni["speedup_mean"] < magni["oracle_speedup"]
    ours = threadcoarsening.run(data, "neighbours", published, "published", [0], TrainingSettings())
    assert ours["speedup_mean"] > 1.1
    folds = ours["seeds"][0]["folds"]
    assert [f["kernel"] for f in folds] == list(data.kernels)
    assert all(f["predicted_factor"] <= 32 for f in folds)
    # The best single factor over the training kernels: the neighbours model with every training kernel as one.
    constant = threadcoarsening.run(data, "constant", None, "none", [0], TrainingSettings())
    assert 1.0 < constant["speedup_mean"] < ours["speedup_mean"]
    pooled, curves = np.eye(len(data.kernels)), threadcoarsening.log_speedup_curves(data)
    for kernel, fold in enumerate(constant["seeds"][0]["folds"]):
        train = np.delete(np.arange(len(data.kernels)), kernel)
        everyone = threadcoarsening.NeighboursModel.fit(pooled[train], curves[train], k=len(train))
        factor = int(everyone.predict(pooled[[kernel]])[0][0])
        assert fold["predicted_factor"] == COARSENING_FACTORS[data.clamp(kernel, factor)]


def test_a_run_shows_its_progress_over_the_folds(data_root, capsys):
    """A task printed nothing between the embedding bar and its result line (an ncc run takes an hour); a bar
    over the folds of every seed is shown on a terminal, or when asked for."""
    data = load_devmap("amd", data_root)
    devmap.run(data, "grewe", None, "none", [0, 1], TrainingSettings(), progress=True)
    err = capsys.readouterr().err
    assert "devmap amd grewe: 100%" in err and "20/20" in err  # 10 folds of 2 seeds
    threadcoarsening.run(load_threadcoarsening("Fermi", data_root), "magni", None, "none", [0], TrainingSettings(),
                         progress=True)
    assert "threadcoarsening Fermi magni: 100%" in capsys.readouterr().err
    devmap.run(data, "grewe", None, "none", [0], TrainingSettings())  # not a terminal: no bar
    assert capsys.readouterr().err == ""
