#!/bin/bash
# Example Slurm job: data-parallel ncc training on devmap with top-k 1 % gradients over 4 nodes.
# Submit from the project root after `bash scripts/setup.sh`:  sbatch scripts/slurm_distributed.sh
#SBATCH --job-name=inst2vec-devmap
#SBATCH --nodes=4
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=8
#SBATCH --time=01:00:00
#SBATCH --output=inst2vec-%j.log
set -euo pipefail
export INST2VEC_DATA=${INST2VEC_DATA:-$PWD/../shared/data}
# GPU nodes: export KERAS_BACKEND=torch
srun .venv/bin/inst2vec task devmap --model ncc --distributed --compression topk:0.01 --algorithm ssar_rd \
    --checkpoint-dir "ckpt-$SLURM_JOB_ID" --seeds 3 -o results/
# Resubmitted after a failure: add --resume and point --checkpoint-dir at the earlier job's folder.
