"""Paired comparison of two result files of the same task and protocol: which rows each got right.

Two accuracies on the same test rows are not independent, so comparing them as two means overstates or
hides a difference. This pairs the predictions row by row, seed by seed: the rows only one of the runs got
right, and the exact McNemar test on them (two-sided binomial test of those discordant rows, p = 1 when
there are none), plus how many folds each run won (devmap).

Usage::

    python scripts/compare_runs.py A.json B.json [DATA_ROOT]

Works for devmap (labels from the data set) and classifyapp (labels stored with each seed).
"""
import json
import sys

import numpy as np
from scipy.stats import binomtest

from inst2vec.data import data_root
from tasks.datasets import load_devmap


def correct_rows(result: dict, seed: dict, root) -> np.ndarray:
    """Whether each test row of one seed was predicted right."""
    if result["task"] == "classifyapp":
        return np.asarray(seed["predictions"]) == np.asarray(seed["test_labels"])
    if result["task"] == "devmap":
        return np.asarray(seed["predictions"]) == load_devmap(result["platform"], root).labels
    raise SystemExit(f"compare_runs.py compares devmap or classifyapp results, not {result['task']}")


def main() -> None:
    paths = sys.argv[1:3]
    root = data_root(sys.argv[3] if len(sys.argv) > 3 else None)
    a, b = (json.load(open(path)) for path in paths)
    if (a["task"], a["platform"], a["protocol"].get("split")) != (b["task"], b["platform"], b["protocol"].get("split")):
        raise SystemExit("the two results are of different tasks, platforms or splits")
    seeds_b = {seed["seed"]: seed for seed in b["seeds"]}
    for seed_a in a["seeds"]:
        seed_b = seeds_b.get(seed_a["seed"])
        if seed_b is None:
            continue
        right_a, right_b = correct_rows(a, seed_a, root), correct_rows(b, seed_b, root)
        only_a, only_b = int((right_a & ~right_b).sum()), int((~right_a & right_b).sum())
        p = binomtest(only_b, only_a + only_b).pvalue if only_a + only_b else 1.0
        report = {"seed": seed_a["seed"], "rows": len(right_a), "accuracy_a": round(float(right_a.mean()), 4),
                  "accuracy_b": round(float(right_b.mean()), 4), "right_only_in_a": only_a,
                  "right_only_in_b": only_b, "mcnemar_exact_p": round(p, 4)}
        if "folds" in seed_a and "folds" in seed_b:
            pairs = [(fa["accuracy"], fb["accuracy"]) for fa, fb in zip(seed_a["folds"], seed_b["folds"])]
            report["folds_won"] = {"a": sum(x > y for x, y in pairs), "b": sum(y > x for x, y in pairs),
                                   "tied": sum(x == y for x, y in pairs)}
        print(json.dumps(report))


if __name__ == "__main__":
    main()
