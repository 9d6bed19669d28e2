"""Heterogeneous CPU/GPU device mapping (Grewe et al. / DeepTune data), the ncc protocol.

Per platform, ``StratifiedKFold(10, shuffle=True, random_state=204)`` over the 680 rows; accuracy
and the speedup of the predicted device over the static mapping, averaged over rows. The same
kernel with other input sizes lands in training and test folds alike, so the stratified split
leaks; ``split="grouped"`` runs a 10-fold ``GroupKFold`` by kernel instead.
"""
from __future__ import annotations

import os
import time
from typing import Any, Callable, Iterable, Iterator

import numpy as np
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold, StratifiedKFold
from sklearn.tree import DecisionTreeClassifier

from inst2vec.batch import progress_bar
from inst2vec.data import data_root as resolve_data_root
from inst2vec.embeddings import Embeddings, load
from inst2vec.errors import Inst2vecError
from tasks.datasets import DEVMAP_COLUMNS, DEVMAP_PLATFORMS, DevmapData, STATIC_DEVICE, grewe_features, load_devmap
from tasks.encoding import EncodedFiles, distinct_files, encode_files
from tasks.learners import FoldInputs, TrainingSettings, boosted_trees, fit_and_save_ncc, fit_predict_ncc
from tasks.results import file_label, summarize
from tasks.tree_model import BoostedTrees

MODELS = ("static", "grewe", "launch", "oracle", "ncc", "boost")
SPLITS = ("stratified", "grouped")
SPLIT_SEED = 204
FOLDS = 10
AUX_COLUMNS = [DEVMAP_COLUMNS.index("transfer"), DEVMAP_COLUMNS.index("wgsize")]
#: Their names: what a saved devmap model takes besides the IR (``inst2vec predict --aux NAME=VALUE``).
AUX_INPUTS = [DEVMAP_COLUMNS[c] for c in AUX_COLUMNS]


def folds(data: DevmapData, split: str = "stratified", assignment: int | None = None
          ) -> list[tuple[np.ndarray, np.ndarray]]:
    """The protocol's (train, test) row indices; with ``assignment``, another assignment of rows to the same kind of
    folds (``StratifiedKFold`` or ``StratifiedGroupKFold``, shuffled with that seed), to check a finding made on
    the protocol's own."""
    if split not in SPLITS:
        raise Inst2vecError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
    if split == "stratified":
        seed = SPLIT_SEED if assignment is None else assignment
        return list(StratifiedKFold(FOLDS, shuffle=True, random_state=seed).split(data.features, data.labels))
    if assignment is None:
        return list(GroupKFold(FOLDS).split(data.features, data.labels, groups=data.kernels))
    splitter = StratifiedGroupKFold(FOLDS, shuffle=True, random_state=assignment)
    return list(splitter.split(data.features, data.labels, groups=data.kernels))


def scores_on_assignments(data: DevmapData, assignments: Iterable[tuple[str, int | None]],
                          predict: Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]
                          ) -> Iterator[tuple[str, int | None, dict[str, dict[str, float]]]]:
    """Check variants on other fold assignments: for each ``(split, assignment)`` (see :func:`folds`), the accuracy
    and speedup over all rows of every variant that ``predict(train, test)`` names, with its labels of the test
    rows; yields ``(split, assignment, {variant: scores})``."""
    for split, assignment in assignments:
        predicted: dict[str, np.ndarray] = {}
        for train, test in folds(data, split, assignment):
            for name, labels in predict(train, test).items():
                predicted.setdefault(name, np.zeros(len(data.labels), dtype=int))[test] = labels
        yield split, assignment, {name: data.score(labels) for name, labels in predicted.items()}


def launch_features(launch: np.ndarray) -> np.ndarray:
    """The launch columns (transfer bytes, work-group size: :data:`AUX_COLUMNS`) and their logs: the numeric inputs
    of our boosted trees. Grewe's six static counts are left out: they did not help (docs/RESULTS.md)."""
    return np.concatenate([launch, np.log1p(launch)], axis=1)


def boost_matrix(launch: np.ndarray, pooled: np.ndarray) -> np.ndarray:
    """What ``boost`` sees of each row: its launch features, then its file's pooled program vectors."""
    return np.concatenate([launch_features(launch), pooled], axis=1)


#: The leading columns of :func:`boost_matrix` that hold the launch features.
LAUNCH_WIDTH = 2 * len(AUX_COLUMNS)


def fit_boost(x: np.ndarray, labels: np.ndarray, seed: int) -> list:
    """``boost``: boosted trees on all of ``x`` (:func:`boost_matrix`: the launch and the code) and boosted trees
    on its launch features only, whose class probabilities :func:`boost_proba` averages. On unseen AMD kernels the
    launch alone predicts better than the trees with the code (docs/RESULTS.md, "Adopted 2026-12-06, second
    change")."""
    return [boosted_trees(seed).fit(x, labels), boosted_trees(seed).fit(x[:, :LAUNCH_WIDTH], labels)]


def boost_proba(members: list, x: np.ndarray) -> np.ndarray:
    """The mean class probabilities of :func:`fit_boost`'s members on rows ``x`` (each reads its leading columns)."""
    return np.mean([member.predict_proba(x[:, :member.n_features_in_]) for member in members], axis=0)


def boost_inputs(data: DevmapData, embeddings: Embeddings, jobs: int = 1) -> np.ndarray:
    """The matrix ``boost`` learns from, one row per devmap row (:func:`boost_matrix`)."""
    files, positions = distinct_files(list(data.files))
    pooled = encode_files(files, embeddings, jobs=jobs).pooled()[positions]
    return boost_matrix(data.features[:, AUX_COLUMNS], pooled)


def compare_variants(variants: Callable[[DevmapData, np.ndarray], Callable[[np.ndarray, np.ndarray], dict]],
                     assignments: Iterable[int], data_root: str | os.PathLike | None = None
                     ) -> Iterator[dict[str, Any]]:
    """What a script that checks variants of ``boost`` prints (``scripts/devmap_blend.py``, ``devmap_pca.py``): for
    each platform, ``variants(data, x)`` with ``x`` its :func:`boost_inputs` under the published embeddings gives
    the ``predict(train, test)`` of :func:`scores_on_assignments`, run on both splits' folds under each of the
    ``assignments``; yields ``{platform, assignment, split, variant: scores…}`` per platform and assignment."""
    assignments = [(split, s) for s in assignments for split in SPLITS]
    data_root = resolve_data_root(data_root)
    embeddings = load("published", data_root)
    for platform in DEVMAP_PLATFORMS:
        data = load_devmap(platform, data_root)
        predict = variants(data, boost_inputs(data, embeddings))
        for split, assignment, scores in scores_on_assignments(data, assignments, predict):
            yield {"platform": platform, "assignment": assignment, "split": split, **scores}


def predict_fold(model: str, data: DevmapData, encoded: EncodedFiles | None, positions: np.ndarray | None,
                 train: np.ndarray, test: np.ndarray, seed: int, settings: TrainingSettings) -> tuple[np.ndarray, dict]:
    """Predicted labels (1 = GPU) of the test rows, and training curves where the model has them."""
    if model == "static":
        return np.full(len(test), int(STATIC_DEVICE[data.platform] == "GPU")), {}
    if model == "oracle":
        return data.labels[test], {}
    if model == "grewe":
        # DeepTune's re-implementation of Grewe et al.: a decision tree on the four features.
        tree = DecisionTreeClassifier(random_state=seed, splitter="best", criterion="entropy", max_depth=5,
                                      min_samples_leaf=5)
        features = grewe_features(data.features)
        return tree.fit(features[train], data.labels[train]).predict(features[test]), {}
    if model == "launch":  # what the code adds must beat this: our trees on the launch alone
        launch = launch_features(data.features[:, AUX_COLUMNS])
        return boosted_trees(seed).fit(launch[train], data.labels[train]).predict(launch[test]), {}
    if model == "ncc":
        inputs = FoldInputs(encoded, positions, data.labels, 2, data.features, AUX_COLUMNS)
        probabilities, curves = fit_predict_ncc(inputs, train, test, seed, settings)
        return probabilities.argmax(axis=1), curves
    if model == "boost":
        x = boost_matrix(data.features[:, AUX_COLUMNS], encoded.pooled()[positions])
        members = fit_boost(x[train], data.labels[train], seed)
        return members[0].classes_[boost_proba(members, x[test]).argmax(axis=1)], {}
    raise Inst2vecError(f"unknown devmap model {model!r}; choose from {', '.join(MODELS)}")


def run(data: DevmapData, model: str, embeddings: Embeddings | None, embeddings_name: str, seeds: list[int],
        settings: TrainingSettings, split: str = "stratified", jobs: int = 1,
        progress: bool | None = None) -> dict[str, Any]:
    """Run the full protocol for every seed; returns the result object (see :func:`tasks.results.summarize`).
    ``progress``: a bar over the folds of every seed on stderr (default: when stderr is a terminal)."""
    started = time.perf_counter()
    encoded = positions = None
    if model in ("ncc", "boost"):
        files, positions = distinct_files(list(data.files))
        encoded = encode_files(files, embeddings, jobs=jobs, progress=progress)
    per_seed = []
    with progress_bar(len(seeds) * FOLDS, f"devmap {data.platform} {model}", "fold", progress) as bar:
        for seed in seeds:
            predicted = np.zeros(len(data.labels), dtype=int)
            fold_records = []
            for k, (train, test) in enumerate(folds(data, split)):
                run_settings = settings.for_run(f"devmap-{data.platform}-{split}-seed{seed}-fold{k}")
                predicted[test], curves = predict_fold(model, data, encoded, positions, train, test, seed,
                                                       run_settings)
                fold_records.append({"fold": k, "test_rows": len(test), **data.score(predicted, test),
                                     **({"curves": curves} if curves else {})})
                bar.update()
            per_suite = {s: data.score(predicted, data.suites == s) for s in np.unique(data.suites)}
            per_seed.append({"seed": seed, **data.score(predicted), "per_suite": per_suite, "folds": fold_records,
                             "predictions": predicted.tolist()})
    protocol = {"split": split, "folds": FOLDS, "split_seed": SPLIT_SEED if split == "stratified" else None,
                "rows": len(data.labels), "static_device": STATIC_DEVICE[data.platform],
                "speedup": "mean over rows of runtime(static device) / runtime(predicted device)",
                **settings.protocol(model)}
    oracle = float(np.mean(data.speedups(data.labels)))
    extra = {"oracle_speedup": oracle}
    if encoded is not None:
        extra["oov_rate_mean"] = float(encoded.oov_rate.mean())
    return summarize("devmap", data.platform, model, embeddings_name, per_seed, protocol, started, **extra)


def save_full_model(data: DevmapData, embeddings: Embeddings, embeddings_name: str, settings: TrainingSettings,
                    out_dir: str, model: str = "ncc") -> str:
    """Train ``model`` (``ncc`` or ``boost``) on all rows of the platform and save it for ``inst2vec predict``,
    which then needs each kernel's launch (``--aux transfer=… --aux wgsize=…``)."""
    metadata = {"task": "devmap", "platform": data.platform, "model": model, "embeddings": embeddings_name,
                "labels": ["CPU", "GPU"], "aux_inputs": AUX_INPUTS}
    if model == "boost":
        path = f"{out_dir}/devmap-{data.platform}-boost-{file_label(embeddings_name)}.npz"
        BoostedTrees.from_sklearn(fit_boost(boost_inputs(data, embeddings), data.labels, 0), metadata).save(path)
        return path
    if model != "ncc":
        raise Inst2vecError(f"devmap {model} models cannot be saved; ncc and boost can")
    files, positions = distinct_files(list(data.files))
    inputs = FoldInputs(encode_files(files, embeddings), positions, data.labels, 2, data.features, AUX_COLUMNS)
    path = f"{out_dir}/devmap-{data.platform}-ncc-{file_label(embeddings_name)}.keras"
    return fit_and_save_ncc(inputs, settings, path, metadata)
