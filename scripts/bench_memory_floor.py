"""The least time any sparse allreduce can take on this machine, beside the dense allreduce it is compared with.

Run under MPI, e.g.::

    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \\
      .venv/bin/mpiexec -n 4 --oversubscribe .venv/bin/python scripts/bench_memory_floor.py

Whatever it sends, a top-k allreduce must read every entry of its gradient once to choose what to send, and,
to give the dense sum that `bench_allreduce.py` times, write every entry of its output once (or scatter
zeros and values to the entries set, no fewer passes when the ranks' supports cover a few % of the vector).
With all ranks on one machine those passes and the dense allreduce share the same memory bus, so their ratio is
a floor for the end-to-end ratio that `bench_allreduce.py` measures. Rank 0 prints, per size, the median over
``--repeats`` (slowest rank each time, a barrier before each) of: the dense ``MPI_Allreduce`` into a kept vector;
one read pass (``np.sum``) over the gradient; one write pass (``fill``) over the output; both, one after the other;
and the ratios of the passes to the dense allreduce. One JSON object per size with ``--json``.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
from mpi4py import MPI


def slowest_median(comm: MPI.Comm, function, repeats: int) -> float:
    """Median over ``repeats`` of the slowest rank's seconds for one call of ``function``."""
    samples = []
    for _ in range(repeats):
        comm.Barrier()
        start = time.perf_counter()
        function()
        comm.Barrier()
        samples.append(comm.allreduce(time.perf_counter() - start, op=MPI.MAX))
    return float(np.median(samples))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000,5000000,25000000", help="floats per rank, comma-separated")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--json", action="store_true", help="one JSON object per size")
    args = parser.parse_args()
    comm = MPI.COMM_WORLD
    for size in (int(s) for s in args.sizes.split(",")):
        gradient = np.random.default_rng(comm.rank).standard_normal(size).astype(np.float32)
        output = np.zeros_like(gradient)
        seconds = {
            "dense_seconds": slowest_median(comm, lambda: comm.Allreduce(gradient, output, op=MPI.SUM), args.repeats),
            "read_seconds": slowest_median(comm, lambda: np.sum(gradient), args.repeats),
            "write_seconds": slowest_median(comm, lambda: output.fill(0.0), args.repeats),
            "read_write_seconds": slowest_median(comm, lambda: (np.sum(gradient), output.fill(0.0)), args.repeats),
        }
        if comm.rank == 0:
            dense = seconds["dense_seconds"]
            row = {"ranks": comm.size, "size": size, **seconds,
                   "read_ratio": seconds["read_seconds"] / dense,
                   "read_write_ratio": seconds["read_write_seconds"] / dense}
            if args.json:
                print(json.dumps(row), flush=True)
            else:
                print(f"{comm.size} ranks, {size:,} floats: dense allreduce {dense * 1e3:.1f} ms; one read pass "
                      f"{seconds['read_seconds'] * 1e3:.1f} ms ({row['read_ratio']:.2f}x), one write pass "
                      f"{seconds['write_seconds'] * 1e3:.1f} ms, read + write "
                      f"{seconds['read_write_seconds'] * 1e3:.1f} ms ({row['read_write_ratio']:.2f}x dense)",
                      flush=True)


if __name__ == "__main__":
    main()
