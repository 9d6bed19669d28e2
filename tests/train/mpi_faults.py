"""Run under mpiexec: rank 1 hangs or dies before the second allreduce; the job must end with an error.

Usage: mpi_faults.py {hang,die} TIMEOUT
"""
import os
import sys
import time

import numpy as np

from train.keras_distributed import GradientAllreducer


def main() -> None:
    mode, timeout = sys.argv[1], float(sys.argv[2])
    reducer = GradientAllreducer("topk:0.1", timeout=timeout)
    gradient = np.ones(1000, np.float32)
    reducer(gradient)
    if reducer.comm.rank == 1:
        if mode == "die":
            os._exit(7)
        time.sleep(3600)
    reducer(gradient)
    print("not reached", flush=True)


if __name__ == "__main__":
    main()
