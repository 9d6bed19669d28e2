"""Time to accuracy from the JSON lines of ``scripts/bench_distributed.sh`` (docs/distributed.md).

Usage::

    python scripts/time_to_accuracy.py RUNS.jsonl [--target 0.75]

For every configuration (compression, error feedback, ranks) it prints, seed by seed, the training
seconds until the held-out accuracy first reached ``--target`` ("-" if it never did), the final
accuracy and the bytes sent, then means, and the ratios to the dense runs of the same file.
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict

import numpy as np

from train.compression import FEEDBACK_REDUCTIONS, parse_compression


def epochs_to(target: float, accuracy: list[float]) -> int | None:
    """The first epoch (1, 2, …) whose held-out accuracy reached ``target``."""
    return next((epoch for epoch, a in enumerate(accuracy, 1) if a >= target), None)


def show(numbers: list, spec: str = ".1f") -> str:
    """``a / b / c``, "-" for a target not reached."""
    return " / ".join("-" if v is None else f"{v:{spec}}" for v in numbers)


def configuration(run: dict) -> str:
    """A run's name without its seed: ranks, compression, error feedback, link."""
    if run["ranks"] == 1:
        return "1 process"
    takes_feedback = parse_compression(run["compression"]).reduction in FEEDBACK_REDUCTIONS
    feedback = "" if not takes_feedback else " + error feedback" if run["error_feedback"] else ", no error feedback"
    link = f", {run['link_gbps'] * 1000:g} Mb/s link" if run.get("link_gbps") else ""
    return f"{run['ranks']} ranks, {run['compression']}{feedback}{link}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs")
    parser.add_argument("--target", type=float, default=0.75)
    args = parser.parse_args()
    groups: dict[str, list[dict]] = defaultdict(list)
    with open(args.runs) as lines:
        for line in lines:
            run = json.loads(line)
            if "curve_accuracy" in run:
                groups[configuration(run)].append(run)
    summary = {}
    for name, runs in groups.items():
        epochs = [epochs_to(args.target, r["curve_accuracy"]) for r in runs]
        times = [None if e is None else r["curve_seconds"][e - 1] for e, r in zip(epochs, runs)]
        reached = [t for t in times if t is not None]
        finals = [100 * r["accuracy"] for r in runs]
        summary[name] = (np.mean(reached) if len(reached) == len(runs) else None, np.mean(finals),
                         np.mean([r["bytes_sent"] for r in runs]), np.mean([r["curve_seconds"][-1] for r in runs]))
        print(f"{name}: seeds {', '.join(str(r['seed']) for r in runs)}")
        print(f"  seconds to {100 * args.target:g} %: {show(times)} (epoch {show(epochs, 'd')})   "
              f"final accuracy: {show(finals)} % "
              f"(mean {np.mean(finals):.2f} ± {np.std(finals):.2f})   training seconds: "
              f"{show([r['curve_seconds'][-1] for r in runs])}")
    dense = next((values for name, values in summary.items() if ", none" in name), None)  # the dense runs
    if dense is None:
        return
    print(f"\nratios to the dense runs (target {100 * args.target:g} %; a mean over seeds that all reached it):")
    for name, (seconds, final, sent, total) in summary.items():
        ratio = "-" if seconds is None or dense[0] is None else f"{seconds / dense[0]:.2f}"
        print(f"  {name}: time to target {ratio}, total training time {total / dense[3]:.2f}, "
              f"bytes {sent / dense[2]:.4f}, final accuracy {final - dense[1]:+.2f} pp")


if __name__ == "__main__":
    main()
