#!/usr/bin/env bash
# End-to-end distributed training benchmark (docs/distributed.md): one process, then 4 ranks with
# dense, top-k 1 % (with and without error feedback), top-k 1 % with 4-bit values and QSGD 4-bit gradients, for each seed in
# SEEDS (default "0"); one JSON line each. OPTIMIZER: adam (default) or sgd:LR (momentum 0.9).
set -euo pipefail
data=${INST2VEC_DATA:-../shared/data}
epochs=${EPOCHS:-10}
seeds=${SEEDS:-0}
optimizer=${OPTIMIZER:-adam}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 TF_CPP_MIN_LOG_LEVEL=2
run() { .venv/bin/mpiexec -n "$1" --oversubscribe .venv/bin/python scripts/bench_distributed_task.py "$data" "$2" "$3" "$epochs" "${@:4}" --optimizer "$optimizer" 2>/dev/null | grep '^{'; }
for seed in $seeds; do
  run 1 single ssar_rd "$seed"
  run 4 none ssar_rd "$seed"
  run 4 topk:0.01 ssar_rd "$seed"
  run 4 topk:0.01 ssar_rd "$seed" --no-error-feedback
  run 4 topk_q4:0.01 ssar_rd "$seed"  # quantized values are gathered whatever the algorithm
  run 4 qsgd:4 ssar_rd "$seed"
done
