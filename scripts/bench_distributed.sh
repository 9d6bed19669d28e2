#!/usr/bin/env bash
# End-to-end distributed training benchmark (docs/distributed.md): one process, then RANKS ranks with
# dense, top-k 1 % (with and without error feedback), top-k 1 % with 4-bit values and QSGD 4-bit gradients, for each seed in
# SEEDS (default "0"); one JSON line each. OPTIMIZER: adam (default) or sgd:LR (momentum 0.9).
# RANKS: ranks of the data-parallel runs (default 4). LINK_GBPS: the data-parallel runs send over a
# simulated link of that many Gb/s (train.collectives.SimulatedLink).
set -euo pipefail
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
for seed in $seeds; do
  run 1 single ssar_rd "$seed"
  run "$ranks" none ssar_rd "$seed"
  run "$ranks" topk:0.01 ssar_rd "$seed"
  run "$ranks" topk:0.01 ssar_rd "$seed" --no-error-feedback
  run "$ranks" topk_q4:0.01 ssar_rd "$seed"  # quantized values are gathered whatever the algorithm
  run "$ranks" qsgd:4 ssar_rd "$seed"
done
