"""One call for a compressed allreduce of a flat gradient: compress, exchange, decompress, sum."""
from __future__ import annotations

import numpy as np

from train.collectives import Communicator, Stream
from train.compression import Compressor, ErrorFeedback, Payload


def serialize(payload: Payload) -> np.ndarray:
    """Payload -> bytes: [4 lengths + count (int64)] [values] [indices] [scales]."""
    arrays = [payload.values, payload.indices, payload.scales]
    header = np.array([a.nbytes if a is not None else -1 for a in arrays] + [payload.meta.get("count", -1)],
                      dtype=np.int64)
    dtypes = np.array([_DTYPES.index(a.dtype.str) if a is not None else -1 for a in arrays], dtype=np.int64)
    return np.concatenate([header.view(np.uint8), dtypes.view(np.uint8)]
                          + [a.view(np.uint8).reshape(-1) for a in arrays if a is not None])


_DTYPES = [np.dtype(t).str for t in (np.float32, np.float16, np.uint8, np.int32, np.uint16)]


def deserialize(buffer: np.ndarray, size: int) -> Payload:
    """Inverse of :func:`serialize`."""
    header = buffer[:32].view(np.int64)
    dtypes = buffer[32:56].view(np.int64)
    offset, arrays = 56, []
    for nbytes, dtype in zip(header[:3], dtypes):
        if nbytes < 0:
            arrays.append(None)
            continue
        arrays.append(buffer[offset:offset + nbytes].view(np.dtype(_DTYPES[dtype])).copy())
        offset += int(nbytes)
    meta = {"count": int(header[3])} if header[3] >= 0 else {}
    return Payload(size, arrays[0], arrays[1], arrays[2], meta)


def allreduce(comm: Communicator, x: np.ndarray, compressor: Compressor | ErrorFeedback | None = None,
              algorithm: str = "ssar_rd", key: str = "") -> np.ndarray:
    """The sum over ranks of each rank's (compressed) ``x``, dense float32.

    ``key`` names the tensor for error feedback. Sparse payloads go through ``algorithm`` (see
    :data:`train.collectives.ALGORITHMS`); summable ones through ``MPI_Allreduce``; the others are
    gathered and decoded rank by rank.
    """
    x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    if compressor is None or compressor.reduction == "dense" and not isinstance(compressor, ErrorFeedback):
        return comm.allreduce_dense(x)
    payload = compressor.compress(x, key) if isinstance(compressor, ErrorFeedback) else compressor.compress(x)
    return allreduce_payload(comm, payload, compressor, algorithm)


def allreduce_payload(comm: Communicator, payload: Payload, compressor: Compressor | ErrorFeedback,
                      algorithm: str = "ssar_rd") -> np.ndarray:
    """The sum over ranks of each rank's ``payload`` (made by ``compressor`` or its device twin), dense float32."""
    if compressor.reduction == "dense":
        return comm.allreduce_dense(compressor.decompress(payload))
    if compressor.reduction == "sparse":
        stream = Stream.from_pairs(payload.size, payload.indices, payload.values)
        return comm.allreduce_sparse(stream, algorithm).to_dense()
    total = np.zeros(payload.size, np.float32)
    for buffer in comm.allgather_bytes(serialize(payload)):
        total += compressor.decompress(deserialize(buffer, payload.size))
    return total
