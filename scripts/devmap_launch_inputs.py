"""Device mapping: ``boost``'s inputs compared, the comparison that changed them (docs/RESULTS.md).

``eight-columns`` (``boost`` before 2026-12-06): the eight columns of ``cgo17-*.csv`` (Grewe's six static
counts, transfer, wgsize), their log(1 + x) and Grewe's four combined features, then the pooled program vectors.
``launch`` (``boost`` from the first to the second change of 2026-12-06, its first member since): transfer
and wgsize, their log(1 + x), then the same vectors (:func:`tasks.devmap.boost_inputs`). ``no-code`` (the
``launch`` baseline): transfer and wgsize and their log(1 + x) alone. scikit-learn's histogram GBDT with
defaults, seed 0, the same folds in the same run; deterministic.

Usage::

    OMP_NUM_THREADS=1 python scripts/devmap_launch_inputs.py [DATA_ROOT]

Prints one JSON object per platform and fold assignment: the protocol's own (``stratified``, ``grouped``), then
the confirmation's, ``StratifiedKFold`` and ``StratifiedGroupKFold(10, shuffle=True, random_state=s)`` for
s = 1, 2, 3 (``stratified-s``, ``grouped-s``). About 10 minutes on 2 cores.
"""
import json
import sys
import time

import numpy as np

import inst2vec
from inst2vec.data import data_root
from tasks import devmap
from tasks.datasets import grewe_features, load_devmap
from tasks.learners import boosted_trees
from script_help import exit_with_usage_on_help


def main() -> None:
    root = data_root(sys.argv[1] if len(sys.argv) > 1 else None)
    embeddings = inst2vec.load("published", root)
    assignments = [(split, None) for split in devmap.SPLITS] + [(split, s) for split in devmap.SPLITS
                                                                 for s in (1, 2, 3)]
    for platform in ("amd", "nvidia"):
        data = load_devmap(platform, root)
        with_code = devmap.boost_inputs(data, embeddings)
        pooled = with_code[:, devmap.LAUNCH_WIDTH:]
        eight = np.concatenate([data.features, np.log1p(data.features), grewe_features(data.features), pooled], 1)
        inputs = {"eight-columns": eight, "launch": with_code, "no-code": with_code[:, :devmap.LAUNCH_WIDTH]}

        def predict(train: np.ndarray, test: np.ndarray) -> dict[str, np.ndarray]:
            return {name: boosted_trees(0).fit(x[train], data.labels[train]).predict(x[test])
                    for name, x in inputs.items()}

        started = time.perf_counter()
        for split, seed, scores in devmap.scores_on_assignments(data, assignments, predict):
            result = {"platform": platform, "assignment": split if seed is None else f"{split}-{seed}",
                      "seconds": round(time.perf_counter() - started, 1), **scores}
            print(json.dumps(result), flush=True)
            started = time.perf_counter()


if __name__ == "__main__":
    exit_with_usage_on_help(__doc__)
    main()
