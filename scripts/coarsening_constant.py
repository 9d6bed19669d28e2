"""Thread coarsening: the neighbour model beside the one-factor baseline (``constant``), kernel by kernel.

Reads ``docs/results/threadcoarsening-PLATFORM-neighbours-published.json`` and ``…-constant-none.json`` (the
committed runs) and prints JSON lines: per platform both mean speedups, then over the 68 (kernel, GPU) pairs how
often the neighbour model is faster, slower or level, and the Wilcoxon signed-rank test on the log-speedups of
the pairs that differ. Then, from the data, why ``constant`` falls below 1 on Kepler: the mean log-speedup of
all 17 kernels at factors 1 and 2, and the kernels whose fold chose a factor other than 1, with their speedup.

Usage::

    python scripts/coarsening_constant.py [DATA_ROOT]
"""
import json
import sys
from pathlib import Path

import numpy as np
from scipy.stats import wilcoxon

from inst2vec.data import data_root
from tasks.datasets import COARSENING_FACTORS, COARSENING_PLATFORMS, load_threadcoarsening
from tasks.threadcoarsening import log_speedup_curves
from script_help import exit_with_usage_on_help

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results"


def fold_speedups(platform: str, model: str, embeddings: str) -> np.ndarray:
    """The first seed's speedup per held-out kernel of a committed result."""
    result = json.loads((RESULTS / f"threadcoarsening-{platform}-{model}-{embeddings}.json").read_text())
    return np.array([fold["speedup"] for fold in result["seeds"][0]["folds"]])


def main() -> None:
    differences = []
    for platform in COARSENING_PLATFORMS:
        neighbours = fold_speedups(platform, "neighbours", "published")
        constant = fold_speedups(platform, "constant", "none")
        differences.append(np.log(neighbours) - np.log(constant))
        print(json.dumps({"platform": platform, "neighbours": round(neighbours.mean(), 3),
                          "constant": round(constant.mean(), 3)}))
    differences = np.concatenate(differences)
    differing = differences[np.abs(differences) > 1e-12]
    print(json.dumps({"pairs": len(differences), "neighbours_faster": int((differing > 0).sum()),
                      "neighbours_slower": int((differing < 0).sum()), "level": len(differences) - len(differing),
                      "wilcoxon_p": round(float(wilcoxon(differing).pvalue), 3)}))
    kepler = load_threadcoarsening("Kepler", data_root(sys.argv[1] if len(sys.argv) > 1 else None))
    curves = log_speedup_curves(kepler)
    chosen = [int(np.argmax(np.delete(curves, k, axis=0).mean(axis=0))) for k in range(len(kepler.kernels))]
    others = {str(kepler.kernels[k]): {"factor": COARSENING_FACTORS[c], "speedup": round(kepler.speedup(k, c), 3)}
              for k, c in enumerate(chosen) if c != 0}
    print(json.dumps({"platform": "Kepler", "mean_log_speedup_factor_1": round(float(curves[:, 0].mean()), 4),
                      "mean_log_speedup_factor_2": round(float(curves[:, 1].mean()), 4),
                      "folds_not_choosing_factor_1": others}))


if __name__ == "__main__":
    exit_with_usage_on_help(__doc__)
    main()
