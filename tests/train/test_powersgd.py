"""PowerSGD in one process (a 1-rank communicator); several ranks: tests/train/mpi_checks.py."""
import numpy as np
import pytest

from train.allreduce import allreduce
from train.collectives import Communicator
from train.compression import parse_compression
from train.powersgd import Layout, PowerSGD


@pytest.fixture(scope="module")
def comm():
    return Communicator()


def test_layout_compresses_the_matrices_rank_r_shrinks_and_sends_the_rest_whole():
    layout = Layout.of([(200, 800), (800,), (32, 2), (10, 3, 40), (3, 3, 40)], rank=2)
    assert layout.matrices == ((0, 200, 800), (160_864, 10, 120))  # (10 + 120) * 2 rank-2 floats <= 1200 / 2
    # a vector; 32 x 2 and 3 x 120 would not be halved ((3 + 120) * 2 > 360 / 2)
    assert layout.uncompressed == ((160_000, 800), (160_800, 64), (162_064, 360))
    assert layout.size == 160_000 + 800 + 64 + 1200 + 360


def test_a_low_rank_gradient_comes_back_exactly_and_vectors_whole(comm):
    rng = np.random.default_rng(0)
    matrix = (rng.normal(size=(300, 2)) @ rng.normal(size=(2, 500))).astype(np.float32)  # rank 2
    bias = rng.normal(size=40).astype(np.float32)
    x = np.concatenate([matrix.ravel(), bias])
    total = allreduce(comm, x, PowerSGD(2, error_feedback=False), shapes=[(300, 500), (40,)])
    assert np.allclose(total[:150_000], matrix.ravel(), atol=1e-4 * np.abs(matrix).max())
    assert np.array_equal(total[150_000:], bias)
    assert comm.bytes_sent == 0  # one rank sends nothing; bytes with several: mpi_checks.py


def test_error_feedback_keeps_exactly_what_was_not_sent(comm):
    rng = np.random.default_rng(1)
    shapes = [(120, 90), (90,)]
    compressor, previous = PowerSGD(1), np.zeros(120 * 90 + 90, np.float32)
    for _ in range(3):  # the residual of one step is added to the next gradient
        x = rng.normal(size=previous.size).astype(np.float32)
        total = compressor.allreduce(comm, x, shapes)
        assert np.allclose(total + compressor.error, x + previous, atol=1e-5)
        assert not compressor.error[-90:].any()  # the vector went whole
        assert np.linalg.matrix_rank(total[:-90].reshape(120, 90)) == 1
        previous = compressor.error.copy()


def test_warm_started_queries_converge_on_a_fixed_matrix(comm):
    """Power iteration: on the same gradient each step, the rank-1 approximation tends to the best one."""
    rng = np.random.default_rng(2)
    matrix = rng.normal(size=(60, 40)).astype(np.float32)
    u, s, vt = np.linalg.svd(matrix)
    best = s[0] * np.outer(u[:, 0], vt[0])
    compressor = PowerSGD(1, error_feedback=False)
    errors = [np.linalg.norm(compressor.allreduce(comm, matrix.ravel(), [matrix.shape]).reshape(60, 40) - best)
              for _ in range(30)]
    assert errors[-1] < 0.05 * errors[0] and errors[-1] < 1e-2 * np.linalg.norm(best)


def test_saved_state_continues_bit_identically(comm):
    rng = np.random.default_rng(3)
    shapes, steps = [(50, 70), (70,)], [rng.normal(size=50 * 70 + 70).astype(np.float32) for _ in range(3)]
    a = parse_compression("powersgd:2")
    a.allreduce(comm, steps[0], shapes)
    b = parse_compression("powersgd:2")
    b.load_state_dict(a.state_dict())
    for x in steps[1:]:
        assert np.array_equal(a.allreduce(comm, x, shapes), b.allreduce(comm, x, shapes))
    assert np.array_equal(a.error, b.error)


def test_wrong_shapes_and_specs_are_refused(comm):
    compressor = PowerSGD(2)
    x = np.ones(100, np.float32)
    with pytest.raises(ValueError, match="hold 99 values, the gradient 100"):
        compressor.allreduce(comm, x, [(9, 11)])
    with pytest.raises(ValueError, match="pass the shapes"):
        allreduce(comm, x, compressor)
    compressor.allreduce(comm, x, [(10, 10)])
    with pytest.raises(ValueError, match="shapes changed"):
        compressor.allreduce(comm, x, [(20, 5)])
    with pytest.raises(ValueError, match="PowerSGD's rank is a whole number, not 1.5"):
        parse_compression("powersgd:1.5")
    with pytest.raises(ValueError, match="rank is at least 1, not 0"):
        parse_compression("powersgd:0")
    assert parse_compression("powersgd").rank == 2 and not parse_compression("powersgd", False).error_feedback


def test_torch_tensors_stay_on_their_device_and_give_the_host_sums(comm):
    """On the torch backend (GPU machines) the matrices stay on the device; CPU tensors here, the same code."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    shapes, steps = [(80, 60), (60,)], [rng.normal(size=80 * 60 + 60).astype(np.float32) for _ in range(3)]
    host, device = PowerSGD(2), PowerSGD(2)
    for x in steps[:2]:
        expected = host.allreduce(comm, x, shapes)
        got = device.allreduce(comm, torch.from_numpy(x.copy()), shapes)
        assert isinstance(got, torch.Tensor) and np.allclose(got.numpy(), expected, atol=1e-4)
    resumed = PowerSGD(2)
    resumed.load_state_dict(device.state_dict())  # numpy arrays in the checkpoint, tensors again at the next step
    assert np.array_equal(resumed.allreduce(comm, torch.from_numpy(steps[2]), shapes).numpy(),
                          device.allreduce(comm, torch.from_numpy(steps[2]), shapes).numpy())
    with pytest.raises(ValueError, match="another kind"):
        device.allreduce(comm, steps[0], shapes)
