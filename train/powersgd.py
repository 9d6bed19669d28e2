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
residuals is the sum of the gradients plus the earlier residuals (up to float rounding).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np
from scipy.linalg.blas import saxpy
from threadpoolctl import ThreadpoolController

if TYPE_CHECKING:
    import torch

    from train.collectives import Communicator

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


class HostArrays:
    """The array operations PowerSGD needs, on numpy vectors."""

    def prepare(self, x) -> np.ndarray:
        return np.ascontiguousarray(x, dtype=np.float32).reshape(-1)

    def empty(self, size: int) -> np.ndarray:
        return np.empty(size, np.float32)

    def from_numpy(self, array: np.ndarray) -> np.ndarray:
        return np.array(array, np.float32)

    def to_numpy(self, array: np.ndarray) -> np.ndarray:
        return array

    matmul = staticmethod(np.matmul)

    def orthonormal(self, p: np.ndarray) -> np.ndarray:
        return np.linalg.qr(p)[0]

    def subtract_scaled(self, target: np.ndarray, source: np.ndarray, scale: float) -> None:
        """``target -= scale * source`` in one BLAS pass (numpy would write ``scale * source`` first)."""
        kept = saxpy(source, target, a=-scale)  # in place for contiguous float32 vectors, as here
        if not np.shares_memory(kept, target):
            target[...] = kept


class TorchArrays:
    """The same on a torch device: only the factors and the uncompressed vectors go to the host for MPI."""

    def __init__(self, device):
        import torch

        self.torch, self.device = torch, device

    def prepare(self, x):
        return x.detach().to(self.device, self.torch.float32).reshape(-1)

    def empty(self, size: int):
        return self.torch.empty(size, dtype=self.torch.float32, device=self.device)

    def from_numpy(self, array: np.ndarray):
        return self.torch.from_numpy(np.array(array, np.float32)).to(self.device)

    def to_numpy(self, array) -> np.ndarray:
        return array.cpu().numpy()

    def matmul(self, a, b, out):
        return self.torch.matmul(a, b, out=out)

    def orthonormal(self, p):
        return self.torch.linalg.qr(p)[0]

    def subtract_scaled(self, target, source, scale: float) -> None:
        target.sub_(source, alpha=scale)


class PowerSGD:
    """Rank-``rank`` PowerSGD of a flat gradient made of tensors of the given shapes (see the module).

    The gradient is a numpy vector or a torch tensor; a tensor's matrices, factors and residual stay on its
    device, and only the factors (and the vectors sent whole) are copied to the host for MPI.
    """

    name = "powersgd"
    reduction = "lowrank"

    def __init__(self, rank: int = 2, error_feedback: bool = True, random_seed: int = 0):
        if rank < 1:
            raise ValueError(f"PowerSGD's rank is at least 1, not {rank}")
        self.rank, self.error_feedback, self.random_seed = rank, error_feedback, random_seed
        self.arrays: HostArrays | TorchArrays | None = None  # chosen by the first gradient
        self.layout: Layout | None = None
        self.queries: list = []  # per compressed matrix, Qᵀ (rank × m)
        self.error = None  # the residual kept for the next step (error feedback)
        self.total = None  # the sum, reused from call to call
        self.blas_threads: int | None = None  # per rank, set at the first call
        self._blas = ThreadpoolController()

    def _prepare(self, x, shapes: Sequence[Sequence[int]]):
        """``x`` as a flat float32 vector of its kind; the layout, queries, residual and sum buffer checked or made."""
        on_host = isinstance(x, np.ndarray)
        if self.arrays is None:  # the state (at first, or as loaded) moves to where the gradients are
            self.arrays = HostArrays() if on_host else TorchArrays(x.device)
            self.queries = [self.arrays.from_numpy(q) for q in self.queries]
            self.error = None if self.error is None else self.arrays.from_numpy(self.error)
        elif on_host != isinstance(self.arrays, HostArrays):
            raise ValueError("PowerSGD: a gradient of another kind (numpy, torch) than the earlier ones")
        x = self.arrays.prepare(x)
        layout = Layout.of(shapes, self.rank)
        if layout.size != len(x):
            raise ValueError(f"PowerSGD: tensors of shapes {list(shapes)} hold {layout.size} values, "
                             f"the gradient {len(x)}")
        if self.layout is not None and layout != self.layout:
            raise ValueError("PowerSGD: the tensors' shapes changed between steps")
        expected = [(self.rank, m) for _, _, m in layout.matrices]
        if not self.queries:  # the same random start on every rank, on the host and on a device
            rng = np.random.default_rng(self.random_seed)
            self.queries = [self.arrays.from_numpy(rng.standard_normal(shape)) for shape in expected]
        elif [tuple(q.shape) for q in self.queries] != expected:
            raise ValueError(f"PowerSGD: saved queries of shapes {[tuple(q.shape) for q in self.queries]} do not "
                             f"fit these tensors (rank {self.rank}: {expected})")
        if self.error_feedback and self.error is None:
            self.error = self.arrays.from_numpy(np.zeros(len(x), np.float32))
        elif self.error_feedback and len(self.error) != len(x):
            raise ValueError(f"PowerSGD: a gradient of {len(x)} values after {len(self.error)}")
        if self.total is None or len(self.total) != len(x):
            self.total = self.arrays.empty(len(x))
        self.layout = layout
        return x, layout

    def allreduce(self, comm: Communicator, x: np.ndarray | torch.Tensor,
                  shapes: Sequence[Sequence[int]]) -> np.ndarray | torch.Tensor:
        """The sum over ``comm``'s ranks of each rank's low-rank approximated ``x`` (float32, ``x``'s size and
        kind: a numpy vector, or a torch tensor on ``x``'s device).

        The sum is written into a vector kept from call to call (a fresh 100 MB vector costs more than the
        low-rank product written into it): the next call overwrites the returned array, so copy it to keep it.
        The matrix products use the node's cores shared out among its ranks: BLAS's default of one thread per
        core each made a step 4× slower with 4 ranks on 2 cores (docs/distributed.md).
        """
        if self.blas_threads is None:
            self.blas_threads = max(1, len(os.sched_getaffinity(0)) // comm.ranks_on_this_node())
        with self._blas.limit(limits=self.blas_threads, user_api="blas"):
            return self._allreduce(comm, x, shapes)

    def _summed(self, comm, vector):
        """``vector`` summed over the ranks (through the host), back where it was."""
        return self.arrays.from_numpy(comm.allreduce_dense(self.arrays.to_numpy(vector)))

    def _allreduce(self, comm, x, shapes: Sequence[Sequence[int]]):
        x, layout = self._prepare(x, shapes)
        arrays, r = self.arrays, self.rank
        if self.error_feedback:
            self.error += x
            gradient = self.error  # M = x + residual, overwritten by the new residual below
        else:
            gradient = x
        matrices = [gradient[o:o + n * m].reshape(n, m) for o, n, m in layout.matrices]
        p_ends = np.cumsum([0] + [n * r for _, n, _ in layout.matrices]).tolist()
        first = arrays.empty(p_ends[-1] + layout.uncompressed_length)
        for j, (matrix, query) in enumerate(zip(matrices, self.queries)):
            arrays.matmul(matrix, query.T, out=first[p_ends[j]:p_ends[j + 1]].reshape(-1, r))  # P = M Q
        position = p_ends[-1]
        for offset, length in layout.uncompressed:
            first[position:position + length] = gradient[offset:offset + length]
            position += length
        first = self._summed(comm, first)
        bases = [arrays.orthonormal(first[p_ends[j]:p_ends[j + 1]].reshape(-1, r)) for j in range(len(matrices))]
        q_ends = np.cumsum([0] + [m * r for _, _, m in layout.matrices]).tolist()
        second = arrays.empty(q_ends[-1])
        for j, (matrix, basis) in enumerate(zip(matrices, bases)):  # Qᵀ = P̂ᵀ M: row-major, faster than Mᵀ P̂
            arrays.matmul(basis.T, matrix, out=second[q_ends[j]:q_ends[j + 1]].reshape(r, -1))
        second = self._summed(comm, second)
        total = self.total
        for j, ((offset, n, m), basis) in enumerate(zip(layout.matrices, bases)):
            self.queries[j] = second[q_ends[j]:q_ends[j + 1]].reshape(r, m)
            arrays.matmul(basis, self.queries[j], out=total[offset:offset + n * m].reshape(n, m))
            if self.error_feedback:  # keep M - this rank's share of the sum
                arrays.subtract_scaled(self.error[offset:offset + n * m], total[offset:offset + n * m],
                                       1.0 / comm.size)
        position = p_ends[-1]
        for offset, length in layout.uncompressed:  # sent whole: nothing kept
            total[offset:offset + length] = first[position:position + length]
            if self.error_feedback:
                self.error[offset:offset + length] = 0
            position += length
        return total

    def state_dict(self) -> dict:
        """The queries and the residual, as numpy arrays (for checkpoints)."""
        to_numpy = self.arrays.to_numpy if self.arrays is not None else np.asarray
        state = {"queries": {str(j): np.array(to_numpy(q)) for j, q in enumerate(self.queries)}}
        if self.error is not None:
            state["error"] = np.array(to_numpy(self.error))
        return state

    def load_state_dict(self, state: dict) -> None:
        queries = state.get("queries", {})
        self.queries = [np.array(queries[str(j)], np.float32) for j in range(len(queries))]
        self.error = np.array(state["error"], np.float32) if "error" in state else None
        self.arrays, self.layout, self.total = None, None, None
