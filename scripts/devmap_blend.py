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

import inst2vec
from inst2vec.data import data_root
from tasks import devmap
from tasks.datasets import load_devmap

ASSIGNMENTS = range(10, 16)


def main() -> None:
    root = data_root(sys.argv[1] if len(sys.argv) > 1 else None)
    embeddings = inst2vec.load("published", root)
    for platform in ("amd", "nvidia"):
        data = load_devmap(platform, root)
        x = devmap.boost_inputs(data, embeddings)

        def predict(train: np.ndarray, test: np.ndarray) -> dict[str, np.ndarray]:
            with_code, launch = devmap.fit_boost(x[train], data.labels[train], 0)
            classes = with_code.classes_
            return {"boost": with_code.predict(x[test]), "launch": launch.predict(x[test, :devmap.LAUNCH_WIDTH]),
                    "boost-blend": classes[devmap.boost_proba([with_code, launch], x[test]).argmax(axis=1)]}

        assignments = [(split, s) for s in ASSIGNMENTS for split in devmap.SPLITS]
        for split, s, scores in devmap.scores_on_assignments(data, assignments, predict):
            print(json.dumps({"platform": platform, "assignment": s, "split": split, **scores}), flush=True)


if __name__ == "__main__":
    main()
