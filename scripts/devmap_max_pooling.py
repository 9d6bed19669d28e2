"""Device mapping: ``boost`` beside variants whose program vectors add max and min pooling.

``boost``'s trees with the code see each file's program vectors: the mean of its statement vectors, and the mean
after one step of flow (``tasks.encoding``). A mean dilutes a rare statement (an atomic, a barrier, a local-memory
access) in a long kernel; the element-wise max and min over the file's statement vectors (published embeddings,
the matrix's raw rows) keep it. Variants, each the mean of class probabilities of tree models fitted on the fold's
training rows, as ``boost`` (``tasks.devmap.fit_boost``):

- ``maxmin-in-code``: ``boost``'s two members, the code member's inputs extended by the max and the min;
- ``+maxmin-member``: ``boost``'s two members and trees on the launch, the max and the min;
- ``size-in-code``: ``boost``'s two members, the code member's inputs extended by log(1 + statements).

``explore`` runs all on fold assignments s = 16, 17, 18 (``StratifiedKFold`` and ``StratifiedGroupKFold(10,
shuffle=True, random_state=s)``); ``confirm`` runs ``boost`` and ``maxmin-in-code``, the variant chosen after the
exploration, on s = 19 … 24, for the rule written down before it (docs/RESULTS.md). scikit-learn's histogram GBDT
with defaults, seed 0, the same folds in the same run.

Usage::

    OMP_NUM_THREADS=2 python scripts/devmap_max_pooling.py {explore,confirm} [DATA_ROOT]

Prints one JSON object per platform, assignment and split. About 11–13 minutes each on 2 cores.
"""
import json
import sys

import numpy as np

import inst2vec
from inst2vec.data import data_root
from inst2vec.embeddings import Embeddings
from tasks import devmap
from tasks.datasets import DevmapData
from tasks.encoding import distinct_files, encode_files
from devmap_more_members import blend, tree_proba
from script_help import exit_with_usage_on_help

ASSIGNMENTS = {"explore": range(16, 19), "confirm": range(19, 25)}


def variants(data: DevmapData, x: np.ndarray, embeddings: Embeddings, confirm: bool):
    """``predict(train, test)`` for one platform: ``boost`` and the variants on the fold."""
    files, positions = distinct_files(list(data.files))
    statements = [embeddings.matrix[indices] for indices in encode_files(files, embeddings).sequences]
    max_min = np.stack([np.concatenate([rows.max(axis=0), rows.min(axis=0)]) for rows in statements])[positions]
    sizes = np.log1p([len(rows) for rows in statements])[positions]
    launch = x[:, :devmap.LAUNCH_WIDTH]
    with_max_min, launch_max_min = np.concatenate([x, max_min], 1), np.concatenate([launch, max_min], 1)
    with_size = np.concatenate([x, sizes[:, None]], 1)

    def predict(train: np.ndarray, test: np.ndarray) -> dict[str, np.ndarray]:
        def trees(inputs: np.ndarray) -> np.ndarray:
            return tree_proba(inputs, data.labels, train, test)

        code, alone, code_max_min = trees(x), trees(launch), trees(with_max_min)
        predicted = {"boost": blend(code, alone), "maxmin-in-code": blend(code_max_min, alone)}
        if not confirm:
            predicted["+maxmin-member"] = blend(code, alone, trees(launch_max_min))
            predicted["size-in-code"] = blend(trees(with_size), alone)
        return predicted
    return predict


if __name__ == "__main__":
    exit_with_usage_on_help(__doc__, required=1)
    if sys.argv[1] not in ASSIGNMENTS:
        sys.exit(f"devmap_max_pooling.py: {sys.argv[1]!r}: give explore or confirm")
    root = data_root(sys.argv[2] if len(sys.argv) > 2 else None)
    published = inst2vec.load("published", root)
    confirm = sys.argv[1] == "confirm"
    for record in devmap.compare_variants(lambda data, x: variants(data, x, published, confirm),
                                          ASSIGNMENTS[sys.argv[1]], root):
        print(json.dumps(record), flush=True)
