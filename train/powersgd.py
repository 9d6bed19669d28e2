"""PowerSGD: low-rank gradient compression that sums in plain allreduces (Vogels, Karimireddy, Jaggi, NeurIPS 2019).

Each gradient tensor with two or more dimensions is viewed as an n × m matrix M (its first dimension × the
rest). With a query Q (m × r) kept from the previous step (random at first, the same on every rank):

    P = M Q        allreduce (sum), n × r
    P̂ = P with orthonormal columns (QR)
    Q = Mᵀ P̂       allreduce (sum), m × r; kept as the next step's query (warm start)
    sum over ranks ≈ P̂ Qᵀ

Both allreduces are dense and small, (n + m)·r floats per matrix instead of n·m, so the sum needs no sparse
algorithm (``reduction = "lowrank"``). Vectors (biases, BatchNorm) and matrices that rank r would not shrink
at least :data:`MIN_COMPRESSION` times travel uncompressed in the first allreduce, as in PyTorch's
``powerSGD_hook``. With error feedback (the paper's default) each rank keeps what the low-rank sum left of
its matrices, M − P̂ Qᵀ / ranks, and adds it to the next gradient; over all ranks, the sum returned plus the
residuals is exactly the sum of the gradients plus the earlier residuals.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.linalg.blas import saxpy
from threadpoolctl import ThreadpoolController

#: A matrix is compressed only if rank r makes it at least this many times smaller (PyTorch's default).
MIN_COMPRESSION = 2


@dataclass(frozen=True)
class Layout:
    """Where each compressed matrix and each uncompressed piece lies in the flat gradient."""

    size: int
    matrices: tuple[tuple[int, int, int], ...]  # (offset, n, m)
    uncompressed: tuple[tuple[int, int], ...]  # (offset, length)

    @classmethod
    def of(cls, shapes: Sequence[Sequence[int]], rank: int) -> "Layout":
        matrices, uncompressed, offset = [], [], 0
        for shape in shapes:
            length = math.prod(shape)
            n = shape[0] if len(shape) >= 2 else 0
            m = length // n if n else 0
            if n and (n + m) * rank * MIN_COMPRESSION <= n * m:
                matrices.append((offset, n, m))
            elif length:
                uncompressed.append((offset, length))
            offset += length
        return cls(offset, tuple(matrices), tuple(uncompressed))

    @property
    def uncompressed_length(self) -> int:
        return sum(length for _, length in self.uncompressed)


class PowerSGD:
    """Rank-``rank`` PowerSGD of a flat gradient made of tensors of the given shapes (see the module)."""

    name = "powersgd"
    reduction = "lowrank"

    def __init__(self, rank: int = 2, error_feedback: bool = True, random_seed: int = 0):
        if rank < 1:
            raise ValueError(f"PowerSGD's rank is at least 1, not {rank}")
        self.rank, self.error_feedback, self.random_seed = rank, error_feedback, random_seed
        self.layout: Layout | None = None
        self.queries: list[np.ndarray] = []  # per compressed matrix, Qᵀ (rank × m)
        self.error: np.ndarray | None = None
        self.total: np.ndarray | None = None  # the sum, reused from call to call
        self.blas_threads: int | None = None  # per rank, set at the first call
        self._blas = ThreadpoolController()

    def _prepare(self, size: int, shapes: Sequence[Sequence[int]]) -> Layout:
        layout = Layout.of(shapes, self.rank)
        if layout.size != size:
            raise ValueError(f"PowerSGD: tensors of shapes {list(shapes)} hold {layout.size} values, "
                             f"the gradient {size}")
        if self.layout is not None and layout != self.layout:
            raise ValueError("PowerSGD: the tensors' shapes changed between steps")
        expected = [(self.rank, m) for _, _, m in layout.matrices]
        if not self.queries:  # the same random start on every rank
            rng = np.random.default_rng(self.random_seed)
            self.queries = [rng.standard_normal(shape).astype(np.float32) for shape in expected]
        elif [q.shape for q in self.queries] != expected:
            raise ValueError(f"PowerSGD: saved queries of shapes {[q.shape for q in self.queries]} do not fit "
                             f"these tensors (rank {self.rank}: {expected})")
        if self.total is None or self.total.size != size:
            self.total = np.empty(size, np.float32)
        self.layout = layout
        return layout

    def allreduce(self, comm, x: np.ndarray, shapes: Sequence[Sequence[int]]) -> np.ndarray:
        """The sum over ``comm``'s ranks of each rank's low-rank approximated ``x`` (float32, ``x``'s size).

        The sum is written into a vector kept from call to call (a fresh 100 MB vector costs more than the
        low-rank product written into it): the next call overwrites the returned array, so copy it to keep it.
        The matrix products use the node's cores shared out among its ranks: BLAS's default of one thread per
        core each made a step 4× slower with 4 ranks on 2 cores (docs/distributed.md).
        """
        if self.blas_threads is None:
            self.blas_threads = max(1, len(os.sched_getaffinity(0)) // comm.ranks_on_this_node())
        with self._blas.limit(limits=self.blas_threads, user_api="blas"):
            return self._allreduce(comm, x, shapes)

    def _allreduce(self, comm, x: np.ndarray, shapes: Sequence[Sequence[int]]) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
        layout = self._prepare(x.size, shapes)
        if self.error_feedback:
            if self.error is None:
                self.error = np.zeros(x.size, np.float32)
            elif self.error.shape != x.shape:
                raise ValueError(f"PowerSGD: a gradient of {x.size} values after {self.error.size}")
            np.add(self.error, x, out=self.error)
            gradient = self.error  # M = x + residual, overwritten by the new residual below
        else:
            gradient = x
        r = self.rank
        matrices = [gradient[o:o + n * m].reshape(n, m) for o, n, m in layout.matrices]
        p_ends = np.cumsum([0] + [n * r for _, n, _ in layout.matrices])
        first = np.empty(p_ends[-1] + layout.uncompressed_length, np.float32)
        for j, (matrix, query) in enumerate(zip(matrices, self.queries)):
            np.matmul(matrix, query.T, out=first[p_ends[j]:p_ends[j + 1]].reshape(-1, r))  # P = M Q
        position = p_ends[-1]
        for offset, length in layout.uncompressed:
            first[position:position + length] = gradient[offset:offset + length]
            position += length
        first = comm.allreduce_dense(first)
        bases = [np.linalg.qr(first[p_ends[j]:p_ends[j + 1]].reshape(-1, r))[0] for j in range(len(matrices))]
        q_ends = np.cumsum([0] + [m * r for _, _, m in layout.matrices])
        second = np.empty(q_ends[-1], np.float32)
        for j, (matrix, basis) in enumerate(zip(matrices, bases)):  # Qᵀ = P̂ᵀ M: row-major, faster than Mᵀ P̂
            np.matmul(basis.T, matrix, out=second[q_ends[j]:q_ends[j + 1]].reshape(r, -1))
        second = comm.allreduce_dense(second)
        total = self.total
        for j, ((offset, n, m), basis) in enumerate(zip(layout.matrices, bases)):
            self.queries[j] = second[q_ends[j]:q_ends[j + 1]].reshape(r, m)
            np.matmul(basis, self.queries[j], out=total[offset:offset + n * m].reshape(n, m))
            if self.error_feedback:  # keep M - this rank's share of the sum, in place
                kept = saxpy(total[offset:offset + n * m], self.error[offset:offset + n * m], a=-1.0 / comm.size)
                assert np.shares_memory(kept, self.error)
        position = p_ends[-1]
        for offset, length in layout.uncompressed:  # sent whole: nothing kept
            total[offset:offset + length] = first[position:position + length]
            if self.error_feedback:
                self.error[offset:offset + length] = 0
            position += length
        return total

    def state_dict(self) -> dict:
        """The queries and the residual, as arrays (for checkpoints)."""
        state = {"queries": {str(j): q.copy() for j, q in enumerate(self.queries)}}
        if self.error is not None:
            state["error"] = self.error.copy()
        return state

    def load_state_dict(self, state: dict) -> None:
        queries = state.get("queries", {})
        self.queries = [np.array(queries[str(j)], np.float32) for j in range(len(queries))]
        self.error = np.array(state["error"], np.float32) if "error" in state else None
        self.layout = None
