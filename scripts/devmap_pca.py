"""Device mapping: ``boost`` beside ``boost-pca8``, its program vectors reduced to 8 principal components.

A variant tried (docs/RESULTS.md): on AMD the trees lose to the launch alone on unseen kernels, perhaps because
400 code dimensions let them tell the training kernels apart. ``boost-pca8`` keeps ``boost``'s launch features
and replaces the pooled vectors by their first 8 principal components, fitted on each fold's training rows only.
scikit-learn's histogram GBDT with defaults, seed 0, the same folds in the same run, on fold assignments the
earlier comparisons did not use: ``StratifiedKFold`` and ``StratifiedGroupKFold(10, shuffle=True,
random_state=s)`` for s = 4 … 9.
``boost`` here is one tree model on ``boost``'s inputs: ``boost`` itself until the second change of
2026-12-06, its first member since (``tasks.devmap.fit_boost``).

Usage::

    OMP_NUM_THREADS=2 python scripts/devmap_pca.py [DATA_ROOT]

Prints one JSON object per platform, assignment and split. About 6 minutes on 2 cores.
"""
import json
import sys

import numpy as np
from sklearn.decomposition import PCA

from tasks import devmap
from tasks.datasets import DevmapData
from tasks.learners import boosted_trees
from script_help import exit_with_usage_on_help

COMPONENTS = 8
ASSIGNMENTS = range(4, 10)


def variants(data: DevmapData, x: np.ndarray):
    """``predict(train, test)`` for one platform: ``boost`` and ``boost-pca8`` on the fold."""
    launch, pooled = x[:, :devmap.LAUNCH_WIDTH], x[:, devmap.LAUNCH_WIDTH:]

    def predict(train: np.ndarray, test: np.ndarray) -> dict[str, np.ndarray]:
        components = PCA(COMPONENTS, random_state=0).fit(pooled[train]).transform(pooled)
        z = np.concatenate([launch, components], axis=1)
        return {"boost": boosted_trees(0).fit(x[train], data.labels[train]).predict(x[test]),
                "boost-pca8": boosted_trees(0).fit(z[train], data.labels[train]).predict(z[test])}
    return predict


if __name__ == "__main__":
    exit_with_usage_on_help(__doc__)
    for record in devmap.compare_variants(variants, ASSIGNMENTS, *sys.argv[1:2]):
        print(json.dumps(record), flush=True)
