"""Run under ``mpiexec -n P``: every collective against the dense sum, on every rank. Exit 1 on a mismatch."""
import os
import sys
import time

import numpy as np

from train.allreduce import allreduce
from train.collectives import ALGORITHMS, Communicator, SimulatedLink, Stream
from train.compression import QSGD, TopK, TopKQuantized, parse_compression
from train.powersgd import PowerSGD


def contribution(case: str, rank: int, size: int, n: int, rng: np.random.Generator) -> Stream:
    """Integer-valued float contributions, so every summation order gives the exact same sum."""
    k = max(1, n // 50)
    if case == "random":
        indices = np.sort(rng.choice(n, k, replace=False))
    elif case == "overlap":
        indices = np.arange(0, n, n // k)[:k]
    elif case == "disjoint":
        indices = np.arange(rank, n, size)[:k]
    elif case == "empty":
        indices = np.sort(rng.choice(n, k, replace=False)) if rank == 0 else np.zeros(0, np.int64)
    elif case == "dense":
        return Stream(n, rng.integers(-50, 50, n).astype(np.float32))
    elif case == "fill":  # dense enough that merges switch to dense on the way
        indices = np.sort(rng.choice(n, n // 3, replace=False))
    elif case == "full":  # sparse form holding every index: must travel as a dense block
        indices = np.arange(n)
    else:
        raise ValueError(case)
    values = rng.integers(-50, 50, len(indices)).astype(np.float32)
    values[values == 0] = 1
    return Stream.from_pairs(n, indices, values)


def powersgd_failures(comm: Communicator) -> list[str]:
    """PowerSGD: a sum of rank-2 matrices comes back exactly; the vector as MPI sums it; the residuals of all ranks
    hold what the sum left out; the bytes are those of the factors."""
    failures, shapes = [], [(400, 300), (50,)]
    rng = np.random.default_rng(comm.rank)
    basis = np.random.default_rng(99).normal(size=(400, 2))  # the same column space on every rank
    matrix = (basis @ rng.normal(size=(2, 300))).astype(np.float32)
    x = np.concatenate([matrix.ravel(), rng.normal(size=50).astype(np.float32)])
    expected = comm.allreduce_dense(x)
    before = comm.bytes_sent
    total = allreduce(comm, x, PowerSGD(2, error_feedback=False), shapes=shapes)
    sent = comm.bytes_sent - before
    if not np.allclose(total[:-50], expected[:-50], atol=1e-4 * np.abs(expected).max()):
        failures.append(f"powersgd low rank: max error {np.abs(total - expected)[:-50].max()}")
    if not np.array_equal(total[-50:], expected[-50:]):
        failures.append("powersgd: the vector differs from its dense sum")
    ring = lambda nbytes: int(2 * (comm.size - 1) / comm.size * nbytes)  # noqa: E731 (as allreduce_dense counts)
    if sent != ring((400 * 2 + 50) * 4) + ring(300 * 2 * 4):  # P and the vector, then Q
        failures.append(f"powersgd bytes: {sent}, not those of the factors")
    with_feedback = PowerSGD(1)
    noise = rng.normal(size=x.size).astype(np.float32)
    total = with_feedback.allreduce(comm, noise, shapes)
    kept = comm.allreduce_dense(with_feedback.error)
    if not np.allclose(total + kept, comm.allreduce_dense(noise), atol=1e-4):
        failures.append(f"powersgd error feedback: {np.abs(total + kept - comm.allreduce_dense(noise)).max()} lost")
    if with_feedback.blas_threads != max(1, len(os.sched_getaffinity(0)) // comm.size):  # all ranks on one node
        failures.append(f"powersgd: {with_feedback.blas_threads} BLAS threads per rank")
    return failures


def different_sizes_failures(comm: Communicator) -> list[str]:
    """Ranks passing tensors of different sizes are refused on every rank, whatever the sparse algorithm. dsar
    returned a sum of another size, silently; the others failed with an IndexError or a broadcast error on some
    ranks. (A dense MPI_Allreduce of different sizes: test_mpi.py.)"""
    failures = []
    x = np.ones(1000 * (comm.rank + 1), np.float32)  # every rank's blocks differ from every other's too
    # Recursive doubling on ranks that are no power of two starts with a fold: the odd rank refuses its even
    # neighbour's stream and ends the job (test_mpi.py), while that neighbour waits for the sum. Caught here, the
    # neighbour would wait for ever.
    power_of_two = comm.size & (comm.size - 1) == 0
    sparse = [a for a in ALGORITHMS if a != "dense" and (a != "ssar_rd" or power_of_two)]
    for spec in ("topk:0.1", "topk:0.9", "qsgd:4", "topk_q4:0.1"):
        for algorithm in sparse if spec.startswith("topk:") else ["allgather"]:
            try:
                allreduce(comm, x, parse_compression(spec, error_feedback=False), algorithm)
                failures.append(f"different sizes {spec} {algorithm}: no error")
            except ValueError as err:
                if "the ranks passed tensors of different sizes to the allreduce" not in str(err):
                    failures.append(f"different sizes {spec} {algorithm}: {err}")
    return failures


def main() -> int:
    comm = Communicator()
    failures = []
    for n in (7, 1000, 100_003):
        for case in ("random", "overlap", "disjoint", "empty", "dense", "fill", "full"):
            rng = np.random.default_rng(1000 * comm.rank + n)
            mine = contribution(case, comm.rank, comm.size, n, rng)
            expected = comm.allreduce_dense(mine.to_dense())
            for algorithm in ALGORITHMS:
                got = comm.allreduce_sparse(mine, algorithm).to_dense()
                if not np.array_equal(got, expected):
                    failures.append(f"{algorithm} {case} n={n}: max error {np.abs(got - expected).max()}")
    # Compressed allreduce: equal to the sum of what each rank sent.
    rng = np.random.default_rng(comm.rank)
    x = rng.normal(size=50_000).astype(np.float32)
    for compressor in (TopK(0.01), TopK(0.01, exact=False), QSGD(4), TopKQuantized(0.01), parse_compression("fp16")):
        local = compressor.compress(x)
        sent = compressor.decompress(local)
        expected = comm.allreduce_dense(sent)
        compressor.rng = np.random.default_rng(compressor.seed)  # the same draws as `local` above
        got = allreduce(comm, x, compressor, "ssar_rd")
        if not np.allclose(got, expected, atol=1e-4):
            failures.append(f"allreduce {compressor.name}: max error {np.abs(got - expected).max()}")
    failures += powersgd_failures(comm)
    failures += different_sizes_failures(comm)
    # Bytes: a 1 % sparse allreduce sends far less than the dense one.
    n = 1_000_000
    stream = Stream.from_pairs(n, np.sort(rng.choice(n, n // 100, replace=False)), np.ones(n // 100, np.float32))
    before = comm.bytes_sent
    comm.allreduce_dense(stream.to_dense())
    dense_bytes = comm.bytes_sent - before
    before = comm.bytes_sent
    comm.allreduce_sparse(stream, "ssar_rd")
    sparse_bytes = comm.bytes_sent - before
    if not 0 < sparse_bytes < 0.2 * dense_bytes:
        failures.append(f"bytes: sparse {sparse_bytes} vs dense {dense_bytes}")
    # A simulated 1 Gb/s link: the same sums, and each call waits at least its α–β time.
    slow = Communicator(link=SimulatedLink(1.0))
    for algorithm in ("dense", "ssar_rd", "ssar_split"):
        before, start = slow.bytes_sent, time.perf_counter()
        got = slow.allreduce_sparse(stream, algorithm).to_dense()
        elapsed, sent = time.perf_counter() - start, slow.bytes_sent - before
        if not np.array_equal(got, comm.allreduce_dense(stream.to_dense())):
            failures.append(f"simulated link {algorithm}: wrong sum")
        if not 0 < sent * 8 / 1e9 <= elapsed:
            failures.append(f"simulated link {algorithm}: {sent} bytes in {elapsed:.4f} s, faster than 1 Gb/s")
    all_failures = comm.comm.allgather(failures)
    if comm.rank == 0:
        flat = [f"rank {r}: {f}" for r, fs in enumerate(all_failures) for f in fs]
        print("\n".join(flat) if flat else f"ok {comm.size} ranks")
    return 1 if any(all_failures) else 0


if __name__ == "__main__":
    sys.exit(main())
