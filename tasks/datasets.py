"""Loaders for the three downstream data sets, checked for row counts and file presence.

Each loader reads the CSVs with the standard library, resolves every row to its ``.ll`` file and
fails with a :class:`~inst2vec.errors.DataNotFoundError` that names what is missing.
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inst2vec.data import data_path
from inst2vec.errors import DataNotFoundError, Inst2vecError

DEVMAP_PLATFORMS = ("amd", "nvidia")
DEVMAP_ROWS = 680
#: The four numeric Grewe et al. features are built from these columns (see :func:`grewe_features`).
DEVMAP_COLUMNS = ("comp", "rational", "mem", "localmem", "coalesced", "atomic", "transfer", "wgsize")
#: The device a platform uses when nothing is predicted (the papers' static mapping).
STATIC_DEVICE = {"amd": "CPU", "nvidia": "GPU"}

COARSENING_PLATFORMS = ("Cypress", "Tahiti", "Fermi", "Kepler")
COARSENING_FACTORS = (1, 2, 4, 8, 16, 32)
COARSENING_KERNELS = 17
PCA_COLUMNS = tuple(f"PCA{i}" for i in range(1, 8))


@dataclass(frozen=True)
class DevmapData:
    """One devmap platform: 680 (kernel, input size) rows."""

    platform: str
    names: np.ndarray  # (n,) benchmark[_dataset] = the .ll file stem
    files: np.ndarray  # (n,) path of each row's kernel IR
    kernels: np.ndarray  # (n,) benchmark name: the group for a kernel-grouped split
    suites: np.ndarray  # (n,) benchmark suite, e.g. "rodinia-3.1"
    features: np.ndarray  # (n, 8) DEVMAP_COLUMNS as floats
    labels: np.ndarray  # (n,) 1 = GPU is faster, 0 = CPU
    runtime_cpu: np.ndarray
    runtime_gpu: np.ndarray

    @property
    def static_runtime(self) -> np.ndarray:
        """Runtime of the static mapping (CPU on AMD, GPU on NVIDIA)."""
        return self.runtime_cpu if STATIC_DEVICE[self.platform] == "CPU" else self.runtime_gpu

    def speedups(self, predicted_gpu: np.ndarray) -> np.ndarray:
        """Per-row speedup of the predicted device over the static mapping."""
        runtime = np.where(np.asarray(predicted_gpu) == 1, self.runtime_gpu, self.runtime_cpu)
        return self.static_runtime / runtime

    def score(self, predicted_gpu: np.ndarray, rows=slice(None)) -> dict[str, float]:
        """Accuracy and mean speedup over the static mapping of a prediction for every row, taken over
        ``rows`` (indices or a mask; default all)."""
        predicted = np.asarray(predicted_gpu)
        return {"accuracy": float(np.mean(predicted[rows] == self.labels[rows])),
                "speedup": float(np.mean(self.speedups(predicted)[rows]))}


@dataclass(frozen=True)
class CoarseningData:
    """One thread-coarsening platform: 17 kernels, joined to their labels by kernel name."""

    platform: str
    kernels: np.ndarray  # (17,) names, alphabetical (the oracle table's order)
    files: np.ndarray  # (17,) kernel IR
    oracle_factor: np.ndarray  # (17,) best factor on this platform
    runtimes: np.ndarray  # (17, 6) runtime per factor in COARSENING_FACTORS, NaN where not measured
    pca: np.ndarray  # (17, 6, 7) Magni et al.'s PCA features per factor, NaN where not measured

    @property
    def labels(self) -> np.ndarray:
        """Class index of the oracle factor (0..5)."""
        return np.array([COARSENING_FACTORS.index(int(f)) for f in self.oracle_factor])

    def clamp(self, kernel: int, factor_class: int) -> int:
        """The predicted class clamped to the largest factor measured for the kernel (the papers' rule)."""
        measured = np.flatnonzero(~np.isnan(self.runtimes[kernel]))
        return int(min(factor_class, measured.max()))

    def speedup(self, kernel: int, factor_class: int) -> float:
        """runtime(factor 1) / runtime(predicted factor, clamped)."""
        row = self.runtimes[kernel]
        return float(row[0] / row[self.clamp(kernel, factor_class)])


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _check_rows(path: Path, rows: list, expected: int) -> None:
    if len(rows) != expected:
        raise Inst2vecError(f"{path}: {len(rows)} rows, expected {expected} (a truncated or different copy?)")


def _kernel_files(data_root: str | os.PathLike, dataset: str, stems: list[str], table: Path) -> np.ndarray:
    """``DATA_ROOT/<dataset>/kernels_ir/<stem>.ll`` for each stem, all checked to exist."""
    ir_dir = data_path(data_root, dataset, "kernels_ir")
    files = [ir_dir / f"{stem}.ll" for stem in stems]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise DataNotFoundError(f"{table}: {len(missing)} IR files missing, e.g. {missing[0]}")
    return np.array([str(f) for f in files])


def load_devmap(platform: str, data_root: str | os.PathLike) -> DevmapData:
    """The devmap rows of ``platform`` ("amd" or "nvidia") with their kernel IR files."""
    if platform not in DEVMAP_PLATFORMS:
        raise Inst2vecError(f"unknown devmap platform {platform!r}; choose from {', '.join(DEVMAP_PLATFORMS)}")
    table = data_path(data_root, "devmap", f"cgo17-{platform}.csv")
    rows = _read_csv(table)
    _check_rows(table, rows, DEVMAP_ROWS)
    # NPB kernels have one IR file per data set class; the others one per kernel.
    names = [r["benchmark"] + (f"_{r['dataset']}" if r["benchmark"].startswith("npb-") else "") for r in rows]
    return DevmapData(
        platform=platform,
        names=np.array(names),
        files=_kernel_files(data_root, "devmap", names, table),
        kernels=np.array([r["benchmark"] for r in rows]),
        suites=np.array([r["benchmark"].split("-")[0] + "-" + r["benchmark"].split("-")[1] for r in rows]),
        features=np.array([[float(r[c]) for c in DEVMAP_COLUMNS] for r in rows]),
        labels=np.array([int(r["oracle"] == "GPU") for r in rows]),
        runtime_cpu=np.array([float(r["runtime_cpu"]) for r in rows]),
        runtime_gpu=np.array([float(r["runtime_gpu"]) for r in rows]),
    )


def grewe_features(features: np.ndarray) -> np.ndarray:
    """Grewe et al.'s four combined features from the raw devmap columns (DeepTune's definition).

    F1 = transfer / (comp + mem), F2 = coalesced / mem, F3 = (localmem / mem) * wgsize, F4 = comp / mem.
    """
    comp, _, mem, localmem, coalesced, _, transfer, wgsize = features.T
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.stack([transfer / (comp + mem), coalesced / mem, localmem / mem * wgsize, comp / mem], axis=1)
    return np.nan_to_num(f, nan=0.0, posinf=0.0, neginf=0.0)


def load_threadcoarsening(platform: str, data_root: str | os.PathLike) -> CoarseningData:
    """The 17 kernels of ``platform`` with labels, runtimes and PCA features, joined by kernel name.

    (The original and DeepTune fed the 17 oracle rows' labels with sequences taken from the first
    rows of the 89-row runtimes table, i.e. of other kernels; here every input is looked up by name.)
    """
    if platform not in COARSENING_PLATFORMS:
        raise Inst2vecError(f"unknown coarsening platform {platform!r}; choose from "
                            f"{', '.join(COARSENING_PLATFORMS)}")
    oracle_table = data_path(data_root, "threadcoarsening", "pact-2014-oracles.csv")
    runtime_table = data_path(data_root, "threadcoarsening", "pact-2014-runtimes.csv")
    oracles = _read_csv(oracle_table)
    _check_rows(oracle_table, oracles, COARSENING_KERNELS)
    kernels = sorted(r["kernel"] for r in oracles)
    by_kernel = {r["kernel"]: r for r in oracles}
    runtimes = np.full((len(kernels), len(COARSENING_FACTORS)), np.nan)
    pca = np.full((len(kernels), len(COARSENING_FACTORS), len(PCA_COLUMNS)), np.nan)
    position = {k: i for i, k in enumerate(kernels)}
    for row in _read_csv(runtime_table):
        if row["kernel"] not in position:
            raise Inst2vecError(f"{runtime_table}: kernel {row['kernel']!r} has no oracle row in {oracle_table}")
        i, j = position[row["kernel"]], COARSENING_FACTORS.index(int(float(row["cf"])))
        runtimes[i, j] = float(row[f"runtime_{platform}"] or "nan")  # empty: not measured
        pca[i, j] = [float(row[c]) for c in PCA_COLUMNS]
    unmeasured = [k for k, i in position.items() if np.isnan(runtimes[i, 0])]
    if unmeasured:
        raise Inst2vecError(f"{runtime_table}: no factor-1 runtime for {', '.join(unmeasured)}")
    return CoarseningData(
        platform=platform,
        kernels=np.array(kernels),
        files=_kernel_files(data_root, "threadcoarsening", kernels, oracle_table),
        oracle_factor=np.array([int(float(by_kernel[k][f"cf_{platform}"])) for k in kernels]),
        runtimes=runtimes,
        pca=pca,
    )


@dataclass(frozen=True)
class Poj104Data:
    """POJ-104 programs compiled to IR: one file per program (one variant), class labels 0..103."""

    files: np.ndarray
    labels: np.ndarray
    programs: np.ndarray  # "class/n": the source program of each file
    classes: tuple[str, ...]  # label -> class folder name


def load_poj104_ir(ir_dir: str | os.PathLike, programs: set[str] | None = None) -> Poj104Data:
    """Index the IR of a corpus built from POJ-104 (``ir_dir/<...>/<class>/<n>.ll`` per program),
    only the ``programs`` ("class/n") given, if given."""
    files = sorted(f for f in Path(ir_dir).rglob("*.ll")
                   if programs is None or f"{f.parent.name}/{f.name.split('.')[0]}" in programs)
    if not files:
        raise DataNotFoundError(f"{ir_dir}: no .ll files (build them with `inst2vec task classifyapp`, "
                                f"which compiles POJ-104 with the corpus builder)")
    classes = sorted({f.parent.name for f in files}, key=lambda c: int(c) if c.isdigit() else c)
    index = {c: i for i, c in enumerate(classes)}
    return Poj104Data(files=np.array([str(f) for f in files]),
                      labels=np.array([index[f.parent.name] for f in files]),
                      programs=np.array([f"{f.parent.name}/{f.name.split('.')[0]}" for f in files]),
                      classes=tuple(classes))
