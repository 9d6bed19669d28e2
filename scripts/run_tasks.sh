#!/usr/bin/env bash
# Full protocol runs of the fast models and the baselines (docs/RESULTS.md lists the results).
# Usage: bash scripts/run_tasks.sh [OUT_DIR]   (default docs/results; about 10 minutes on 2 cores)
set -euo pipefail
case "${1:-}" in -h|--help) sed -n 2,3p "$0" | cut -c3-; exit 0;; -*) echo "unknown option $1" >&2; exit 2;; esac
out=${1:-docs/results}
run() { .venv/bin/inst2vec task "$@" -o "$out"; }
for model in static grewe launch oracle; do run devmap --model "$model" --seeds 1; done
run devmap --model boost --seeds 3
run devmap --model boost --seeds 3 --embeddings ours   # docs/embeddings.md, "In the tasks"
.venv/bin/inst2vec task devmap --model boost --seeds 3 --split grouped -o "$out/grouped"
for model in grewe launch; do .venv/bin/inst2vec task devmap --model "$model" --seeds 1 --split grouped -o "$out/grouped"; done
for model in static constant oracle magni neighbours; do run threadcoarsening --model "$model" --seeds 1; done
run threadcoarsening --model neighbours --seeds 1 --embeddings ours
