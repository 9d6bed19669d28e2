"""Thread coarsening under IR2Vec's protocol, where the held-out kernel's data on the *other* GPUs is known.

Two predictors that never look at the code, for weighing numbers reported under that protocol
(docs/RESULTS.md): per platform and kernel, the factor with the best mean log-speedup of the same
kernel on the other three GPUs (their runtimes), and the factor best on most of the other three GPUs
(their labels only; ties to the smaller factor). Speedups use the protocol's clamping rule.

Usage::

    python scripts/coarsening_other_gpus.py [DATA_ROOT]
"""
import json
import sys

import numpy as np

from inst2vec.data import data_root
from tasks.datasets import COARSENING_PLATFORMS, load_threadcoarsening
from script_help import exit_with_usage_on_help


def main() -> None:
    root = data_root(sys.argv[1] if len(sys.argv) > 1 else None)
    platforms = {p: load_threadcoarsening(p, root) for p in COARSENING_PLATFORMS}
    result = {"runtimes": {}, "labels": {}}
    for name, data in platforms.items():
        others = [d for p, d in platforms.items() if p != name]
        by_runtimes, by_labels = [], []
        for k in range(len(data.kernels)):
            curves = np.array([np.log(d.runtimes[k, 0] / d.runtimes[k]) for d in others])
            counts = (~np.isnan(curves)).sum(axis=0)  # GPUs that measured each factor
            mean_curve = np.where(counts > 0, np.nansum(curves, axis=0) / np.maximum(counts, 1), -np.inf)
            by_runtimes.append(data.speedup(k, int(np.argmax(mean_curve))))
            votes = np.bincount([int(d.labels[k]) for d in others], minlength=curves.shape[1])
            by_labels.append(data.speedup(k, int(np.argmax(votes))))
        result["runtimes"][name] = round(float(np.mean(by_runtimes)), 3)
        result["labels"][name] = round(float(np.mean(by_labels)), 3)
    for predictor in ("runtimes", "labels"):
        result[predictor]["mean"] = round(float(np.mean(list(result[predictor].values()))), 3)
    print(json.dumps(result))


if __name__ == "__main__":
    exit_with_usage_on_help(__doc__)
    main()
