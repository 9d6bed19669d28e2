"""The pair merge and the reused dense output of the sparse allreduce, without MPI."""
import numpy as np

from train.allreduce import DenseOutput
from train.collectives import Stream, sum_pairs


def test_sum_pairs_matches_a_float64_sum_in_list_order():
    """Overlapping sorted lists from 4 ranks: same support and the same bits as bincount in float64."""
    rng = np.random.default_rng(0)
    size = 100_000
    indices = [np.sort(rng.choice(size, 5_000, replace=False)).astype(np.int32) for _ in range(4)]
    values = [rng.standard_normal(5_000).astype(np.float32) for _ in range(4)]
    merged = sum_pairs(size, indices, values)
    expected = np.bincount(np.concatenate(indices), weights=np.concatenate(values), minlength=size)
    support = np.flatnonzero(np.bincount(np.concatenate(indices), minlength=size))
    assert not merged.dense
    np.testing.assert_array_equal(merged.indices, support)
    np.testing.assert_array_equal(merged.values, expected[support].astype(np.float32))


def test_sum_pairs_of_nothing_is_empty():
    merged = sum_pairs(10, [np.zeros(0, np.int32)], [np.zeros(0, np.float32)])
    assert len(merged.indices) == 0 and len(merged.values) == 0


def test_a_reused_dense_output_equals_a_fresh_vector_every_time():
    """Sparse sums with other supports (small and large), an empty one, a dense one, a change of size."""
    rng = np.random.default_rng(0)

    def sparse(size, count):
        indices = np.sort(rng.choice(size, count, replace=False)).astype(np.int32)
        return Stream.from_pairs(size, indices, rng.normal(size=count))

    output = DenseOutput()
    size = 100_000  # cleared one by one below size / DenseOutput.FILL_ABOVE = 3,125 entries, filled above
    dense = Stream(size, rng.normal(size=size).astype(np.float32))
    sums = [sparse(size, 50), sparse(size, 80), sparse(size, 0), dense, sparse(size, 30), sparse(size, 5_000),
            sparse(size, 40), sparse(500, 20), sparse(500, 499)]
    for total in sums:
        assert np.array_equal(output.write(total), total.to_dense())
