"""Gradient compression where the gradient lives (torch tensors, GPU or CPU).

:class:`TorchCompressor` does the work of a :mod:`train.compression` compressor with torch operations on
the gradient's device — top-k or sampled-threshold selection, random-k, stochastic quantization to
levels, the error-feedback residual — and moves only the compressed payload to the host for MPI:
``k`` indices and values for the sparsifiers, one byte per level code (bit-packed on the host) plus one
scale per bucket for the quantizers. Its payloads are those of the host compressor, so every rank
decodes them with the host code (:func:`train.allreduce.allreduce_payload`).

Random draws come from a ``torch.Generator`` on the device, so payloads are not bit-identical to the
numpy compressors' (same distributions, same formats).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from train.compression import (QSGD, FP16, THRESHOLD_SAMPLE, Compressor, ErrorFeedback, Payload, RandomK, TopK,
                               TopKQuantized, encode_indices, pack_bits)

if TYPE_CHECKING:  # imported when used: the torch backend only
    import torch


class TorchCompressor:
    """``compress(tensor) -> Payload`` on the tensor's device for the compressor ``host`` describes.

    Args:
        host: a compressor from :func:`train.compression.parse_compression` (possibly with error
            feedback); it fixes the method, its parameters and the payload format.
        device: where the gradients live (``"cuda"``, ``"cpu"``).
        seed: seeds the device generator.
    """

    def __init__(self, host: Compressor | ErrorFeedback, device="cpu", seed: int = 0):
        import torch

        self.torch = torch
        self.method = host.compressor if isinstance(host, ErrorFeedback) else host
        self.error_feedback = isinstance(host, ErrorFeedback)
        self.device = torch.device(device)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)
        self.residual = None

    def compress(self, x: torch.Tensor) -> Payload:
        """The payload of ``x`` (a flat float32 tensor); with error feedback the residual stays on the device.

        The residual is updated in place: ``x`` is added into it and only what was sent is taken out again
        (``k`` entries for the sparsifiers), so a step allocates no further tensors of the gradient's size.
        """
        x = x.detach().to(self.device, self.torch.float32).reshape(-1)
        if not self.error_feedback:
            return self._compress(x)[0]
        if self.residual is None:
            self.residual = x.clone()  # never the caller's tensor: it is changed in place below
        elif self.residual.shape != x.shape:
            raise ValueError(f"a gradient of {x.numel()} values, but the kept residual has {self.residual.numel()}")
        else:
            self.residual.add_(x)
        payload, indices, values = self._compress(self.residual)
        if indices is None:
            self.residual.sub_(values)
        else:
            self.residual.index_add_(0, indices, values, alpha=-1)
        return payload

    def _compress(self, x):
        """``(payload, indices, values)``: what the payload decodes to, on the device — ``values`` at
        ``indices``, zero elsewhere; ``indices`` is None when ``values`` is dense. ``values`` is a tensor
        of its own, except without compression, where it is ``x`` itself (what the payload copied)."""
        torch, method, n = self.torch, self.method, x.numel()
        if isinstance(method, TopK):
            indices = self._select(x, method.count(n), method)
            values = x[indices]
            if isinstance(method, RandomK):
                values = values * (n / max(1, len(indices)))
            if isinstance(method, TopKQuantized):
                codes, scales, values = self._quantize(values, method.bits, method.bucket)
                payload = Payload(n, pack_bits(codes, method.bits), encode_indices(_host(indices).astype(np.int64)),
                                  scales, {"count": int(len(indices))})
            else:
                payload = Payload(n, _host(values).astype(np.float32), _host(indices).astype(np.int32))
            return payload, indices, values
        if isinstance(method, QSGD):
            codes, scales, sent = self._quantize(x, method.bits, method.bucket)
            return Payload(n, pack_bits(codes, method.bits), scales=scales), None, sent
        if isinstance(method, FP16):
            half = x.half()
            return Payload(n, _host(half)), None, half.float()
        return Payload(n, _host(x).astype(np.float32)), None, x

    def _select(self, x, k: int, method: TopK):
        torch, n = self.torch, x.numel()
        if k >= n:
            return torch.arange(n, device=x.device)
        if isinstance(method, RandomK):
            return torch.randperm(n, generator=self.generator, device=x.device)[:k].sort().values
        magnitude = x.abs()
        if not method.exact and n > THRESHOLD_SAMPLE:
            probe = magnitude[torch.randint(0, n, (THRESHOLD_SAMPLE,), generator=self.generator, device=x.device)]
            keep = max(1, int(round(THRESHOLD_SAMPLE * k / n)))
            threshold = torch.kthvalue(probe, THRESHOLD_SAMPLE - keep + 1).values
            if threshold > 0:
                return torch.nonzero(magnitude >= threshold).reshape(-1)
        return torch.topk(magnitude, k, sorted=False).indices.sort().values

    def _quantize(self, x, bits: int, bucket: int):
        """QSGD's stochastic levels on the device: ``(codes as uint8 numpy, scales, dequantized tensor)``."""
        torch, n = self.torch, x.numel()
        levels = (1 << (bits - 1)) - 1
        padded = torch.zeros(-(-n // bucket) * bucket, device=x.device, dtype=torch.float32)
        padded[:n] = x
        blocks = padded.reshape(-1, bucket)
        scales = blocks.abs().amax(dim=1)
        safe = torch.where(scales > 0, scales, torch.ones_like(scales))
        scaled = blocks.abs() / safe[:, None] * levels
        low = scaled.floor()
        draw = torch.rand(scaled.shape, generator=self.generator, device=x.device)
        level = (low + (draw < scaled - low).float()).reshape(-1)[:n]
        negative = x < 0
        codes = level.to(torch.uint8) | (negative.to(torch.uint8) << (bits - 1))
        dequantized = level / levels * torch.where(negative, -1.0, 1.0) * scales.repeat_interleave(bucket)[:n]
        return _host(codes), _host(scales).astype(np.float32), dequantized

    def state_dict(self) -> dict:
        """The device generator's state and the residual, as numpy arrays."""
        state = {"generator": _host(self.generator.get_state())}
        if self.residual is not None:
            state["residual"] = _host(self.residual).copy()  # the residual changes in place
        return state

    def load_state_dict(self, state: dict) -> None:
        torch = self.torch
        self.generator.set_state(torch.from_numpy(np.asarray(state["generator"], dtype=np.uint8)))
        residual = state.get("residual")
        self.residual = None if residual is None else torch.tensor(np.asarray(residual), device=self.device)


def _host(tensor) -> np.ndarray:
    """A tensor's values as a numpy array on the host (the only device-to-host copy)."""
    return tensor.detach().cpu().numpy()
