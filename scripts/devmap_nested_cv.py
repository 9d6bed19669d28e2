"""Device mapping: our boosted trees with hyper-parameters chosen by nested cross-validation, beside ``boost``.

A variant tried and not adopted (docs/RESULTS.md). Inside every outer fold of the protocol, a 3-fold
inner cross-validation on the training rows only (stratified for the stratified split, grouped by
kernel for the grouped one) picks the learning rate, number of boosting rounds and leaf count of
scikit-learn's histogram GBDT from a fixed grid; the chosen model is refitted on the training rows
and scored on the test rows. ``boost`` (defaults) runs on the same folds in the same run.
``boost`` here is one tree model on ``boost``'s inputs: ``boost`` itself until the second change of
2026-12-06, its first member since (``tasks.devmap.fit_boost``).

Usage::

    OMP_NUM_THREADS=1 python scripts/devmap_nested_cv.py {amd,nvidia} {stratified,grouped} [SEED] [DATA_ROOT]

Prints one JSON object: accuracy and speedup of both models, the chosen parameters per fold, wall time.
"""
import json
import sys
import time

import numpy as np
from sklearn.model_selection import GridSearchCV, GroupKFold, StratifiedKFold

import inst2vec
from inst2vec.data import data_root
from tasks import devmap
from tasks.datasets import load_devmap
from tasks.learners import boosted_trees
from script_help import exit_with_usage_on_help

GRID = {"learning_rate": [0.1, 0.2], "max_iter": [100, 300], "max_leaf_nodes": [15, 31]}
INNER_FOLDS = 3


def main() -> None:
    platform, split = sys.argv[1], sys.argv[2]
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    root = data_root(sys.argv[4] if len(sys.argv) > 4 else None)
    started = time.perf_counter()
    data = load_devmap(platform, root)
    x = devmap.boost_inputs(data, inst2vec.load("published", root))
    predicted = {"boost": np.zeros(len(data.labels), int), "boost-cv": np.zeros(len(data.labels), int)}
    chosen = []
    for train, test in devmap.folds(data, split):
        baseline = boosted_trees(seed).fit(x[train], data.labels[train])  # `boost`'s first member alone
        predicted["boost"][test] = baseline.predict(x[test])
        if split == "grouped":
            inner = list(GroupKFold(INNER_FOLDS).split(x[train], data.labels[train], data.kernels[train]))
        else:
            inner = StratifiedKFold(INNER_FOLDS, shuffle=True, random_state=seed)
        search = GridSearchCV(boosted_trees(seed), GRID, cv=inner, scoring="accuracy")
        search.fit(x[train], data.labels[train])
        predicted["boost-cv"][test] = search.predict(x[test])
        chosen.append(search.best_params_)
    result = {"platform": platform, "split": split, "seed": seed, "grid": GRID, "inner_folds": INNER_FOLDS,
              "chosen_per_fold": chosen, "seconds": round(time.perf_counter() - started, 1)}
    result.update({name: data.score(labels) for name, labels in predicted.items()})
    print(json.dumps(result))


if __name__ == "__main__":
    exit_with_usage_on_help(__doc__, required=2)
    main()
