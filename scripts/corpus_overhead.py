"""Our own per-file work beside clang's, per suite, from the manifests of built corpora (docs/corpus.md).

    python scripts/corpus_overhead.py OUT [OUT2 ...]

"Ours" is a compilation's worker time minus clang's wall time (the records' ``worker_seconds`` and ``seconds``),
summed over the compilations that ran clang (skipped CUDA sources do not). Give two corpora built from the same
sources by two versions of the code, one after the other on the same machine, to compare them: each gets its
columns, and the last column is the second's share over the first's.
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ir_corpus import Manifest  # noqa: E402


def per_suite(corpus: str) -> dict[str, list[float]]:
    """``{suite: [compilations, clang seconds, our seconds]}`` with an ``all`` row."""
    rows: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for record in Manifest(corpus):
        if record["status"] == "skipped" or "worker_seconds" not in record:
            continue
        for key in (record["suite"], "all"):
            rows[key][0] += 1
            rows[key][1] += record["seconds"]
            rows[key][2] += record["worker_seconds"] - record["seconds"]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpora", nargs="+", help="corpus folders (manifest.jsonl)")
    args = parser.parse_args()
    tables = [per_suite(corpus) for corpus in args.corpora]
    suites = sorted({suite for table in tables for suite in table} - {"all"}) + ["all"]
    header = ["suite"] + [f"{name} ({i + 1})" for i in range(len(tables))
                          for name in ("compilations", "clang s", "ours s", "ours/clang")]
    if len(tables) == 2:
        header.append("(2)/(1)")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for suite in suites:
        cells = [suite]
        shares = []
        for table in tables:
            n, clang, ours = table.get(suite, [0, 0.0, 0.0])
            shares.append(ours / clang if clang else float("nan"))
            cells += [f"{n:,}", f"{clang:,.1f}", f"{ours:,.1f}", f"{100 * shares[-1]:.1f} %"]
        if len(tables) == 2:
            cells.append(f"{shares[1] / shares[0]:.2f}")
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
