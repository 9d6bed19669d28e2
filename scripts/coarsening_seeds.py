"""Compare two configurations of a thread-coarsening model over seeds run separately.

For each side (an embeddings name, e.g. ``published`` or ``ours``) it reads
``RUN/threadcoarsening-PLATFORM-MODEL-SIDE.json`` from every run folder given, one or more seeds per file, and
prints JSON lines: every seed's speedup per platform, how many of the 17 predicted factors change between two
seeds of one side (how far one configuration lands from seed to seed), the mean over the four platforms per seed
with its mean and sample standard deviation, and finally Welch's two-sided t-test of B against A on those
four-platform means (with at least two seeds a side).

Usage::

    python scripts/coarsening_seeds.py published ours \\
        --runs docs/results,docs/results/ncc-50epochs-seed1,docs/results/ncc-50epochs-seed2
"""
import argparse
import itertools
import json
from pathlib import Path

import numpy as np

from compare_runs import load_side, welch  # same folder; load_side checks a side is one configuration

PLATFORMS = ("Cypress", "Tahiti", "Fermi", "Kepler")


def platform_seeds(runs: list[str], platform: str, model: str, embeddings: str) -> dict[int, dict]:
    """Every seed of one configuration on one platform, over the run folders."""
    files = [str(Path(run) / f"threadcoarsening-{platform}-{model}-{embeddings}.json") for run in runs]
    return load_side(",".join(files))[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("side_a", help="embeddings name of configuration A, as in the file names")
    parser.add_argument("side_b", help="embeddings name of configuration B")
    parser.add_argument("--runs", required=True, help="run folders holding the result files, joined by commas")
    parser.add_argument("--model", default="ncc", help="model name in the file names (default: ncc)")
    args = parser.parse_args()
    runs = args.runs.split(",")
    platform_means = {}
    for side in (args.side_a, args.side_b):
        per_platform = {platform: platform_seeds(runs, platform, args.model, side) for platform in PLATFORMS}
        seeds = sorted(per_platform[PLATFORMS[0]])
        if any(sorted(s) != seeds for s in per_platform.values()):
            raise SystemExit(f"{side}: the platforms were not run with the same seeds")
        for platform, by_seed in per_platform.items():
            speedup = [by_seed[s]["speedup"] for s in seeds]
            print(json.dumps({"side": side, "platform": platform, "seeds": seeds,
                              "speedup": [round(x, 3) for x in speedup], "mean": round(float(np.mean(speedup)), 3)}))
            for s, t in itertools.combinations(seeds, 2):
                changed = sum(fs["predicted_factor"] != ft["predicted_factor"]
                              for fs, ft in zip(by_seed[s]["folds"], by_seed[t]["folds"]))
                print(json.dumps({"within": side, "platform": platform, "seeds": [s, t],
                                  "factors_changed": changed, "kernels": len(by_seed[s]["folds"])}))
        means = [float(np.mean([per_platform[p][s]["speedup"] for p in PLATFORMS])) for s in seeds]
        platform_means[side] = means
        print(json.dumps({"side": side, "seeds": seeds, "four_platform_mean": [round(m, 3) for m in means],
                          "mean": round(float(np.mean(means)), 3),
                          "std": round(float(np.std(means, ddof=1)), 3) if len(means) > 1 else None}))
    a, b = platform_means[args.side_a], platform_means[args.side_b]
    if len(a) > 1 and len(b) > 1:
        print(json.dumps(welch(a, b)))


if __name__ == "__main__":
    main()
