"""Plots of the committed task results (docs/results/*.json) into docs/: per-suite devmap speedups, the
POJ-104 confusion matrix and, where a result holds them, ncc training curves.

Usage: python scripts/plot_results.py [RESULTS_DIR] [OUT_DIR]
"""
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from script_help import exit_with_usage_on_help  # noqa: E402


def load(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def run_label(run: dict) -> str:
    return run["model"] if run["embeddings"] == "none" else f"{run['model']} ({run['embeddings']})"


def per_suite_speedups(results: list[dict], out: Path) -> None:
    """One bar per model and suite, per platform; models in the order of their mean speedup over both platforms,
    so each has the same place and colour in both panels."""
    devmap = [r for r in results if r["task"] == "devmap"]
    labels = sorted({run_label(r) for r in devmap},
                    key=lambda label: np.mean([r["speedup_mean"] for r in devmap if run_label(r) == label]))
    colours = dict(zip(labels, plt.rcParams["axes.prop_cycle"].by_key()["color"] * 2))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=False)
    for ax, platform in zip(axes, ("amd", "nvidia")):
        runs = sorted((r for r in devmap if r["platform"] == platform), key=lambda r: labels.index(run_label(r)))
        suites = sorted({s for r in runs for s in r["seeds"][0]["per_suite"]})
        width = 0.8 / max(1, len(runs))
        for i, run in enumerate(runs):
            values = [np.mean([seed["per_suite"][s]["speedup"] for seed in run["seeds"]]) for s in suites]
            ax.bar(np.arange(len(suites)) + i * width, values, width, label=run_label(run),
                   color=colours[run_label(run)])
        ax.set_xticks(np.arange(len(suites)) + 0.4 - width / 2, suites, rotation=30, ha="right")
        ax.set_yscale("log")
        ax.set_ylabel("speedup over static mapping")
        ax.set_title(f"devmap {platform}")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")


def training_curves(results: list[dict], out: Path) -> None:
    runs = [r for r in results if r["model"] == "ncc"]
    if not runs:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    for run in runs:
        for seed in run["seeds"]:
            losses = [f["curves"]["loss"] for f in seed.get("folds", []) if "curves" in f]
            if losses:
                label = f"{run['task']} {run['platform']}, {run['embeddings']} embeddings, seed {seed['seed']}"
                ax.plot(np.mean(losses, axis=0), label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (mean over folds)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")


def confusion(results: list[dict], out: Path) -> None:
    runs = [r for r in results if r["task"] == "classifyapp" and "predictions" in r["seeds"][0]]
    if not runs:
        return
    run = max(runs, key=lambda r: r["accuracy_mean"])
    k = run["protocol"]["classes"]
    matrix = np.zeros((k, k))
    for seed in run["seeds"]:
        np.add.at(matrix, (seed["test_labels"], seed["predictions"]), 1)
    matrix /= np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6, 5))
    image = ax.imshow(matrix, cmap="viridis")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"POJ-104 {run['model']}: row-normalised confusion, {len(run['seeds'])} seeds")
    fig.colorbar(image)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/results")
    out = Path(sys.argv[2] if len(sys.argv) > 2 else "docs")
    results = load(folder)
    per_suite_speedups(results, out / "devmap_per_suite.png")
    if any(r["task"] == "classifyapp" for r in results):  # the full data set
        confusion(results, out / "poj104_confusion.png")
    elif (folder / "poj104-50").is_dir():
        confusion(load(folder / "poj104-50"), out / "poj104_confusion.png")
    ncc_runs = next((folder / name for name in ("ncc-50epochs", "ncc-reduced") if (folder / name).is_dir()), None)
    training_curves(load(ncc_runs) if ncc_runs else results, out / "ncc_training_curves.png")


if __name__ == "__main__":
    exit_with_usage_on_help(__doc__)
    main()
