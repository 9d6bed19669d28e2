"""Compression on the gradients' device (torch; CPU here, the same code runs on a GPU)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from train.compression import ErrorFeedback, parse_compression  # noqa: E402
from train.device_compression import TorchCompressor  # noqa: E402


def _gradient(n=50_000, seed=0):
    return np.random.default_rng(seed).normal(size=n).astype(np.float32)


def test_exact_top_k_equals_the_host_compressor():
    x = _gradient()
    host = parse_compression("topk:0.01", error_feedback=False)
    ours = TorchCompressor(host).compress(torch.from_numpy(x))
    theirs = host.compress(x)
    assert np.array_equal(ours.indices, theirs.indices) and np.array_equal(ours.values, theirs.values)
    assert ours.values.dtype == np.float32 and ours.indices.dtype == np.int32


@pytest.mark.parametrize("spec", ["topk:0.01", "topk_fast:0.01", "randomk:0.01", "topk_q4:0.01"])
def test_error_feedback_on_the_device_conserves_mass(spec):
    x = _gradient(300_000)
    host = parse_compression(spec, error_feedback=True) if spec != "topk_q4:0.01" else \
        ErrorFeedback(parse_compression(spec))
    device = TorchCompressor(host, seed=1)
    accumulated = np.zeros_like(x)
    sent = np.zeros_like(x)
    for step in range(3):
        g = _gradient(300_000, seed=step)
        accumulated += g
        payload = device.compress(torch.from_numpy(g))
        sent += host.decompress(payload)  # every rank decodes device payloads with the host code
        assert 0 < len(payload.values) and payload.nbytes < 0.05 * g.nbytes
    residual = device.residual.numpy()
    scale = max(1.0, float(np.abs(residual).max()))  # random-k's scaled values make residuals large
    np.testing.assert_allclose(sent + residual, accumulated, atol=1e-5 * scale)


@pytest.mark.parametrize("spec", ["qsgd:4", "qsgd:2", "terngrad", "fp16"])
def test_device_quantizers_are_unbiased_and_host_decodable(spec):
    x = _gradient(2_048, seed=3)
    host = parse_compression(spec)
    device = TorchCompressor(host, seed=2)
    draws = np.stack([host.decompress(device.compress(torch.from_numpy(x))) for _ in range(2_000)])
    assert np.abs(draws.mean(axis=0) - x).max() < 0.1 * np.abs(x).max()
    assert device.compress(torch.from_numpy(x)).nbytes <= x.nbytes // 2


def test_saved_device_state_continues_bit_identically():
    x = torch.from_numpy(_gradient(200_000))
    a = TorchCompressor(parse_compression("topk_q4:0.01"), seed=4)
    a.compress(x)
    state = a.state_dict()
    expected = a.compress(x)
    b = TorchCompressor(parse_compression("topk_q4:0.01"), seed=99)
    b.load_state_dict(state)
    assert np.array_equal(b.compress(x).values, expected.values)


@pytest.mark.parametrize("spec", ["topk:0.01", "topk_fast:0.01", "randomk:0.01", "topk_q4:0.01", "qsgd:4", "fp16",
                                  "none"])
def test_in_place_device_residual_equals_the_textbook_formula(spec):
    """residual <- (g + residual) - sent, bit for bit, without touching g, earlier payloads or saved states."""
    host = ErrorFeedback(parse_compression(spec, error_feedback=False))
    feedback, reference = TorchCompressor(host, seed=5), TorchCompressor(host.compressor, seed=5)
    rng, residual, payloads = np.random.default_rng(7), None, []
    for step in range(4):
        g = torch.from_numpy(rng.normal(size=300_000).astype(np.float32))
        original = g.clone()
        payload = feedback.compress(g)
        accumulated = g + residual if residual is not None else g.clone()
        expected, indices, values = reference._compress(accumulated)
        sent = values if indices is None else torch.zeros_like(accumulated).index_put_((indices,), values)
        residual = accumulated - sent
        assert torch.equal(g, original)
        assert np.array_equal(payload.values, expected.values) and torch.equal(feedback.residual, residual)
        payloads.append((payload, payload.values.copy()))
        if step == 1:
            saved = feedback.state_dict()
            kept = saved["residual"].copy()
    assert all(np.array_equal(p.values, kept_values) for p, kept_values in payloads)
    assert np.array_equal(saved["residual"], kept)
    resumed = TorchCompressor(host, seed=0)
    resumed.load_state_dict(saved)
    resumed.compress(g)
    assert np.array_equal(saved["residual"], kept)
    with pytest.raises(ValueError, match="residual"):
        feedback.compress(torch.zeros(10))


@pytest.mark.parametrize("spec", ["none", "fp16", "topk:0.5", "topk_fast:0.5", "randomk:0.5", "topk_q4:0.5", "qsgd:4",
                                  "terngrad"])
@pytest.mark.parametrize("n", [0, 1])
def test_every_compressor_takes_an_empty_or_one_entry_tensor(spec, n):
    """random-k failed on an empty tensor, on the host ('a must be a positive integer') and on the device (a
    division by zero)."""
    host = parse_compression(spec, error_feedback=False)
    device = TorchCompressor(parse_compression(spec, error_feedback=False), seed=0)
    for payload in (host.compress(np.ones(n, np.float32)), device.compress(torch.ones(n))):
        assert np.array_equal(host.decompress(payload), np.ones(n, np.float32))
