"""Optimal thread-coarsening factor (Magni et al. PACT'14 data), the ncc protocol with its inputs fixed.

Per platform, leave-one-out over the 17 kernels; the predicted factor is clamped to the largest one
measured for the kernel; speedup = runtime(factor 1) / runtime(predicted factor), mean over kernels.
Every input is joined to its label by kernel name (the original fed other kernels' sequences).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inst2vec.batch import progress_bar
from inst2vec.embeddings import Embeddings
from inst2vec.errors import Inst2vecError
from tasks.datasets import COARSENING_FACTORS, CoarseningData
from tasks.encoding import encode_files
from tasks.learners import FoldInputs, TrainingSettings, fit_and_save_ncc, fit_predict_ncc
from tasks.model_files import ArrayModel
from tasks.results import file_label, summarize

MODELS = ("static", "constant", "oracle", "magni", "ncc", "neighbours")
NEIGHBOURS = 3


def log_speedup_curves(data: CoarseningData) -> np.ndarray:
    """log(runtime(1) / runtime(f)) per kernel and factor; unmeasured factors take the largest measured one's."""
    curves = np.log(data.runtimes[:, :1] / data.runtimes)
    for i in range(len(curves)):
        measured = np.flatnonzero(~np.isnan(curves[i]))
        curves[i, measured.max() + 1:] = curves[i, measured.max()]
    return curves


def magni_predict(data: CoarseningData, train: np.ndarray, kernel: int) -> int:
    """Magni et al.'s cascade: from factor 1, coarsen further while the nearest training kernel
    (Euclidean, PCA features of the current factor) ran faster at the next factor."""
    level = 0
    while level + 1 < len(COARSENING_FACTORS) and not np.isnan(data.pca[kernel, level]).any():
        candidates = [t for t in train if not np.isnan(data.pca[t, level]).any()]
        if not candidates:
            break
        distances = [np.linalg.norm(data.pca[t, level] - data.pca[kernel, level]) for t in candidates]
        nearest = candidates[int(np.argmin(distances))]
        runtimes = data.runtimes[nearest]
        if np.isnan(runtimes[level + 1]) or runtimes[level + 1] >= runtimes[level]:
            break
        level += 1
    return level


@dataclass
class NeighboursModel(ArrayModel):
    """Ours: the factor with the best mean log-speedup over the ``k`` training kernels whose flow-pooled program
    vectors are closest (cosine) to a kernel's."""

    KIND = "neighbours"
    ARRAYS = ("vectors", "curves", "k")

    vectors: np.ndarray  # (kernels, dim) the training kernels' pooled vectors, unit length
    curves: np.ndarray  # (kernels, factors) their log-speedup curves (:func:`log_speedup_curves`)
    k: np.ndarray  # () neighbours to average
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fit(cls, pooled: np.ndarray, curves: np.ndarray, k: int = NEIGHBOURS,
            metadata: dict[str, Any] | None = None) -> "NeighboursModel":
        """Keep the training kernels' normalised vectors and curves."""
        return cls(_unit_rows(pooled), np.asarray(curves, np.float64), np.array(k), dict(metadata or {}))

    def problem(self) -> str | None:
        """Checks that the saved arrays fit together (:meth:`predict` can use them)."""
        if self.vectors.ndim != 2 or self.curves.ndim != 2 or len(self.vectors) != len(self.curves):
            return f"its vectors {self.vectors.shape} and curves {self.curves.shape} do not match"
        if self.k.shape != () or not np.issubdtype(self.k.dtype, np.integer) or not 1 <= self.k <= len(self.vectors):
            return f"k = {self.k} neighbours of {len(self.vectors)} kernels"
        return None

    def label_numbers(self) -> np.ndarray:
        return np.arange(self.curves.shape[1])

    def predict(self, pooled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per kernel (row of ``pooled``), the index of the predicted factor and the neighbours' mean log-speedup
        there."""
        queries = _unit_rows(pooled)
        if queries.shape[1] != self.vectors.shape[1]:
            raise Inst2vecError(f"this model takes pooled vectors of {self.vectors.shape[1]} numbers, not "
                                f"{queries.shape[1]}")
        factors, gains = [], []
        for query in queries:
            nearest = np.argsort(-(self.vectors @ query), kind="stable")[:int(self.k)]
            mean_curve = self.curves[nearest].mean(axis=0)
            factors.append(int(np.argmax(mean_curve)))
            gains.append(float(mean_curve.max()))
        return np.array(factors, dtype=int), np.array(gains)


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (a zero row stays zero)."""
    vectors = np.atleast_2d(np.asarray(vectors))
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def run(data: CoarseningData, model: str, embeddings: Embeddings | None, embeddings_name: str, seeds: list[int],
        settings: TrainingSettings, jobs: int = 1, progress: bool | None = None) -> dict[str, Any]:
    """Leave-one-out over the kernels for every seed; returns the result object. ``progress``: a bar over the
    folds of every seed on stderr (default: when stderr is a terminal)."""
    if model not in MODELS:
        raise Inst2vecError(f"unknown threadcoarsening model {model!r}; choose from {', '.join(MODELS)}")
    started = time.perf_counter()
    n = len(data.kernels)
    encoded = encode_files(list(data.files), embeddings, jobs=jobs, progress=progress) \
        if model in ("ncc", "neighbours") else None
    curves = log_speedup_curves(data)
    pooled = encoded.pooled() if encoded is not None else None
    per_seed = []
    with progress_bar(len(seeds) * n, f"threadcoarsening {data.platform} {model}", "fold", progress) as bar:
        for seed in seeds:
            predicted = np.zeros(n, dtype=int)
            folds = []
            for kernel in range(n):
                train, test = np.delete(np.arange(n), kernel), np.array([kernel])
                fold_curves: dict = {}
                if model == "static":
                    predicted[kernel] = 0
                elif model == "constant":  # what the code adds must beat this: one factor for every kernel
                    predicted[kernel] = int(np.argmax(curves[train].mean(axis=0)))
                elif model == "oracle":
                    predicted[kernel] = data.labels[kernel]
                elif model == "magni":
                    predicted[kernel] = magni_predict(data, train, kernel)
                elif model == "neighbours":
                    predicted[kernel] = NeighboursModel.fit(pooled[train], curves[train]).predict(pooled[test])[0][0]
                else:
                    inputs = FoldInputs(encoded, np.arange(n), data.labels, len(COARSENING_FACTORS))
                    run_settings = settings.for_run(f"threadcoarsening-{data.platform}-seed{seed}-fold{kernel}")
                    probabilities, fold_curves = fit_predict_ncc(inputs, train, test, seed, run_settings)
                    predicted[kernel] = int(probabilities.argmax(axis=1)[0])
                folds.append({"kernel": str(data.kernels[kernel]),
                              "predicted_factor": COARSENING_FACTORS[data.clamp(kernel, predicted[kernel])],
                              "oracle_factor": int(data.oracle_factor[kernel]),
                              "speedup": data.speedup(kernel, predicted[kernel]),
                              **({"curves": fold_curves} if fold_curves else {})})
                bar.update()
            speedups = np.array([f["speedup"] for f in folds])
            correct = np.array([f["predicted_factor"] == f["oracle_factor"] for f in folds])
            per_seed.append({"seed": seed, "accuracy": float(correct.mean()), "speedup": float(speedups.mean()),
                             "folds": folds})
    protocol = {"split": "leave-one-kernel-out", "kernels": n, "factors": list(COARSENING_FACTORS),
                "speedup": "mean over kernels of runtime(factor 1) / runtime(predicted factor, clamped to "
                           "the largest measured)",
                "inputs_joined_by": "kernel name",
                **settings.protocol(model)}
    oracle = float(np.mean([data.speedup(i, data.labels[i]) for i in range(n)]))
    return summarize("threadcoarsening", data.platform, model, embeddings_name, per_seed, protocol, started,
                     oracle_speedup=oracle)


def save_full_model(data: CoarseningData, embeddings: Embeddings, embeddings_name: str, settings: TrainingSettings,
                    out_dir: str, model: str = "ncc") -> str:
    """Train ``model`` (``ncc`` or ``neighbours``) on all 17 kernels of the platform and save it for
    ``inst2vec predict``."""
    encoded = encode_files(list(data.files), embeddings)
    metadata = {"task": "threadcoarsening", "platform": data.platform, "model": model, "embeddings": embeddings_name,
                "labels": [f"coarsening factor {f}" for f in COARSENING_FACTORS]}
    if model == "neighbours":
        path = f"{out_dir}/threadcoarsening-{data.platform}-neighbours-{file_label(embeddings_name)}.npz"
        NeighboursModel.fit(encoded.pooled(), log_speedup_curves(data), metadata=metadata).save(path)
        return path
    if model != "ncc":
        raise Inst2vecError(f"threadcoarsening {model} models cannot be saved; ncc and neighbours can")
    inputs = FoldInputs(encoded, np.arange(len(data.kernels)), data.labels, len(COARSENING_FACTORS))
    path = f"{out_dir}/threadcoarsening-{data.platform}-ncc-{file_label(embeddings_name)}.keras"
    return fit_and_save_ncc(inputs, settings, path, metadata)
