#!/usr/bin/env bash
# End-to-end distributed training benchmark (docs/distributed.md): one process, then RANKS ranks with
# dense, top-k 1 % (with and without error feedback), top-k 1 % with 4-bit values, QSGD 4-bit and PowerSGD rank 2
# gradients, for each seed in SEEDS (default "0"); one JSON line each. OPTIMIZER: adam (default) or sgd:LR
# (momentum 0.9). RANKS: ranks of the data-parallel runs (default 4). LINK_GBPS: the data-parallel runs send over a
# simulated link of that many Gb/s (train.collectives.SimulatedLink). RUNS: which of the runs, in this order
# (default all: single none topk:0.01 topk:0.01-noef topk_q4:0.01 qsgd:4 powersgd:2; "-noef": without error
# feedback; "single": one process).
set -euo pipefail
case "${1:-}" in -h|--help) sed -n 2,8p "$0" | cut -c3-; exit 0;; ?*) echo "no arguments: set the variables above" >&2; exit 2;; esac
data=${INST2VEC_DATA:-../shared/data}
epochs=${EPOCHS:-10}
seeds=${SEEDS:-0}
ranks=${RANKS:-4}
optimizer=${OPTIMIZER:-adam}
link=()
[ -n "${LINK_GBPS:-}" ] && link=(--link-gbps "$LINK_GBPS")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 TF_CPP_MIN_LOG_LEVEL=2
run() {
  local extra=(); [ "$1" -gt 1 ] && extra=("${link[@]}")
  .venv/bin/mpiexec -n "$1" --oversubscribe .venv/bin/python scripts/bench_distributed_task.py "$data" "$2" "$3" \
    "$epochs" "${@:4}" --optimizer "$optimizer" "${extra[@]}" 2>/dev/null | grep '^{'
}
runs=${RUNS:-"single none topk:0.01 topk:0.01-noef topk_q4:0.01 qsgd:4 powersgd:2"}
for seed in $seeds; do
  for spec in $runs; do  # quantized values are gathered, PowerSGD's factors allreduced, whatever the algorithm
    case $spec in
      single) run 1 single ssar_rd "$seed" ;;
      *-noef) run "$ranks" "${spec%-noef}" ssar_rd "$seed" --no-error-feedback ;;
      *) run "$ranks" "$spec" ssar_rd "$seed" ;;
    esac
  done
done
