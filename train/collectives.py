"""Allreduce of dense and sparse vectors over MPI (mpi4py): the dense baseline and SparCML's algorithms.

A sparse contribution is a :class:`Stream` (sorted unique int32 indices + float32 values); a stream
is dense when it holds all ``size`` values. Summing two streams gives a dense result as soon as the
pairs would take at least the dense bytes, ``(n1 + n2)·(4 + 4) ≥ size·4`` (SparCML's switch rule).

Algorithms (Renggli et al., SparCML, SC'19):

- ``dense``: ``MPI_Allreduce`` of the dense vector (the baseline);
- ``allgather``: every rank's pairs to every rank, summed locally;
- ``ssar_rd``: SSAR recursive doubling — log2(P) pairwise exchanges of the growing sum; a
  non-power-of-two P folds the extra ranks in first and sends them the result at the end;
- ``ssar_split``: SSAR split-allgather — each rank owns 1/P of the index range, receives the pieces
  of it from all ranks (``Alltoallv``), sums them and the owned sums are allgathered;
- ``dsar``: as ``ssar_split`` but owners sum into dense blocks that are allgathered densely.

Every call adds the bytes this rank sent to :attr:`Communicator.bytes_sent`. With a
:class:`SimulatedLink` every message also waits for its α–β time on a slower link before it leaves
(to measure time to accuracy on a cluster network from one machine).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

INDEX_BYTES, VALUE_BYTES = 4, 4
ALGORITHMS = ("dense", "allgather", "ssar_rd", "ssar_split", "dsar")


@dataclass
class Stream:
    """A sparse (``indices`` set) or dense (``indices is None``) vector of length ``size``."""

    size: int
    values: np.ndarray
    indices: np.ndarray | None = None

    @property
    def dense(self) -> bool:
        return self.indices is None

    @property
    def nbytes(self) -> int:
        return self.values.nbytes + (0 if self.indices is None else self.indices.nbytes)

    @classmethod
    def from_pairs(cls, size: int, indices: np.ndarray, values: np.ndarray) -> "Stream":
        return cls(size, np.asarray(values, np.float32), np.asarray(indices, np.int32))

    def to_dense(self) -> np.ndarray:
        if self.dense:
            return self.values
        out = np.zeros(self.size, dtype=np.float32)
        out[self.indices] = self.values
        return out

    def pack(self) -> np.ndarray:
        """The wire format: bytes of [count, size (int64)] [indices] [values]; count == size means dense.
        The size lets the receiver refuse a stream of a tensor of another size."""
        if not self.dense and len(self.values) == self.size:  # a full sparse stream travels dense
            return Stream(self.size, self.to_dense()).pack()
        header = np.array([self.size if self.dense else len(self.values), self.size], dtype=np.int64)
        parts = [header.view(np.uint8)]
        if not self.dense:
            parts.append(self.indices.view(np.uint8))
        parts.append(self.values.view(np.uint8))
        return np.concatenate(parts)

    @classmethod
    def unpack(cls, buffer: np.ndarray, size: int) -> "Stream":
        count, theirs = (int(n) for n in buffer[:16].view(np.int64))
        if theirs != size:
            raise different_sizes(f"a vector of {theirs} entries came where this rank has {size}")
        if count == size:
            return cls(size, buffer[16:16 + 4 * size].view(np.float32).copy())
        indices = buffer[16:16 + 4 * count].view(np.int32)
        values = buffer[16 + 4 * count:16 + 8 * count].view(np.float32)
        return cls(size, values.copy(), indices.copy())


def different_sizes(detail: str) -> ValueError:
    """The error of an allreduce whose ranks passed tensors of different sizes (each rank must pass the same)."""
    return ValueError(f"the ranks passed tensors of different sizes to the allreduce ({detail}); every rank must "
                      f"pass a tensor of the same size")


def goes_dense(size: int, n1: int, n2: int) -> bool:
    """SparCML's switch: the merged pairs could take at least the dense bytes."""
    return (n1 + n2) * (INDEX_BYTES + VALUE_BYTES) >= size * VALUE_BYTES


def add_streams(a: Stream, b: Stream) -> Stream:
    """The sum of two streams (sparse while the switch rule allows)."""
    if a.dense and b.dense:
        return Stream(a.size, a.values + b.values)
    if a.dense or b.dense:
        dense, sparse = (a, b) if a.dense else (b, a)
        out = dense.values.copy()
        out[sparse.indices] += sparse.values
        return Stream(a.size, out)
    if goes_dense(a.size, len(a.values), len(b.values)):
        out = a.to_dense().copy()
        out[b.indices] += b.values
        return Stream(a.size, out)
    return sum_pairs(a.size, [a.indices, b.indices], [a.values, b.values])


def sum_pairs(size: int, indices: list[np.ndarray], values: list[np.ndarray]) -> Stream:
    """Sum many (index, value) lists into one sorted stream (dense if that is smaller)."""
    all_indices = np.concatenate(indices) if indices else np.zeros(0, np.int32)
    all_values = np.concatenate(values) if values else np.zeros(0, np.float32)
    if len(all_indices) * (INDEX_BYTES + VALUE_BYTES) >= size * VALUE_BYTES:
        out = np.bincount(all_indices, weights=all_values, minlength=size).astype(np.float32)
        return Stream(size, out)
    if len(all_indices) == 0:
        return Stream(size, all_values.astype(np.float32), all_indices.astype(np.int32))
    # Every list is sorted, so a stable sort only merges runs (timsort): faster than np.unique. Sums run in
    # float64 in list order, like the dense branch's bincount (and the np.unique merge this replaced).
    order = np.argsort(all_indices, kind="stable")
    all_indices, all_values = all_indices[order], all_values[order]
    starts = np.flatnonzero(np.concatenate(([True], all_indices[1:] != all_indices[:-1])))
    summed = np.add.reduceat(all_values, starts, dtype=np.float64).astype(np.float32)
    return Stream(size, summed, all_indices[starts].astype(np.int32, copy=False))


@dataclass(frozen=True)
class SimulatedLink:
    """A network link of ``gbps`` gigabits per second and ``latency`` seconds per message (the α–β model)."""

    gbps: float
    latency: float = 20e-6

    def __post_init__(self):
        if not self.gbps > 0 or not self.latency >= 0:
            raise ValueError(f"a simulated link needs gbps > 0 and latency >= 0, not {self.gbps}, {self.latency}")

    def seconds(self, nbytes: int, messages: int = 1) -> float:
        """Time to send ``nbytes`` in ``messages`` messages over this link."""
        return messages * self.latency + nbytes * 8 / (self.gbps * 1e9)


class Communicator:
    """An MPI communicator with a byte counter (bytes this rank sent, by the algorithms' own messages).

    With ``link`` each of this rank's messages first waits for its time on that simulated link, so the
    collectives take as long as over that network (plus the real, shared-memory transfer); the waits
    add up in :attr:`link_seconds`. The small length messages before each transfer are not counted.
    """

    def __init__(self, comm=None, link: SimulatedLink | None = None):
        from mpi4py import MPI

        self.MPI = MPI
        self.comm = comm if comm is not None else MPI.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.bytes_sent = 0
        self.link, self.link_seconds = link, 0.0

    def ranks_on_this_node(self) -> int:
        """How many ranks of this communicator share this rank's node (collective: every rank calls it)."""
        local = self.comm.Split_type(self.MPI.COMM_TYPE_SHARED)
        try:
            return local.Get_size()
        finally:
            local.Free()

    def _sending(self, nbytes: int, messages: int = 1) -> None:
        """Count ``nbytes`` sent by this rank; on a simulated link, wait for their transfer time first."""
        self.bytes_sent += nbytes
        if self.link is not None:
            wait = self.link.seconds(nbytes, messages)
            self.link_seconds += wait
            time.sleep(wait)

    # -- point to point and collectives on byte buffers -------------------------------------------
    def sendrecv_bytes(self, buffer: np.ndarray, partner: int) -> np.ndarray:
        """Exchange byte buffers of any length with ``partner``."""
        their_length = np.zeros(1, np.int64)
        self.comm.Sendrecv(np.array([buffer.nbytes], np.int64), dest=partner, recvbuf=their_length, source=partner)
        received = np.empty(int(their_length[0]), np.uint8)
        self._sending(buffer.nbytes)
        self.comm.Sendrecv(buffer, dest=partner, recvbuf=received, source=partner)
        return received

    def send_bytes(self, buffer: np.ndarray, partner: int) -> None:
        self.comm.Send(np.array([buffer.nbytes], np.int64), dest=partner)
        self._sending(buffer.nbytes)
        self.comm.Send(buffer, dest=partner)

    def recv_bytes(self, partner: int) -> np.ndarray:
        length = np.zeros(1, np.int64)
        self.comm.Recv(length, source=partner)
        buffer = np.empty(int(length[0]), np.uint8)
        self.comm.Recv(buffer, source=partner)
        return buffer

    def allgather_bytes(self, buffer: np.ndarray) -> list[np.ndarray]:
        """Every rank's byte buffer (``Allgatherv``); counts as (P - 1) sends of this rank's buffer."""
        lengths = np.zeros(self.size, np.int64)
        self.comm.Allgather(np.array([buffer.nbytes], np.int64), lengths)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        received = np.empty(int(offsets[-1]), np.uint8)
        self._sending((self.size - 1) * buffer.nbytes, messages=self.size - 1)
        self.comm.Allgatherv(buffer, [received, lengths, offsets[:-1], self.MPI.BYTE])
        return [received[offsets[r]:offsets[r + 1]] for r in range(self.size)]

    def alltoall_bytes(self, pieces: list[np.ndarray]) -> list[np.ndarray]:
        """Send ``pieces[r]`` to rank r (``Alltoallv``); returns what each rank sent here."""
        send_lengths = np.array([p.nbytes for p in pieces], np.int64)
        recv_lengths = np.zeros(self.size, np.int64)
        self.comm.Alltoall(send_lengths, recv_lengths)
        send_offsets = np.concatenate([[0], np.cumsum(send_lengths)])
        recv_offsets = np.concatenate([[0], np.cumsum(recv_lengths)])
        received = np.empty(int(recv_offsets[-1]), np.uint8)
        self._sending(int(send_lengths.sum() - send_lengths[self.rank]), messages=self.size - 1)
        self.comm.Alltoallv([np.concatenate(pieces), send_lengths, send_offsets[:-1], self.MPI.BYTE],
                            [received, recv_lengths, recv_offsets[:-1], self.MPI.BYTE])
        return [received[recv_offsets[r]:recv_offsets[r + 1]] for r in range(self.size)]

    # -- allreduce algorithms ----------------------------------------------------------------------
    def allreduce_dense(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``MPI_Allreduce`` (sum) into ``out`` (a new array by default); counted as a ring allreduce sends,
        2(P-1)/P · bytes in 2(P-1) messages.

        MPI does not check that the ranks' sizes agree. Where they differ, a rank that gets a longer message than it
        expects inside MPI's algorithm raises :func:`different_sizes`; the others may get a wrong sum or wait, so
        that error must end the job (an uncaught error does, under the toolkit's commands and ``python -m mpi4py``)."""
        out = np.empty_like(x) if out is None else out
        self._sending(int(2 * (self.size - 1) / self.size * x.nbytes), messages=2 * (self.size - 1))
        try:
            self.comm.Allreduce(x, out, op=self.MPI.SUM)
        except self.MPI.Exception as error:  # MPI has no size check of its own: a message was too long
            if error.Get_error_class() != self.MPI.ERR_TRUNCATE:
                raise
            raise different_sizes(f"MPI_Allreduce of {x.size} entries on this rank: {error}") from error
        return out

    def allreduce_sparse(self, stream: Stream, algorithm: str = "ssar_rd") -> Stream:
        """The sum over ranks of ``stream`` with one of :data:`ALGORITHMS` (``dense`` densifies first)."""
        if self.size == 1:
            return stream
        if algorithm == "dense":
            return Stream(stream.size, self.allreduce_dense(stream.to_dense()))
        if algorithm == "allgather":
            received = [Stream.unpack(b, stream.size) for b in self.allgather_bytes(stream.pack())]
            return _sum_streams(received)
        if algorithm == "ssar_rd":
            return self._recursive_doubling(stream)
        if algorithm in ("ssar_split", "dsar"):
            return self._split_allgather(stream, dense_blocks=algorithm == "dsar")
        raise ValueError(f"unknown allreduce algorithm {algorithm!r}; choose from {', '.join(ALGORITHMS)}")

    def _recursive_doubling(self, stream: Stream) -> Stream:
        size, rank = self.size, self.rank
        pof2 = 1 << (size.bit_length() - 1)
        extra = size - pof2
        # Fold: of the first 2*extra ranks, even ones hand their stream to the odd neighbour and wait.
        if rank < 2 * extra:
            if rank % 2 == 0:
                self.send_bytes(stream.pack(), rank + 1)
                return Stream.unpack(self.recv_bytes(rank + 1), stream.size)
            stream = add_streams(stream, Stream.unpack(self.recv_bytes(rank - 1), stream.size))
            virtual = rank // 2
        else:
            virtual = rank - extra
        mask = 1
        while mask < pof2:
            partner_virtual = virtual ^ mask
            partner = partner_virtual * 2 + 1 if partner_virtual < extra else partner_virtual + extra
            other = Stream.unpack(self.sendrecv_bytes(stream.pack(), partner), stream.size)
            # Sum in a fixed order (lower virtual rank first) so every rank gets identical bits.
            stream = add_streams(stream, other) if virtual < partner_virtual else add_streams(other, stream)
            mask <<= 1
        if rank < 2 * extra:  # unfold: the odd rank returns the result to its even neighbour
            self.send_bytes(stream.pack(), rank - 1)
        return stream

    def _split_allgather(self, stream: Stream, dense_blocks: bool) -> Stream:
        size = stream.size
        bounds = np.linspace(0, size, self.size + 1).astype(np.int64)
        pieces = []
        for r in range(self.size):
            lo, hi = bounds[r], bounds[r + 1]
            if stream.dense:
                piece = Stream(int(hi - lo), stream.values[lo:hi])
            else:
                a, b = np.searchsorted(stream.indices, [lo, hi])
                piece = Stream(int(hi - lo), stream.values[a:b], (stream.indices[a:b] - lo).astype(np.int32))
            pieces.append(piece.pack())
        mine = int(bounds[self.rank + 1] - bounds[self.rank])
        received = [Stream.unpack(b, mine) for b in self.alltoall_bytes(pieces)]
        owned = _sum_streams(received)
        lo = int(bounds[self.rank])
        if dense_blocks:
            blocks = self.allgather_bytes(owned.to_dense().view(np.uint8))
            joined = np.concatenate([b.view(np.float32) for b in blocks])
            if len(joined) != size:  # the owners' blocks were cut from tensors of other sizes
                raise different_sizes(f"this rank's has {size} entries, the owners' blocks {len(joined)}")
            return Stream(size, joined)
        # A dense block keeps its block-relative form (count == block size); sparse pairs go out with
        # global indices, so the owners' ranges can simply be joined.
        payload = owned.pack() if owned.dense else Stream(size, owned.values, owned.indices + np.int32(lo)).pack()
        return _concatenate_owned(self.allgather_bytes(payload), bounds, size)


def _sum_streams(streams: list[Stream]) -> Stream:
    """Sum of streams in rank order (dense ones added in order too)."""
    if all(not s.dense for s in streams):
        return sum_pairs(streams[0].size, [s.indices for s in streams], [s.values for s in streams])
    total = streams[0]
    for s in streams[1:]:
        total = add_streams(total, s)
    return total


def _concatenate_owned(gathered: list[np.ndarray], bounds: np.ndarray, size: int) -> Stream:
    """Join the owners' disjoint ranges (each sparse with global indices, or a dense block)."""
    parts = []
    for r, buffer in enumerate(gathered):
        block = int(bounds[r + 1] - bounds[r])
        count = int(buffer[:8].view(np.int64)[0])
        parts.append(Stream.unpack(buffer, block) if count == block else Stream.unpack(buffer, size))
    if any(p.dense for p in parts) or goes_dense(size, sum(len(p.values) for p in parts), 0):
        out = np.zeros(size, np.float32)
        for r, p in enumerate(parts):
            if p.dense:
                out[bounds[r]:bounds[r + 1]] = p.values
            else:
                out[p.indices] = p.values
        return Stream(size, out)
    return Stream(size, np.concatenate([p.values for p in parts]), np.concatenate([p.indices for p in parts]))
