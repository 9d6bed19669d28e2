"""The host steps of a top-k allreduce, numpy (ours) beside compiled loops (numba) and a searchsorted merge.

The measurement behind "Tried and not adopted: compiled loops" in docs/distributed.md. numba is not a dependency
of the project; install it beside it to run this (numba 0.68.1 runs on the project's llvmlite 0.50)::

    .venv/bin/pip install --target /tmp/nb numba==0.68.1
    PYTHONPATH=/tmp/nb .venv/bin/python scripts/bench_host_kernels.py

One process, best of ``--repeats``, milliseconds, each line with our numpy step first:
- select: the 1 % of 25 M normal floats above a threshold, our piecewise numpy (``magnitude_at_least``) beside a
  fused numba loop (a branch per entry) and one that first checks groups of 8 by their largest |x|; with
  ``np.sum`` and numba's max |x| and count of |x| >= t, passes over the vector for scale;
- merge: 4 sorted lists of 62.5 k (index, value) pairs summed, ``sum_pairs`` (a stable argsort) beside a numba
  k-way merge and a numpy merge by ``searchsorted``; every result is checked equal to ``sum_pairs``'s;
- output: 1 M sorted pairs written into 25 M floats, fill and scatter beside a numba loop that clears the last
  support and writes the new one.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

try:
    import numba
except ImportError:
    raise SystemExit("scripts/bench_host_kernels.py needs numba, which is no dependency of the project: "
                     ".venv/bin/pip install --target /tmp/nb numba==0.68.1, "
                     "then run it with PYTHONPATH=/tmp/nb") from None

from train.collectives import sum_pairs
from train.compression import magnitude_at_least

SIZE, DENSITY = 25_000_000, 0.01


@numba.njit(cache=True, boundscheck=False)
def select_fused(x, threshold, indices, values):
    count = 0
    for i in range(x.size):
        if abs(x[i]) >= threshold:
            if count < indices.size:
                indices[count], values[count] = i, x[i]
            count += 1
    return count


@numba.njit(cache=True, fastmath=True, boundscheck=False)
def select_checked(x, threshold, indices, values, group):
    count = 0
    for base in range(0, x.size, group):
        end = min(base + group, x.size)
        largest = np.float32(0.0)
        for j in range(base, end):
            largest = max(largest, abs(x[j]))
        if largest >= threshold and count < indices.size:
            found = select_fused(x[base:end], threshold, indices[count:], values[count:])
            indices[count:count + found] += base
            count += found
    return count


@numba.njit(cache=True, fastmath=True, boundscheck=False)
def largest_magnitude(x):
    largest = np.float32(0.0)
    for i in range(x.size):
        largest = max(largest, abs(x[i]))
    return largest


@numba.njit(cache=True, fastmath=True, boundscheck=False)
def count_at_least(x, threshold):
    count = 0
    for i in range(x.size):
        count += abs(x[i]) >= threshold
    return count


@numba.njit(cache=True, boundscheck=False)
def _k_way_merge(indices, values, starts, out_indices, out_values):
    lists = starts.size - 1
    position = starts[:-1].copy()
    count = 0
    while True:
        smallest, found = np.int64(1) << 62, False
        for r in range(lists):
            if position[r] < starts[r + 1] and indices[position[r]] < smallest:
                smallest, found = indices[position[r]], True
        if not found:
            return count
        total = 0.0  # float64 in list order, as sum_pairs sums
        for r in range(lists):
            if position[r] < starts[r + 1] and indices[position[r]] == smallest:
                total += values[position[r]]
                position[r] += 1
        out_indices[count], out_values[count] = smallest, total
        count += 1


def merge_k_way(indices: list[np.ndarray], values: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    starts = np.cumsum([0] + [len(i) for i in indices]).astype(np.int64)
    out_indices, out_values = np.empty(starts[-1], np.int32), np.empty(starts[-1], np.float32)
    count = _k_way_merge(np.concatenate(indices), np.concatenate(values), starts, out_indices, out_values)
    return out_indices[:count], out_values[:count]


def merge_searchsorted(indices: list[np.ndarray], values: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Merge the lists two by two (each list's places in the other by ``searchsorted``), then sum equal indices."""
    lists = list(zip(indices, values))
    while len(lists) > 1:
        merged = []
        for (a, av), (b, bv) in zip(lists[::2], lists[1::2]):
            out, out_values = np.empty(len(a) + len(b), a.dtype), np.empty(len(a) + len(b), av.dtype)
            at_a = np.arange(len(a)) + np.searchsorted(b, a, "left")
            at_b = np.arange(len(b)) + np.searchsorted(a, b, "right")
            out[at_a], out_values[at_a], out[at_b], out_values[at_b] = a, av, b, bv
            merged.append((out, out_values))
        lists = merged + lists[len(merged) * 2:]
    merged_indices, merged_values = lists[0]
    starts = np.flatnonzero(np.concatenate(([True], merged_indices[1:] != merged_indices[:-1])))
    return merged_indices[starts], np.add.reduceat(merged_values, starts, dtype=np.float64).astype(np.float32)


@numba.njit(cache=True, boundscheck=False)
def rewrite_output(output, last_support, indices, values):
    for i in last_support:
        output[i] = 0
    for j in range(indices.size):
        output[indices[j]] = values[j]


def best_ms(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    repeats = parser.parse_args().repeats
    rng = np.random.default_rng(0)
    x = rng.normal(size=SIZE).astype(np.float32)
    threshold = np.float32(np.quantile(np.abs(x[:100_000]), 1 - DENSITY))
    indices, values = np.empty(2 * int(DENSITY * SIZE), np.int32), np.empty(2 * int(DENSITY * SIZE), np.float32)
    expected = magnitude_at_least(x, threshold)
    for name, select in (("fused", lambda: select_fused(x, threshold, indices, values)),
                         ("checked by 8", lambda: select_checked(x, threshold, indices, values, 8))):
        assert np.array_equal(indices[:select()], expected), name  # compiles it, too
    largest_magnitude(x), count_at_least(x, threshold)
    print(f"select: numpy piecewise {best_ms(lambda: magnitude_at_least(x, threshold), repeats):.1f}, "
          f"numba fused {best_ms(lambda: select_fused(x, threshold, indices, values), repeats):.1f}, "
          f"numba checked by 8 {best_ms(lambda: select_checked(x, threshold, indices, values, 8), repeats):.1f}; "
          f"passes: np.sum {best_ms(lambda: np.sum(x), repeats):.1f}, "
          f"numba max|x| {best_ms(lambda: largest_magnitude(x), repeats):.1f}, "
          f"numba count {best_ms(lambda: count_at_least(x, threshold), repeats):.1f} ms")

    lists = [np.sort(rng.choice(SIZE // 4, 62_500, replace=False)).astype(np.int32) for _ in range(4)]
    pair_values = [rng.normal(size=62_500).astype(np.float32) for _ in range(4)]
    ours = sum_pairs(SIZE // 4, lists, pair_values)
    for name, merge in (("k-way", merge_k_way), ("searchsorted", merge_searchsorted)):
        merged_indices, merged_values = merge(lists, pair_values)
        assert np.array_equal(merged_indices, ours.indices) and np.array_equal(merged_values, ours.values), name
    print(f"merge 4 x 62.5 k: sum_pairs {best_ms(lambda: sum_pairs(SIZE // 4, lists, pair_values), repeats):.1f}, "
          f"numba k-way {best_ms(lambda: merge_k_way(lists, pair_values), repeats):.1f}, "
          f"numpy searchsorted {best_ms(lambda: merge_searchsorted(lists, pair_values), repeats):.1f} ms")

    output = np.zeros(SIZE, np.float32)
    last = np.sort(rng.choice(SIZE, 1_000_000, replace=False)).astype(np.int32)
    new = np.sort(rng.choice(SIZE, 1_000_000, replace=False)).astype(np.int32)
    new_values = rng.normal(size=new.size).astype(np.float32)
    rewrite_output(output, last, new, new_values)

    def fill_and_scatter():
        output.fill(0)
        output[new] = new_values

    print(f"output 1 M pairs: fill + scatter {best_ms(fill_and_scatter, repeats):.1f}, "
          f"numba clear + write {best_ms(lambda: rewrite_output(output, last, new, new_values), repeats):.1f}, "
          f"fill alone {best_ms(lambda: output.fill(0), repeats):.1f} ms")


if __name__ == "__main__":
    main()
