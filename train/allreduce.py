"""One call for a compressed allreduce of a flat gradient: compress, exchange, decompress, sum."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from train.collectives import Communicator, Stream, different_sizes
from train.compression import Compressor, ErrorFeedback, Payload
from train.powersgd import PowerSGD


def serialize(payload: Payload) -> np.ndarray:
    """Payload -> bytes: [3 lengths, count, size (int64)] [3 dtypes (int64)] [values] [indices] [scales]."""
    arrays = [payload.values, payload.indices, payload.scales]
    header = np.array([a.nbytes if a is not None else -1 for a in arrays] + [payload.meta.get("count", -1),
                                                                               payload.size], dtype=np.int64)
    dtypes = np.array([_DTYPES.index(a.dtype.str) if a is not None else -1 for a in arrays], dtype=np.int64)
    return np.concatenate([header.view(np.uint8), dtypes.view(np.uint8)]
                          + [a.view(np.uint8).reshape(-1) for a in arrays if a is not None])


_DTYPES = [np.dtype(t).str for t in (np.float32, np.float16, np.uint8, np.int32, np.uint16)]


def deserialize(buffer: np.ndarray, size: int) -> Payload:
    """Inverse of :func:`serialize`, for a tensor of ``size`` entries."""
    header = buffer[:40].view(np.int64)
    if header[4] != size:
        raise different_sizes(f"this rank's has {size} entries, another's {header[4]}")
    dtypes = buffer[40:64].view(np.int64)
    offset, arrays = 64, []
    for nbytes, dtype in zip(header[:3], dtypes):
        if nbytes < 0:
            arrays.append(None)
            continue
        arrays.append(buffer[offset:offset + nbytes].view(np.dtype(_DTYPES[dtype])).copy())
        offset += int(nbytes)
    meta = {"count": int(header[3])} if header[3] >= 0 else {}
    return Payload(size, arrays[0], arrays[1], arrays[2], meta)


class DenseOutput:
    """A dense float32 vector reused for the sums of sparse allreduces, one call after another.

    Writing a sparse sum clears only the entries the previous sum set, so a step costs O(pairs), not a
    fresh vector of the full size (at 25 M floats and 0.1 % density on shared cores, 36 -> 8 ms,
    docs/distributed.md). Where the previous sum set more than 1/:attr:`FILL_ABOVE` of the entries, one
    sequential fill is faster than clearing them one by one. The next write overwrites the returned array:
    copy it to keep it.
    """

    FILL_ABOVE = 32

    def __init__(self):
        self.buffer: np.ndarray | None = None
        self.support = np.zeros(0, np.int32)  # the indices the last write set

    def write(self, total: Stream) -> np.ndarray:
        """``total`` as a dense vector; a dense ``total`` is returned as it is and leaves the buffer alone."""
        if total.dense:
            return total.values
        if self.buffer is None or self.buffer.size != total.size:
            self.buffer, self.support = np.zeros(total.size, np.float32), total.indices[:0]
        if len(self.support) * self.FILL_ABOVE > total.size:
            self.buffer.fill(0)
        else:
            self.buffer[self.support] = 0
        self.buffer[total.indices] = total.values
        self.support = total.indices
        return self.buffer


def allreduce(comm: Communicator, x: np.ndarray, compressor: Compressor | ErrorFeedback | PowerSGD | None = None,
              algorithm: str = "ssar_rd", key: str = "", out: DenseOutput | None = None,
              shapes: Sequence[Sequence[int]] | None = None) -> np.ndarray:
    """The sum over ranks of each rank's (compressed) ``x``, dense float32.

    ``key`` names the tensor for error feedback. Sparse payloads go through ``algorithm`` (see
    :data:`train.collectives.ALGORITHMS`); summable ones through ``MPI_Allreduce``; the others are
    gathered and decoded rank by rank. With ``out``, a sparse sum is written into its reused buffer.
    PowerSGD needs ``shapes``, those of the tensors ``x`` is made of (one matrix: ``[(n, m)]``).
    """
    x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    if isinstance(compressor, PowerSGD):
        if shapes is None:
            raise ValueError("PowerSGD compresses matrices: pass the shapes of the tensors in x")
        return compressor.allreduce(comm, x, shapes)
    if compressor is None or compressor.reduction == "dense" and not isinstance(compressor, ErrorFeedback):
        return comm.allreduce_dense(x)
    payload = compressor.compress(x, key) if isinstance(compressor, ErrorFeedback) else compressor.compress(x)
    return allreduce_payload(comm, payload, compressor, algorithm, out)


def allreduce_payload(comm: Communicator, payload: Payload, compressor: Compressor | ErrorFeedback,
                      algorithm: str = "ssar_rd", out: DenseOutput | None = None) -> np.ndarray:
    """The sum over ranks of each rank's ``payload`` (made by ``compressor`` or its device twin), dense float32."""
    if compressor.reduction == "dense":
        return comm.allreduce_dense(compressor.decompress(payload))
    if compressor.reduction == "sparse":
        stream = Stream.from_pairs(payload.size, payload.indices, payload.values)
        total = comm.allreduce_sparse(stream, algorithm)
        return out.write(total) if out is not None else total.to_dense()
    total = np.zeros(payload.size, np.float32)
    for buffer in comm.allgather_bytes(serialize(payload)):
        total += compressor.decompress(deserialize(buffer, payload.size))
    return total
