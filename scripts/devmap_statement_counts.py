"""Device mapping: boosted trees with per-file statement counts, beside ``boost``.

A variant tried (docs/RESULTS.md). A bag of inst2vec statements is what wins POJ-104; here each file's
count of every vocabulary statement that occurs in at least ``MIN_FILES`` of the platform's distinct files
(support taken over all files, labels never read), as log(1 + count), is added to ``boost``'s inputs
(``boost-counts``) or replaces its embedding vectors (``tabular-counts``). scikit-learn's histogram GBDT
with defaults for all three, the same folds, in the same run. All are deterministic.
``boost`` here is one tree model on ``boost``'s inputs: ``boost`` itself until the second change of
2026-12-06, its first member since (``tasks.devmap.fit_boost``).

Usage::

    OMP_NUM_THREADS=2 python scripts/devmap_statement_counts.py [SEED] [DATA_ROOT]
    OMP_NUM_THREADS=2 python scripts/devmap_statement_counts.py confirm [DATA_ROOT]

Prints one JSON object per platform and split: accuracy and speedup of each model, wall time. ``confirm``
runs ``boost`` and ``tabular-counts`` on three further kernel-grouped fold assignments,
``StratifiedGroupKFold(10, shuffle=True, random_state=s)`` for s = 1, 2, 3 (a check of a finding made on
the first one, ``GroupKFold``, docs/RESULTS.md).
"""
import json
import sys
import time

import numpy as np

import inst2vec
from inst2vec.data import data_root
from tasks import devmap
from tasks.datasets import load_devmap
from tasks.encoding import distinct_files, encode_files
from tasks.learners import boosted_trees
from tasks.linear_model import frequent_tokens, token_counts
from script_help import exit_with_usage_on_help

MIN_FILES = 5


def statement_counts(sequences: list[np.ndarray]) -> np.ndarray:
    """log(1 + count) per file of the statements that occur in at least MIN_FILES files."""
    return np.log1p(token_counts(sequences, frequent_tokens(sequences, MIN_FILES)).toarray())


def main() -> None:
    confirm = len(sys.argv) > 1 and sys.argv[1] == "confirm"
    seed = 0 if confirm or len(sys.argv) < 2 else int(sys.argv[1])
    root = data_root(sys.argv[2] if len(sys.argv) > 2 else None)
    embeddings = inst2vec.load("published", root)
    for platform in ("amd", "nvidia"):
        data = load_devmap(platform, root)
        files, positions = distinct_files(list(data.files))
        encoded = encode_files(files, embeddings)
        counts = statement_counts(encoded.sequences)[positions]
        tabular = devmap.launch_features(data.features[:, devmap.AUX_COLUMNS])
        inputs = {"boost": np.concatenate([tabular, encoded.pooled()[positions]], axis=1)}
        inputs["boost-counts"] = np.concatenate([inputs["boost"], counts], axis=1)
        inputs["tabular-counts"] = np.concatenate([tabular, counts], axis=1)
        if confirm:
            del inputs["boost-counts"]
        splits = [f"grouped-{s}" for s in (1, 2, 3)] if confirm else devmap.SPLITS
        for split in splits:
            started = time.perf_counter()
            predicted = {name: np.zeros(len(data.labels), int) for name in inputs}
            folds = devmap.folds(data, "grouped", int(split[-1])) if confirm else devmap.folds(data, split)
            for train, test in folds:
                for name, x in inputs.items():
                    predicted[name][test] = boosted_trees(seed).fit(x[train], data.labels[train]).predict(x[test])
            result = {"platform": platform, "split": split, "seed": seed, "count_features": counts.shape[1],
                      "seconds": round(time.perf_counter() - started, 1)}
            result.update({name: data.score(labels) for name, labels in predicted.items()})
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    exit_with_usage_on_help(__doc__)
    main()
