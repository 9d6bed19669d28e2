"""Numpy work in one process before and after a Keras fit on TensorFlow: devmap's boosted trees (AMD, published
embeddings) fitted three times before and three times after a small ncc model trains once; prints one JSON line.

Usage: python scripts/bench_tf_malloc.py [DATA_ROOT]

Keras feeds ``model.fit`` through a ``tf.data`` generator, and TensorFlow then sets glibc's mmap threshold to
128 KiB for the rest of the process (``ApplyPython311MemoryPatch``), which ends glibc's dynamic threshold: each
allocation above it is fresh memory from the system. ``seconds_*`` are the medians of the fits, ``page_faults_*``
the minor page faults of the process during one fit.
"""
import json
import os
import resource
import sys
import time

os.environ["KERAS_BACKEND"] = "tensorflow"

import numpy as np

import inst2vec
from inst2vec.data import data_root
from tasks import devmap, ncc
from tasks.datasets import load_devmap
from script_help import exit_with_usage_on_help


def timed_fits(x: np.ndarray, labels: np.ndarray) -> tuple[float, int]:
    """The median seconds of three fits of ``boost`` on all rows, and the page faults of the last one."""
    seconds = []
    for _ in range(3):
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        start = time.perf_counter()
        devmap.fit_boost(x, labels, 0)
        seconds.append(time.perf_counter() - start)
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    return float(np.median(seconds)), faults


def small_keras_fit() -> None:
    """One epoch of a small ncc model through Keras's generator input, as the tasks train it."""
    rng = np.random.default_rng(0)
    model = ncc.build_ncc_model(3, dim=8, aux_inputs=2, lstm_units=8, dense_units=4)
    sequences = [rng.integers(0, 10, 40) for _ in range(40)]
    vectors = rng.normal(size=(10, 8)).astype("float32")
    labels, aux = rng.integers(0, 3, 40), rng.normal(size=(40, 2))
    model.fit(ncc.make_batches(sequences, vectors, 0, labels, aux, 8, 64, seed=0, two_outputs=True), epochs=1,
              verbose=0)


def main() -> None:
    root = sys.argv[1] if len(sys.argv) > 1 else data_root()
    data = load_devmap("amd", root)
    x = devmap.boost_inputs(data, inst2vec.load("published", root))
    before, faults_before = timed_fits(x, data.labels)
    small_keras_fit()
    after, faults_after = timed_fits(x, data.labels)
    print(json.dumps({"seconds_before": round(before, 3), "seconds_after": round(after, 3),
                      "ratio": round(after / before, 2), "page_faults_before": faults_before,
                      "page_faults_after": faults_after}))


if __name__ == "__main__":
    exit_with_usage_on_help(__doc__)
    main()
