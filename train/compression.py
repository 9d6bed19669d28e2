"""Gradient compressors: what each rank sends instead of its dense gradient.

Every compressor turns a flat float32 vector into a :class:`Payload` and back, and declares how
payloads combine across ranks (``reduction``):

- ``"dense"``: payloads can be summed by a plain allreduce (none);
- ``"sparse"``: (index, value) pairs for a sparse allreduce (top-k, random-k);
- ``"gather"``: payloads must be gathered and decoded one by one (fp16, QSGD, TernGrad, top-k with
  4-bit values and delta-coded indices, SparCML's Top16_Q4 family);
- ``"lowrank"``: :class:`train.powersgd.PowerSGD`, which needs the tensors' shapes and two dense
  allreduces of small factors (it makes no payload and keeps its own error feedback).

:class:`ErrorFeedback` wraps any compressor: what was not sent is kept and added to the next
gradient (sent + residual = accumulated gradient, exactly). Its state saves to plain arrays.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from train.powersgd import PowerSGD

REDUCTIONS = ("dense", "sparse", "gather", "lowrank")
#: The reductions whose compressors keep error feedback unless it is switched off (:func:`parse_compression`).
FEEDBACK_REDUCTIONS = ("sparse", "lowrank")


@dataclass
class Payload:
    """A compressed vector: ``indices`` (sparse kinds), ``values`` (or packed codes) and ``scales``."""

    size: int
    values: np.ndarray
    indices: np.ndarray | None = None
    scales: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        """Bytes this payload puts on the wire."""
        return sum(a.nbytes for a in (self.values, self.indices, self.scales) if a is not None)


class Compressor:
    """Base class: ``compress(x) -> Payload``, ``decompress(payload) -> x`` (float32, length ``size``)."""

    name = "none"
    reduction = "dense"

    def __init__(self, seed: int = 0):
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def compress(self, x: np.ndarray) -> Payload:
        return Payload(x.size, np.array(x, dtype=np.float32))  # a copy: error feedback changes x afterwards

    def decompress(self, payload: Payload) -> np.ndarray:
        return np.asarray(payload.values, dtype=np.float32)

    def subtract_sent(self, x: np.ndarray, payload: Payload) -> None:
        """``x -= decompress(payload)``, in place (what error feedback keeps of ``x``)."""
        x -= self.decompress(payload)

    def state_dict(self) -> dict:
        """Everything needed to continue bit-identically: the random generator's state."""
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]


class FP16(Compressor):
    """Half-precision values, gathered and summed in float32 (MPI has no half-precision sum)."""

    name = "fp16"
    reduction = "gather"

    def compress(self, x: np.ndarray) -> Payload:
        return Payload(x.size, np.asarray(x, dtype=np.float16))


def top_k_indices(x: np.ndarray, k: int) -> np.ndarray:
    """Exact indices of the ``k`` largest magnitudes, sorted ascending."""
    if k >= x.size:
        return np.arange(x.size, dtype=np.int64)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    return np.sort(np.argpartition(np.abs(x), x.size - k)[x.size - k:])


#: Entries sampled to estimate the top-k threshold (:func:`threshold_indices`, and its torch twin).
THRESHOLD_SAMPLE = 100_000


def threshold_indices(x: np.ndarray, k: int, rng: np.random.Generator, sample: int = THRESHOLD_SAMPLE) -> np.ndarray:
    """About ``k`` large-magnitude indices: the threshold comes from a random sample, one pass selects.

    DGC's estimate: the (1 - k/n) quantile of |x| on ``sample`` random entries. The count is
    approximate (a few percent either way); the result is sorted.
    """
    n = x.size
    if k >= n or n <= sample:
        return top_k_indices(x, k)
    probe = np.abs(x[rng.integers(0, n, sample)])
    keep = max(1, int(round(sample * k / n)))
    threshold = np.partition(probe, sample - keep)[sample - keep]
    if threshold == 0:
        return top_k_indices(x, k)
    return magnitude_at_least(x, threshold)


#: Entries per piece in :func:`magnitude_at_least` (1 MiB of float32: the piece stays in a core's L2 cache).
SELECT_CHUNK = 1 << 18


def magnitude_at_least(x: np.ndarray, threshold: float) -> np.ndarray:
    """Indices where ``|x| >= threshold``, ascending.

    The same as ``np.flatnonzero(np.abs(x) >= threshold)``, but piece by piece: |x|, its mask and the
    mask's nonzero indices are taken while the piece is in cache, so no temporary of the vector's size is
    written and read back (at 25 M floats, 1 % above the threshold, 1.7x faster here than the plain
    expression; docs/distributed.md).
    """
    size = min(SELECT_CHUNK, x.size)
    magnitude, mask = np.empty(size, dtype=x.dtype), np.empty(size, dtype=bool)
    pieces = [np.zeros(0, dtype=np.int64)]
    for start in range(0, x.size, SELECT_CHUNK):
        piece = x[start:start + SELECT_CHUNK]
        np.abs(piece, out=magnitude[:piece.size])
        np.greater_equal(magnitude[:piece.size], threshold, out=mask[:piece.size])
        indices = np.flatnonzero(mask[:piece.size])
        indices += start
        pieces.append(indices)
    return np.concatenate(pieces)


class TopK(Compressor):
    """The ``density`` fraction of largest magnitudes; ``exact=False`` uses a sampled threshold."""

    reduction = "sparse"

    def __init__(self, density: float, exact: bool = True, seed: int = 0):
        super().__init__(seed)
        if not 0 < density <= 1:
            raise ValueError(f"top-k density must be in (0, 1], not {density}")
        self.density, self.exact = density, exact
        self.name = f"topk{'' if exact else '_fast'}:{density:g}"

    def count(self, n: int) -> int:
        """How many of ``n`` entries to keep (one at least, of a tensor that has any)."""
        return min(n, max(1, int(round(self.density * n))))

    def select(self, x: np.ndarray) -> np.ndarray:
        k = self.count(x.size)
        return top_k_indices(x, k) if self.exact else threshold_indices(x, k, self.rng)

    def compress(self, x: np.ndarray) -> Payload:
        indices = self.select(x)
        return Payload(x.size, x[indices].astype(np.float32), indices.astype(np.int32))

    def decompress(self, payload: Payload) -> np.ndarray:
        out = np.zeros(payload.size, dtype=np.float32)
        indices, values = self.pairs(payload)
        out[indices] = values
        return out

    def pairs(self, payload: Payload) -> tuple[np.ndarray, np.ndarray]:
        """The payload's distinct indices and their float32 values."""
        return payload.indices, payload.values

    def subtract_sent(self, x: np.ndarray, payload: Payload) -> None:
        """Only the sent entries change: no dense vector of the payload is made."""
        indices, values = self.pairs(payload)
        x[indices] -= values


class RandomK(TopK):
    """``density`` of the entries chosen uniformly at random (scaled by 1/density: unbiased)."""

    def __init__(self, density: float, seed: int = 0):
        super().__init__(density, True, seed)
        self.name = f"randomk:{density:g}"

    def select(self, x: np.ndarray) -> np.ndarray:
        return np.sort(self.rng.choice(x.size, size=self.count(x.size), replace=False))

    def compress(self, x: np.ndarray) -> Payload:
        payload = super().compress(x)
        payload.values = payload.values * np.float32(x.size / max(1, len(payload.indices)))
        return payload


def stochastic_levels(magnitude: np.ndarray, levels: int, rng: np.random.Generator) -> np.ndarray:
    """QSGD's unbiased rounding of ``magnitude`` (in [0, 1]) to one of ``levels + 1`` points k/levels."""
    scaled = magnitude * levels
    low = np.floor(scaled)
    return (low + (rng.random(scaled.shape, dtype=np.float32) < (scaled - low))).astype(np.uint8)


def pack_bits(codes: np.ndarray, bits: int) -> np.ndarray:
    """Pack unsigned codes (< 2**bits, bits in 2, 4, 8) into bytes, low bits first."""
    if bits == 8:
        return codes.astype(np.uint8)
    per_byte = 8 // bits
    padded = np.zeros(-(-codes.size // per_byte) * per_byte, dtype=np.uint8)
    padded[:codes.size] = codes
    groups = padded.reshape(-1, per_byte)
    shifts = (np.arange(per_byte, dtype=np.uint8) * bits)
    return np.bitwise_or.reduce(groups << shifts, axis=1).astype(np.uint8)


def unpack_bits(packed: np.ndarray, bits: int, count: int) -> np.ndarray:
    """Inverse of :func:`pack_bits`."""
    if bits == 8:
        return packed[:count]
    per_byte = 8 // bits
    shifts = (np.arange(per_byte, dtype=np.uint8) * bits)
    codes = (packed[:, None] >> shifts) & np.uint8((1 << bits) - 1)
    return codes.reshape(-1)[:count]


def _quantize(x: np.ndarray, bits: int, bucket: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Sign + magnitude level per entry packed in ``bits`` bits, one max-norm scale per bucket."""
    levels = (1 << (bits - 1)) - 1
    n = x.size
    padded = np.zeros(-(-n // bucket) * bucket, dtype=np.float32)
    padded[:n] = x
    blocks = padded.reshape(-1, bucket)
    scales = np.abs(blocks).max(axis=1)
    safe = np.where(scales > 0, scales, 1).astype(np.float32)
    magnitude = np.abs(blocks) / safe[:, None]
    codes = stochastic_levels(magnitude, levels, rng).reshape(-1)[:n]
    codes |= (padded[:n] < 0).astype(np.uint8) << np.uint8(bits - 1)
    return pack_bits(codes, bits), scales.astype(np.float32)


def _dequantize(packed: np.ndarray, scales: np.ndarray, bits: int, bucket: int, n: int) -> np.ndarray:
    codes = unpack_bits(packed, bits, n)
    levels = (1 << (bits - 1)) - 1
    magnitude = (codes & np.uint8(levels)).astype(np.float32) / levels
    sign = np.where(codes >> np.uint8(bits - 1), np.float32(-1), np.float32(1))
    return magnitude * sign * np.repeat(scales, bucket)[:n]


class QSGD(Compressor):
    """QSGD with ``2**(bits-1) - 1`` levels, stochastic rounding, a max-norm scale per ``bucket``; gathered."""

    reduction = "gather"

    def __init__(self, bits: int = 4, bucket: int = 512, seed: int = 0):
        super().__init__(seed)
        if bits not in (2, 4, 8):
            raise ValueError(f"QSGD packs 2, 4 or 8 bits per value, not {bits}")
        self.bits, self.bucket = bits, bucket
        self.name = f"qsgd:{bits}"

    def compress(self, x: np.ndarray) -> Payload:
        packed, scales = _quantize(np.asarray(x, np.float32), self.bits, self.bucket, self.rng)
        return Payload(x.size, packed, scales=scales)

    def decompress(self, payload: Payload) -> np.ndarray:
        return _dequantize(payload.values, payload.scales, self.bits, self.bucket, payload.size)


class TernGrad(QSGD):
    """TernGrad: values in {-1, 0, +1} × the bucket's max magnitude, stochastic; 2 bits each."""

    def __init__(self, bucket: int = 512, seed: int = 0):
        super().__init__(2, bucket, seed)
        self.name = "terngrad"


class TopKQuantized(TopK):
    """SparCML's Top16_Q4 family: top-k entries with ``bits``-bit stochastically quantized values."""

    def __init__(self, density: float, bits: int = 4, bucket: int = 512, exact: bool = False, seed: int = 0):
        super().__init__(density, exact, seed)
        self.bits, self.bucket = bits, bucket
        self.name = f"topk_q{bits}:{density:g}"

    reduction = "gather"  # quantized values cannot be re-summed on the way without re-quantizing

    def compress(self, x: np.ndarray) -> Payload:
        indices = self.select(x)
        packed, scales = _quantize(x[indices].astype(np.float32), self.bits, self.bucket, self.rng)
        return Payload(x.size, packed, encode_indices(indices), scales, {"count": len(indices)})

    def pairs(self, payload: Payload) -> tuple[np.ndarray, np.ndarray]:
        count = payload.meta["count"]
        return (decode_indices(payload.indices, count),
                _dequantize(payload.values, payload.scales, self.bits, self.bucket, count))


def encode_indices(indices: np.ndarray) -> np.ndarray:
    """Sorted indices as uint16 gaps when every gap fits (about 2 bytes each at 1 % density), else int32."""
    gaps = np.diff(indices, prepend=0)
    if len(gaps) and gaps.max() < 1 << 16:
        return gaps.astype(np.uint16)
    return indices.astype(np.int32)


def decode_indices(encoded: np.ndarray, count: int) -> np.ndarray:
    """Inverse of :func:`encode_indices`."""
    if encoded.dtype == np.uint16:
        return np.cumsum(encoded, dtype=np.int64)
    return encoded.astype(np.int64)


class ErrorFeedback:
    """Keeps what the compressor did not send and adds it to the next vector (per parameter name)."""

    def __init__(self, compressor: Compressor):
        self.compressor = compressor
        self.residuals: dict[str, np.ndarray] = {}

    @property
    def reduction(self) -> str:
        return self.compressor.reduction

    @property
    def name(self) -> str:
        return self.compressor.name + "+ef"

    def compress(self, x: np.ndarray, key: str = "") -> Payload:
        """The payload of ``x`` plus the residual kept under ``key``; the residual is updated in place
        (no vector of ``x``'s size is allocated after the first call: about half the time and memory of
        a step at 25 M floats, docs/distributed.md); ``x`` is left alone."""
        accumulated = self.residuals.get(key)
        if accumulated is None:
            accumulated = self.residuals[key] = np.array(x, dtype=np.float32)
        elif accumulated.shape != np.shape(x):
            raise ValueError(f"error feedback for {key!r}: a vector of shape {np.shape(x)} after {accumulated.shape}")
        else:
            np.add(accumulated, x, out=accumulated)
        payload = self.compressor.compress(accumulated)
        self.compressor.subtract_sent(accumulated, payload)
        return payload

    def decompress(self, payload: Payload) -> np.ndarray:
        return self.compressor.decompress(payload)

    def state_dict(self) -> dict:
        return {"compressor": self.compressor.state_dict(),
                "residuals": {k: v.copy() for k, v in self.residuals.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.compressor.load_state_dict(state["compressor"])
        self.residuals = {k: np.array(v, dtype=np.float32) for k, v in state["residuals"].items()}


def _whole(value: float, spec: str, what: str) -> int:
    if not (math.isfinite(value) and value == int(value)):
        raise ValueError(f"compression {spec!r}: {what} a whole number, not {value:g}")
    return int(value)


def parse_compression(spec: str, error_feedback: bool = True,
                      seed: int = 0) -> Compressor | ErrorFeedback | PowerSGD:
    """``none``, ``fp16``, ``topk:0.01``, ``topk_fast:0.01``, ``randomk:0.01``, ``qsgd:4``, ``terngrad``,
    ``topk_q4:0.01``, ``powersgd:2`` (a density, QSGD's bits or PowerSGD's rank after the colon; left out: 0.01, 4
    and 2). Compressors summed as sparse streams (``topk``, ``topk_fast``, ``randomk``) and PowerSGD get error
    feedback unless switched off; the gathered ``topk_q4`` runs without it (docs/distributed.md measures both).

    Raises:
        ValueError: an unknown name, or an argument that is not a number the compressor takes.
    """
    name, colon, argument = spec.partition(":")
    builders = {  # name -> (default argument, builder of the compressor from the argument)
        "none": (None, lambda _: Compressor(seed)),
        "fp16": (None, lambda _: FP16(seed)),
        "topk": (0.01, lambda d: TopK(d, exact=True, seed=seed)),
        "topk_fast": (0.01, lambda d: TopK(d, exact=False, seed=seed)),
        "randomk": (0.01, lambda d: RandomK(d, seed=seed)),
        "qsgd": (4, lambda bits: QSGD(_whole(bits, spec, "QSGD's bits are"), seed=seed)),
        "terngrad": (None, lambda _: TernGrad(seed=seed)),
        "topk_q4": (0.01, lambda d: TopKQuantized(d, 4, seed=seed)),
        # The same random start on every rank, whatever its seed.
        "powersgd": (2, lambda r: PowerSGD(_whole(r, spec, "PowerSGD's rank is"), error_feedback)),
    }
    if name not in builders:
        raise ValueError(f"unknown compression {spec!r}; choose from {', '.join(builders)}")
    default, build = builders[name]
    if not colon:
        compressor = build(default)
    elif default is None:
        raise ValueError(f"compression {name!r} takes no argument, not {spec!r}")
    else:
        try:
            value = float(argument)
        except ValueError:
            raise ValueError(f"compression {spec!r}: {argument!r} is not a number") from None
        compressor = build(value)
    return ErrorFeedback(compressor) if error_feedback and compressor.reduction == "sparse" else compressor
