"""Compressors on one process: unbiasedness, error-feedback mass, packing, byte sizes, saved state."""
import numpy as np
import pytest

from train.allreduce import deserialize, serialize
from train.compression import (QSGD, SELECT_CHUNK, Compressor, ErrorFeedback, RandomK, TernGrad, TopK, TopKQuantized,
                               decode_indices, encode_indices, magnitude_at_least, pack_bits, parse_compression,
                               top_k_indices, unpack_bits)


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_pack_unpack_round_trip(bits):
    codes = np.random.default_rng(bits).integers(0, 1 << bits, 1001).astype(np.uint8)
    packed = pack_bits(codes, bits)
    assert packed.nbytes == -(-1001 * bits // 8)
    assert np.array_equal(unpack_bits(packed, bits, 1001), codes)


@pytest.mark.parametrize("make", [lambda s: QSGD(4, seed=s), lambda s: QSGD(2, seed=s), lambda s: TernGrad(seed=s),
                                  lambda s: RandomK(0.1, seed=s)])
def test_stochastic_compressors_are_unbiased(make):
    x = np.random.default_rng(0).normal(size=2000).astype(np.float32)
    compressor = make(7)
    trials = 2000
    mean = sum(compressor.decompress(compressor.compress(x)) for _ in range(trials)) / trials
    # Each coordinate's estimate has std <= scale/sqrt(trials); a fixed seed makes the test repeatable.
    scale = np.abs(x).max() * (10 if isinstance(compressor, RandomK) else 1)
    assert np.abs(mean - x).max() < 5 * scale / np.sqrt(trials)
    assert abs(float(np.mean(mean - x))) < 0.1 * scale / np.sqrt(trials) * 10


def test_error_feedback_conserves_mass():
    rng = np.random.default_rng(1)
    feedback = ErrorFeedback(TopK(0.05))
    accumulated_gradient = np.zeros(1000, np.float32)
    sent_total = np.zeros(1000, np.float32)
    for _ in range(20):
        g = rng.normal(size=1000).astype(np.float32)
        accumulated_gradient += g
        sent_total += feedback.decompress(feedback.compress(g, "w"))
        np.testing.assert_allclose(sent_total + feedback.residuals["w"], accumulated_gradient, atol=1e-4)
    # One step is exact: what was sent plus what was kept is what was there.
    before = feedback.residuals["w"].copy()
    g = rng.normal(size=1000).astype(np.float32)
    sent = feedback.decompress(feedback.compress(g, "w"))
    assert np.array_equal(sent + feedback.residuals["w"], before + g)


@pytest.mark.parametrize("make", [lambda: TopK(0.05), lambda: TopK(0.05, exact=False), lambda: RandomK(0.05),
                                  lambda: TopKQuantized(0.05), lambda: QSGD(4), lambda: Compressor()])
def test_in_place_error_feedback_equals_the_textbook_formula(make):
    """residual <- (g + residual) - decompress(payload), bit for bit, without touching g or earlier payloads."""
    feedback, reference = ErrorFeedback(make()), make()
    rng, residual, payloads = np.random.default_rng(4), None, []
    for _ in range(5):
        g = rng.normal(size=20_000).astype(np.float32)
        original = g.copy()
        payload = feedback.compress(g, "w")
        accumulated = g + residual if residual is not None else g.copy()
        expected = reference.compress(accumulated)
        residual = accumulated - reference.decompress(expected)
        assert np.array_equal(g, original)
        assert np.array_equal(payload.values, expected.values) and np.array_equal(feedback.residuals["w"], residual)
        payloads.append((payload, payload.values.copy()))
    assert all(np.array_equal(p.values, kept) for p, kept in payloads)
    with pytest.raises(ValueError, match="'w'"):
        feedback.compress(np.zeros(10, np.float32), "w")


def test_top_k_is_exact_and_the_fast_variant_close():
    x = np.random.default_rng(2).normal(size=1_000_000).astype(np.float32)
    exact = top_k_indices(x, 10_000)
    assert len(exact) == 10_000 and np.abs(x[exact]).min() >= np.sort(np.abs(x))[-10_000]
    fast = TopK(0.01, exact=False).select(x)
    assert 9_000 < len(fast) < 11_000 and len(np.intersect1d(fast, exact)) > 0.9 * min(len(fast), 10_000)


def test_selection_by_magnitude_matches_the_plain_expression():
    """Piece by piece (pieces of SELECT_CHUNK), the same indices as one pass over |x|, at piece edges too."""
    rng = np.random.default_rng(6)
    for size in (0, 1, SELECT_CHUNK - 1, SELECT_CHUNK, 3 * SELECT_CHUNK + 17):
        x = rng.normal(size=size).astype(np.float32)
        x[::97] = 1.5  # ties at the threshold, both signs
        x[1::97] = -1.5
        x[2::101] = np.nan
        for threshold in (0.0, 1.5, 2.0, 10.0):
            expected = np.flatnonzero(np.abs(x) >= threshold)
            assert np.array_equal(magnitude_at_least(x, threshold), expected), (size, threshold)


def test_quantized_top_k_bytes_and_round_trip():
    x = np.random.default_rng(3).normal(size=1_000_000).astype(np.float32)
    compressor = TopKQuantized(0.01)
    payload = compressor.compress(x)
    assert payload.nbytes < 0.0075 * x.nbytes  # ~2.5 bytes per kept value vs 4 per dense value
    back = deserialize(serialize(payload), x.size)
    assert np.array_equal(compressor.decompress(back), compressor.decompress(payload))
    indices = np.sort(np.random.default_rng(4).choice(10**6, 5000, replace=False))
    assert np.array_equal(decode_indices(encode_indices(indices), 5000), indices)
    far = np.array([0, 70_000, 200_000])
    assert encode_indices(far).dtype == np.int32 and np.array_equal(decode_indices(encode_indices(far), 3), far)


def test_saved_state_continues_bit_identically():
    x = np.random.default_rng(5).normal(size=10_000).astype(np.float32)
    a = parse_compression("topk_q4:0.01", error_feedback=False)
    a.compress(x)
    state = a.state_dict()
    expected = a.compress(x)
    b = parse_compression("topk_q4:0.01", error_feedback=False)
    b.load_state_dict(state)
    assert np.array_equal(b.compress(x).values, expected.values)
    ef = parse_compression("topk:0.01")
    ef.compress(x, "layer")
    copy = parse_compression("topk:0.01")
    copy.load_state_dict(ef.state_dict())
    assert np.array_equal(copy.residuals["layer"], ef.residuals["layer"])
    with pytest.raises(ValueError, match="unknown compression"):
        parse_compression("zip:3")


@pytest.mark.parametrize("spec, message", [
    ("topk:0", r"density must be in \(0, 1\], not 0.0"),  # was 'or 0.01': silently 1 %
    ("qsgd:0", "QSGD packs 2, 4 or 8 bits per value, not 0"),  # was silently 4 bits
    ("qsgd:4.5", "QSGD's bits are a whole number, not 4.5"),  # was 4
    ("qsgd:nan", "whole number, not nan"),
    ("terngrad:3", "'terngrad' takes no argument"),  # was ignored
    ("topk:abc", "'abc' is not a number"),
    ("topk:", "'' is not a number"),
])
def test_compression_specs_are_taken_as_written_or_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_compression(spec)
    assert parse_compression("topk").compressor.density == 0.01 and parse_compression("qsgd").bits == 4


def test_error_feedback_can_be_switched_off_for_training():
    """`inst2vec task … --no-error-feedback` reaches the compressor of the distributed optimizer."""
    from inst2vec.cli import _parser
    from train.compression import ErrorFeedback
    from train.keras_distributed import GradientAllreducer

    task = ["task", "devmap", "--distributed", "--compression", "topk:0.01", "-o", "results"]
    assert _parser().parse_args(task).error_feedback
    assert not _parser().parse_args(task + ["--no-error-feedback"]).error_feedback
    assert isinstance(GradientAllreducer("topk:0.01").compressor, ErrorFeedback)
    assert not isinstance(GradientAllreducer("topk:0.01", error_feedback=False).compressor, ErrorFeedback)


def test_distributed_optimizer_refuses_what_it_cannot_use():
    """Before MPI starts: an optimizer's name (a traceback about get_config), an unknown algorithm (taken, and
    failing only inside the first training step)."""
    import keras

    import train

    with pytest.raises(TypeError, match="takes a Keras optimizer object"):
        train.DistributedOptimizer("adam")
    with pytest.raises(ValueError, match="unknown allreduce algorithm 'ring'; choose from dense, allgather"):
        train.DistributedOptimizer(keras.optimizers.SGD(0.1), compression="topk:0.1", algorithm="ring")


def test_distributed_optimizer_says_what_it_is():
    """Its repr was `<train.keras_distributed.DistributedOptimizer.<locals>.Distributed object at 0x…>`."""
    import keras

    import train

    optimizer = train.DistributedOptimizer(keras.optimizers.Adam(0.01), compression="qsgd:4", algorithm="allgather",
                                           error_feedback=False)
    assert repr(optimizer) == ("<Distributed Adam: compression qsgd:4, algorithm allgather, error feedback off, "
                               "1 rank(s)>")
    assert isinstance(optimizer, keras.optimizers.Adam) and type(optimizer).__name__ == "Adam"
