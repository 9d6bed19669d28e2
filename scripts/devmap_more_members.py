"""Device mapping: ``boost`` (the mean of two tree models) beside blends with a third or fourth member.

An exploration (docs/RESULTS.md, "Explored and not adopted: more members"): ``boost`` averages the class
probabilities of trees on the launch and the program vectors and trees on the launch alone. Each variant adds
members fitted on the same training rows, and predicts the more probable device of the mean:

- ``+counts``: trees on the launch and per-file statement counts (``devmap_statement_counts.py``'s columns);
- ``+ours``: trees on the launch and the program vectors under our embeddings instead of the published ones;
- ``+extra``: scikit-learn's extremely randomised trees (500, seed 0) on ``boost``'s inputs;
- ``+counts+ours``: both of the first two; ``counts-launch``: the counts trees and the launch trees only.

scikit-learn's histogram GBDT with defaults, seed 0, the same folds in the same run, on fold assignments the
earlier comparisons did not use: ``StratifiedKFold`` and ``StratifiedGroupKFold(10, shuffle=True,
random_state=s)`` for s = 16, 17, 18.

Usage::

    OMP_NUM_THREADS=2 python scripts/devmap_more_members.py [DATA_ROOT]

Prints one JSON object per platform, assignment and split. About 7 minutes on 2 cores.
"""
import json
import sys

import numpy as np
from sklearn.ensemble import ExtraTreesClassifier

import inst2vec
from inst2vec.data import data_root
from tasks import devmap
from tasks.datasets import DevmapData
from tasks.encoding import distinct_files, encode_files
from tasks.learners import boosted_trees
from devmap_statement_counts import statement_counts
from script_help import exit_with_usage_on_help

ASSIGNMENTS = range(16, 19)


def tree_proba(inputs: np.ndarray, labels: np.ndarray, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Class probabilities on the ``test`` rows of boosted trees (seed 0) fitted on the ``train`` rows."""
    return boosted_trees(0).fit(inputs[train], labels[train]).predict_proba(inputs[test])


def blend(*members: np.ndarray) -> np.ndarray:
    """The more probable class of the members' mean probabilities."""
    return np.mean(members, axis=0).argmax(axis=1)


def variants(data: DevmapData, x: np.ndarray, ours: inst2vec.Embeddings, published: inst2vec.Embeddings):
    """``predict(train, test)`` for one platform: ``boost`` and the blends with more members on the fold."""
    files, positions = distinct_files(list(data.files))
    launch = x[:, :devmap.LAUNCH_WIDTH]
    with_counts = np.concatenate([launch, statement_counts(encode_files(files, published).sequences)[positions]], 1)
    with_ours = devmap.boost_matrix(data.features[:, devmap.AUX_COLUMNS], encode_files(files, ours).pooled()[positions])
    labels = data.labels

    def predict(train: np.ndarray, test: np.ndarray) -> dict[str, np.ndarray]:
        code, alone, counts, ours_code = (tree_proba(inputs, labels, train, test)
                                          for inputs in (x, launch, with_counts, with_ours))
        extra = ExtraTreesClassifier(500, random_state=0, n_jobs=2).fit(x[train], labels[train]).predict_proba(x[test])
        return {"boost": blend(code, alone), "+counts": blend(code, alone, counts),
                "+ours": blend(code, alone, ours_code), "+extra": blend(code, alone, extra),
                "+counts+ours": blend(code, alone, counts, ours_code), "counts-launch": blend(counts, alone)}
    return predict


if __name__ == "__main__":
    exit_with_usage_on_help(__doc__)
    root = data_root(sys.argv[1] if len(sys.argv) > 1 else None)
    ours, published = inst2vec.load("ours", root), inst2vec.load("published", root)
    for record in devmap.compare_variants(lambda data, x: variants(data, x, ours, published), ASSIGNMENTS, root):
        print(json.dumps(record), flush=True)
