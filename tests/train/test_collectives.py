"""The pair merge of the sparse allreduce, without MPI."""
import numpy as np

from train.collectives import sum_pairs


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
