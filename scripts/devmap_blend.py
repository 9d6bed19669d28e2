"""Device mapping: ``boost`` beside ``launch`` and ``boost-blend``, the mean of their class probabilities.

The variant adopted as ``boost`` on 2026-12-06 (docs/RESULTS.md, "second change"); ``boost`` here is the one
tree model it was before. On AMD the trees with the code lost to the launch alone on unseen kernels, while the
code helped on kernels seen in training, and on NVIDIA everywhere. ``boost-blend`` averages the probabilities
of ``boost`` (launch features + pooled program vectors) and ``launch`` (launch features only), both fitted on
each fold's training rows, and predicts the more probable device. scikit-learn's histogram GBDT with defaults,
seed 0, the same folds in the same run, on fold assignments the earlier comparisons did not use:
``StratifiedKFold`` and ``StratifiedGroupKFold(10, shuffle=True, random_state=s)`` for s = 10 … 15.

Usage::

    OMP_NUM_THREADS=2 python scripts/devmap_blend.py [DATA_ROOT]

Prints one JSON object per platform, assignment and split. About 6 minutes on 2 cores.
"""
import json
import sys

import numpy as np

from tasks import devmap
from tasks.datasets import DevmapData
from script_help import exit_with_usage_on_help

ASSIGNMENTS = range(10, 16)


def variants(data: DevmapData, x: np.ndarray):
    """``predict(train, test)`` for one platform: ``boost``, ``launch`` and ``boost-blend`` on the fold."""
    def predict(train: np.ndarray, test: np.ndarray) -> dict[str, np.ndarray]:
        with_code, launch = devmap.fit_boost(x[train], data.labels[train], 0)
        classes = with_code.classes_
        return {"boost": with_code.predict(x[test]), "launch": launch.predict(x[test, :devmap.LAUNCH_WIDTH]),
                "boost-blend": classes[devmap.boost_proba([with_code, launch], x[test]).argmax(axis=1)]}
    return predict


if __name__ == "__main__":
    exit_with_usage_on_help(__doc__)
    for record in devmap.compare_variants(variants, ASSIGNMENTS, *sys.argv[1:2]):
        print(json.dumps(record), flush=True)
