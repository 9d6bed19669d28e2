"""Device mapping: boosted trees regressing log(runtime CPU / runtime GPU), beside ``boost``.

A variant tried and not adopted (docs/RESULTS.md). The class label drops how much faster a device is;
this variant fits scikit-learn's histogram GBDT regressor (defaults) to log(runtime_cpu / runtime_gpu)
of the training rows on exactly ``boost``'s inputs and predicts the GPU where the prediction is above 0.
``boost`` runs on the same folds in the same run. Both are deterministic (no early stopping at 612 rows).
``boost`` here is one tree model on ``boost``'s inputs: ``boost`` itself until the second change of
2026-12-06, its first member since (``tasks.devmap.fit_boost``).

Usage::

    OMP_NUM_THREADS=2 python scripts/devmap_regression.py [SEED] [DATA_ROOT]

Prints one JSON object per platform and split: accuracy and speedup of both models, wall time.
"""
import json
import sys
import time

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

import inst2vec
from inst2vec.data import data_root
from tasks import devmap
from tasks.datasets import load_devmap
from tasks.learners import boosted_trees
from script_help import exit_with_usage_on_help


def main() -> None:
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    root = data_root(sys.argv[2] if len(sys.argv) > 2 else None)
    embeddings = inst2vec.load("published", root)
    for platform in ("amd", "nvidia"):
        data = load_devmap(platform, root)
        x = devmap.boost_inputs(data, embeddings)
        log_ratio = np.log(data.runtime_cpu / data.runtime_gpu)
        for split in devmap.SPLITS:
            started = time.perf_counter()
            predicted = {"boost": np.zeros(len(data.labels), int), "boost-reg": np.zeros(len(data.labels), int)}
            for train, test in devmap.folds(data, split):
                predicted["boost"][test] = boosted_trees(seed).fit(x[train], data.labels[train]).predict(x[test])
                regressor = HistGradientBoostingRegressor(random_state=seed).fit(x[train], log_ratio[train])
                predicted["boost-reg"][test] = (regressor.predict(x[test]) > 0).astype(int)
            result = {"platform": platform, "split": split, "seed": seed,
                      "seconds": round(time.perf_counter() - started, 1)}
            result.update({name: data.score(labels) for name, labels in predicted.items()})
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    exit_with_usage_on_help(__doc__)
    main()
