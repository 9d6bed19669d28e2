#!/usr/bin/env bash
# End-to-end distributed training benchmark (docs/distributed.md): one process, then 4 ranks with
# dense, top-k 1 % (error feedback) and QSGD 4-bit gradients; one JSON line each.
set -euo pipefail
data=${INST2VEC_DATA:-../shared/data}
epochs=${EPOCHS:-10}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 TF_CPP_MIN_LOG_LEVEL=2
run() { .venv/bin/mpiexec -n "$1" --oversubscribe .venv/bin/python scripts/bench_distributed_task.py "$data" "$2" "$3" "$epochs" 2>/dev/null | grep '^{'; }
run 1 single ssar_rd
run 4 none ssar_rd
run 4 topk:0.01 ssar_rd
run 4 qsgd:4 ssar_rd
