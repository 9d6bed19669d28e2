"""Microbenchmark: compressed sparse allreduce vs dense MPI_Allreduce, end to end, with the α–β model.

Run under MPI, e.g.::

    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \\
      .venv/bin/mpiexec -n 4 --oversubscribe .venv/bin/python scripts/bench_allreduce.py --json

For every size, density, compression and algorithm, rank 0 prints the median over ``--repeats`` of
the end-to-end time (selection + communication + decompression into a dense float32 vector, reused from
call to call: :class:`train.allreduce.DenseOutput`) beside the dense allreduce of the same vector measured in
the same run (into a reused vector too), and the bytes this rank sent. α
(latency) and β (seconds per byte) are fitted from small and large dense allreduces of this run.
``--error-feedback`` wraps the sparsifiers as training does (residual added before, kept after selection).
``--phases`` adds, for sparse compressors on the host, the three steps timed apart (a barrier between
them): ``compress_seconds``, ``communicate_seconds``, ``decompress_seconds``.

``--device cuda`` (or ``cpu``) keeps the gradient in a torch tensor there: compression runs on the device
(:class:`train.device_compression.TorchCompressor`) and only the payload goes to the host; the dense baseline
copies the whole tensor to the host and back (MPI without device support). Both include the copies.

``powersgd:allreduce`` (PowerSGD, rank ``--powersgd-rank``) views the vector as one matrix as close to square as
the size allows (25 M floats: 5,000 × 5,000) and sums its factors in two dense allreduces; with ``--device`` the
matrix stays on the device and only the factors go to the host.
"""
from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

from train.allreduce import DenseOutput, allreduce, allreduce_payload
from train.collectives import Communicator, Stream
from train.compression import parse_compression

SPARSIFIERS = ("topk", "topk_fast", "randomk", "topk_q4")  # the compressions that take a density


def matrix_shape(n: int) -> tuple[int, int]:
    """The shape n × m closest to square with n · m = ``size`` (PowerSGD's view of a flat vector)."""
    rows = max(d for d in range(1, math.isqrt(n) + 1) if n % d == 0)
    return rows, n // rows


def timed(comm: Communicator, function, repeats: int) -> tuple[float, int]:
    """Median seconds (the slowest rank each time) and bytes this rank sent per call."""
    samples, sent = [], 0
    for _ in range(repeats):
        before = comm.bytes_sent
        samples.append(_timed_once(comm, function)[1])
        sent = comm.bytes_sent - before
    return float(np.median(samples)), sent


def phase_seconds(comm: Communicator, gradient: np.ndarray, compressor, algorithm: str, repeats: int) -> dict:
    """Median seconds (slowest rank) of each step of a sparse allreduce on the host, with a barrier between steps."""
    samples = {"compress_seconds": [], "communicate_seconds": [], "decompress_seconds": []}
    output = DenseOutput()
    for _ in range(repeats):
        payload, seconds = _timed_once(comm, lambda: compressor.compress(gradient))
        samples["compress_seconds"].append(seconds)
        stream = Stream.from_pairs(payload.size, payload.indices, payload.values)
        total, seconds = _timed_once(comm, lambda: comm.allreduce_sparse(stream, algorithm))
        samples["communicate_seconds"].append(seconds)
        samples["decompress_seconds"].append(_timed_once(comm, lambda: output.write(total))[1])
    return {name: round(float(np.median(values)), 5) for name, values in samples.items()}


def _timed_once(comm: Communicator, function):
    comm.comm.Barrier()
    start = time.perf_counter()
    result = function()
    return result, comm.comm.allreduce(time.perf_counter() - start, op=comm.MPI.MAX)


def _phases_text(row: dict) -> str:
    if "compress_seconds" not in row:
        return ""
    return (f"; apart: compress {row['compress_seconds'] * 1e3:.1f}, "
            f"communicate {row['communicate_seconds'] * 1e3:.1f}, decompress {row['decompress_seconds'] * 1e3:.1f} ms")


def fit_alpha_beta(comm: Communicator, repeats: int) -> tuple[float, float]:
    small, _ = timed(comm, lambda: comm.allreduce_dense(np.ones(2, np.float32)), repeats * 4)
    big = np.ones(4_000_000, np.float32)
    large, _ = timed(comm, lambda: comm.allreduce_dense(big), repeats)
    p = comm.size
    alpha = small / max(1, 2 * math.log2(p))
    beta = max(large - 2 * math.log2(p) * alpha, 1e-9) / (2 * (p - 1) / p * big.nbytes)
    return alpha, beta


def predict(algorithm: str, p: int, n: int, k: int, alpha: float, beta: float, payload_bytes: int) -> float:
    """α–β communication time (docs/distributed.md): k pairs of 8 bytes per rank, supports disjoint."""
    log_p = math.log2(p)
    c = 8
    if algorithm == "dense":
        return 2 * log_p * alpha + 2 * (p - 1) / p * n * 4 * beta
    if algorithm in ("allgather", "gather"):
        return log_p * alpha + (p - 1) * payload_bytes * beta
    if algorithm == "ssar_rd":
        return log_p * alpha + (p - 1) * k * c * beta
    if algorithm == "ssar_split":
        return (p - 1 + log_p) * alpha + (p - 1) / p * k * c * beta + (p - 1) * k * c * beta
    if algorithm == "dsar":
        return (p - 1 + log_p) * alpha + (p - 1) / p * k * c * beta + (p - 1) / p * n * 4 * beta
    if algorithm == "allreduce":  # PowerSGD: two dense allreduces, together ``payload_bytes``
        return 4 * log_p * alpha + 2 * (p - 1) / p * payload_bytes * beta
    raise ValueError(algorithm)


class DeviceGradient:
    """A gradient in a torch tensor on ``device``; allreduces that end with the sum back on the device."""

    def __init__(self, gradient: np.ndarray, device: str):
        import torch

        self.torch, self.device = torch, torch.device(device)
        self.tensor = torch.from_numpy(gradient).to(self.device)

    def _back(self, total: np.ndarray):
        return self._synchronized(self.torch.from_numpy(total).to(self.device))

    def _synchronized(self, result):
        if self.device.type == "cuda":
            self.torch.cuda.synchronize()
        return result

    def dense_allreduce(self, comm: Communicator):
        return lambda: self._back(comm.allreduce_dense(self.tensor.cpu().numpy()))

    def compressed_allreduce(self, comm: Communicator, compressor, algorithm: str, shapes: list):
        from train.device_compression import TorchCompressor

        if compressor.reduction == "lowrank":  # PowerSGD: the matrices stay on the device, the factors travel
            return lambda: self._synchronized(compressor.allreduce(comm, self.tensor, shapes))
        on_device = TorchCompressor(compressor, self.device, seed=comm.rank)
        return lambda: self._back(allreduce_payload(comm, on_device.compress(self.tensor), compressor, algorithm))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000000,25000000", help="floats, comma-separated")
    parser.add_argument("--densities", default="0.001,0.01,0.1")
    parser.add_argument("--configs", default="topk_fast:ssar_rd,topk_fast:allgather,topk_fast:ssar_split,"
                                             "topk_fast:dsar,topk:ssar_rd,topk_q4:gather,qsgd:gather",
                        help="compression:algorithm pairs (compression without its density; PowerSGD: "
                             "powersgd:allreduce)")
    parser.add_argument("--powersgd-rank", type=int, default=2, help="PowerSGD's rank (default 2)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="one JSON object per configuration")
    parser.add_argument("--device", help="torch device for the gradients (cuda, cpu); default: numpy on the host")
    parser.add_argument("--phases", action="store_true",
                        help="also time selection, communication and decompression apart (sparse, on the host)")
    parser.add_argument("--error-feedback", action="store_true",
                        help="sparsifiers keep what they do not send, as in training (default: off)")
    args = parser.parse_args()
    comm = Communicator()
    alpha, beta = fit_alpha_beta(comm, args.repeats)
    if comm.rank == 0 and not args.json:
        print(f"ranks {comm.size}; fitted alpha {alpha * 1e6:.1f} us, 1/beta {1 / beta / 1e9:.2f} GB/s")
    rng = np.random.default_rng(comm.rank)
    for n in (int(s) for s in args.sizes.split(",")):
        gradient = rng.normal(size=n).astype(np.float32)
        shapes = [matrix_shape(n)]  # PowerSGD's view of the vector
        on_device = DeviceGradient(gradient, args.device) if args.device else None
        reused = np.empty_like(gradient)  # both sides write into a vector they reuse
        dense = on_device.dense_allreduce(comm) if on_device else lambda: comm.allreduce_dense(gradient, reused)
        dense_seconds, dense_bytes = timed(comm, dense, args.repeats)
        for density in (float(d) for d in args.densities.split(",")):
            for config in args.configs.split(","):
                name, algorithm = config.split(":")
                sparsifies = name in SPARSIFIERS
                if not sparsifies and density != float(args.densities.split(",")[0]):
                    continue  # QSGD, TernGrad, fp16 and none send everything: measured once
                spec = f"{name}:{density}" if sparsifies else f"{name}:{args.powersgd_rank}" if name == "powersgd" \
                    else name
                compressor = parse_compression(spec, error_feedback=args.error_feedback, seed=comm.rank)
                if on_device:
                    compressed = on_device.compressed_allreduce(comm, compressor, algorithm, shapes)
                else:
                    output = DenseOutput()
                    compressed = lambda: allreduce(comm, gradient, compressor, algorithm, out=output,  # noqa: E731
                                                   shapes=shapes)
                seconds, sent = timed(comm, compressed, args.repeats)
                payload = sum(shapes[0]) * compressor.rank * 4 if name == "powersgd" else \
                    compressor.compress(gradient).nbytes
                k = int(round(density * n))
                row = {"algorithm": algorithm, "compression": compressor.name, "ranks": comm.size, "size": n,
                       "device": args.device or "host",
                       "density": density if sparsifies else 1.0, "seconds": round(seconds, 5),
                       "dense_seconds": round(dense_seconds, 5), "ratio": round(seconds / dense_seconds, 4),
                       "bytes": sent, "dense_bytes": dense_bytes, "bytes_ratio": round(sent / dense_bytes, 5),
                       "model_seconds": round(predict(algorithm, comm.size, n, k, alpha, beta, payload), 5),
                       "model_dense_seconds": round(predict("dense", comm.size, n, k, alpha, beta, payload), 5)}
                if name == "powersgd":
                    row.update(rank=compressor.rank, matrix=list(shapes[0]))
                if args.phases and not on_device and compressor.reduction == "sparse":
                    row.update(phase_seconds(comm, gradient, compressor, algorithm, args.repeats))
                if comm.rank == 0:
                    if args.json:
                        print(json.dumps(row), flush=True)
                    else:
                        print(f"n={n:>9,} d={row['density']:<6g} {compressor.name:>16} {algorithm:>10}: "
                              f"{seconds * 1e3:8.1f} ms vs dense {dense_seconds * 1e3:7.1f} ms "
                              f"(x{row['ratio']:.3f}; model {row['model_seconds'] * 1e3:.1f} / "
                              f"{row['model_dense_seconds'] * 1e3:.1f} ms), bytes {row['bytes_ratio']:.4f} "
                              f"of dense" + _phases_text(row), flush=True)


if __name__ == "__main__":
    main()
