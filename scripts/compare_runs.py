"""Paired comparison of two configurations of the same task and protocol: which rows each got right.

Two accuracies on the same test rows are not independent, so comparing them as two means overstates or
hides a difference. This pairs the predictions row by row: for each seed both sides ran, the rows only one
of them got right and the exact McNemar test on them (two-sided binomial test of those discordant rows,
p = 1 when there are none), plus how many folds each side won (devmap). McNemar's test counts only the rows
as noise, not the training: two trainings of one configuration with different seeds disagree too. So where a
side has several seeds, its seeds are also paired with each other ("within"), which shows how far apart
the same configuration lands from seed to seed; read the A-vs-B rows against those. With at least two seeds
on each side, Welch's t-test on the seeds' accuracies closes the output: the comparison that takes the
training noise into account.

Usage::

    python scripts/compare_runs.py A.json[,A2.json…] B.json[,B2.json…] [DATA_ROOT]

A side may be several result files of one configuration (seeds run separately, e.g. with ``--first-seed``).
Works for devmap (labels from the data set) and classifyapp (labels stored with each seed).
"""
import argparse
import itertools
import json

import numpy as np
from scipy.stats import binomtest, ttest_ind

from inst2vec.data import data_root
from tasks.datasets import load_devmap


def correct_rows(result: dict, seed: dict, root) -> np.ndarray:
    """Whether each test row of one seed was predicted right."""
    if result["task"] == "classifyapp":
        return np.asarray(seed["predictions"]) == np.asarray(seed["test_labels"])
    if result["task"] == "devmap":
        return np.asarray(seed["predictions"]) == load_devmap(result["platform"], root).labels
    raise SystemExit(f"compare_runs.py compares devmap or classifyapp results, not {result['task']}")


def load_side(paths: str) -> tuple[dict, dict[int, dict]]:
    """The first result (for task, platform and protocol) and every seed of the comma-separated result files."""
    results = [json.load(open(path)) for path in paths.split(",")]
    first = results[0]
    seeds: dict[int, dict] = {}
    for result in results:
        if (result["task"], result["platform"], result["model"], result["embeddings"]) != \
                (first["task"], first["platform"], first["model"], first["embeddings"]):
            raise SystemExit(f"{paths}: the files of one side must be runs of one configuration")
        for seed in result["seeds"]:
            if seed["seed"] in seeds:
                raise SystemExit(f"{paths}: seed {seed['seed']} occurs twice")
            seeds[seed["seed"]] = seed
    return first, seeds


def paired(label: str, result: dict, seed_a: dict, seed_b: dict, root) -> dict:
    """Rows right in only one of two seeds' predictions, McNemar's p and the folds each won."""
    right_a, right_b = correct_rows(result, seed_a, root), correct_rows(result, seed_b, root)
    only_a, only_b = int((right_a & ~right_b).sum()), int((~right_a & right_b).sum())
    p = binomtest(only_b, only_a + only_b).pvalue if only_a + only_b else 1.0
    report = {"pair": label, "rows": len(right_a), "accuracy_a": round(float(right_a.mean()), 4),
              "accuracy_b": round(float(right_b.mean()), 4), "right_only_in_a": only_a,
              "right_only_in_b": only_b, "mcnemar_exact_p": round(p, 4)}
    if "folds" in seed_a and "folds" in seed_b:
        folds = [(fa["accuracy"], fb["accuracy"]) for fa, fb in zip(seed_a["folds"], seed_b["folds"])]
        report["folds_won"] = {"a": sum(x > y for x, y in folds), "b": sum(y > x for x, y in folds),
                               "tied": sum(x == y for x, y in folds)}
    return report


def summary(side: str, result: dict, seeds: dict[int, dict]) -> dict:
    """Accuracy of every seed of one side, with mean and sample standard deviation."""
    accuracy = [seeds[s]["accuracy"] for s in sorted(seeds)]
    return {"side": side, "model": result["model"], "embeddings": result["embeddings"], "seeds": sorted(seeds),
            "accuracy": [round(a, 4) for a in accuracy], "mean": round(float(np.mean(accuracy)), 4),
            "std": round(float(np.std(accuracy, ddof=1)), 4) if len(accuracy) > 1 else None}


def welch(a: list[float], b: list[float]) -> dict:
    """Welch's two-sided t-test of B against A on one figure per seed (unequal variances); no test where every
    seed of each side gave the same figure (a deterministic model: it printed t = 2.6e13, p = 0 for a 0.3 pp
    difference)."""
    report = {"welch": "B vs A over seeds", "seeds_a": len(a), "seeds_b": len(b),
              "mean_difference": round(float(np.mean(b) - np.mean(a)), 4)}
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return {**report, "t": None, "p": None,
                "note": "each side gave the same figure with every seed: there is no seed noise to test against; "
                        "the paired rows above are the comparison"}
    test = ttest_ind(b, a, equal_var=False)
    return {**report, "t": round(float(test.statistic), 3), "p": round(float(test.pvalue), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("side_a", help="result JSON of configuration A; several seeds' files joined by commas")
    parser.add_argument("side_b", help="result JSON of configuration B, likewise")
    parser.add_argument("data_root", nargs="?", help="data root (default: INST2VEC_DATA or ../shared/data)")
    args = parser.parse_args()
    root = data_root(args.data_root)
    (a, seeds_a), (b, seeds_b) = load_side(args.side_a), load_side(args.side_b)
    if (a["task"], a["platform"], a["protocol"].get("split")) != (b["task"], b["platform"], b["protocol"].get("split")):
        raise SystemExit("the two sides are of different tasks, platforms or splits")
    for seed in sorted(seeds_a.keys() & seeds_b.keys()):
        print(json.dumps(paired(f"A vs B, seed {seed}", a, seeds_a[seed], seeds_b[seed], root)))
    for side, result, seeds in (("A", a, seeds_a), ("B", b, seeds_b)):
        for s, t in itertools.combinations(sorted(seeds), 2):
            print(json.dumps(paired(f"within {side}, seed {s} vs {t}", result, seeds[s], seeds[t], root)))
    for side, result, seeds in (("A", a, seeds_a), ("B", b, seeds_b)):
        print(json.dumps(summary(side, result, seeds)))
    if len(seeds_a) > 1 and len(seeds_b) > 1:
        print(json.dumps(welch([seed["accuracy"] for seed in seeds_a.values()],
                               [seed["accuracy"] for seed in seeds_b.values()])))


if __name__ == "__main__":
    main()
