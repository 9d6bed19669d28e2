"""Loaders for the three downstream data sets, checked for row counts and file presence.

Each loader reads the CSVs with the standard library, checks every field it uses (a damaged copy is refused with
``file:line``, the column and the value), resolves every row to its ``.ll`` file and fails with a
:class:`~inst2vec.errors.DataNotFoundError` that names what is missing.
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


def platform_name(task: str, platform: str, platforms: tuple[str, ...]) -> str:
    """``platform`` as the data set spells it (any case accepted: ``fermi`` is ``Fermi``), or an error that lists
    ``platforms``."""
    by_lower_case = {name.lower(): name for name in platforms}
    if not isinstance(platform, str) or platform.strip().lower() not in by_lower_case:
        raise Inst2vecError(f"unknown {task} platform {platform!r}; choose from {', '.join(platforms)}")
    return by_lower_case[platform.strip().lower()]


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

    def __repr__(self) -> str:  # the dataclass's own would print all 680 rows of every column
        return (f"DevmapData<{self.platform}: {len(self.labels)} rows, {len(np.unique(self.kernels))} kernels, "
                f"{len(np.unique(self.suites))} suites, GPU best in {int(self.labels.sum())}>")

    @property
    def static_runtime(self) -> np.ndarray:
        """Runtime of the static mapping (CPU on AMD, GPU on NVIDIA)."""
        return self.runtime_cpu if STATIC_DEVICE[self.platform] == "CPU" else self.runtime_gpu

    def speedups(self, predicted_gpu: np.ndarray) -> np.ndarray:
        """Per-row speedup of the predicted device over the static mapping."""
        runtime = np.where(np.asarray(predicted_gpu) == 1, self.runtime_gpu, self.runtime_cpu)
        return self.static_runtime / runtime

    def score(self, predicted_gpu: np.ndarray, rows: slice | np.ndarray = slice(None)) -> dict[str, float]:
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

    def __repr__(self) -> str:
        return f"CoarseningData<{self.platform}: {len(self.kernels)} kernels>"

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


class _Table:
    """A data set's CSV table: its rows, the line each starts on, and readers of its fields that refuse a value
    out of place with ``file:line``, the column and the value (a damaged or hand-edited copy)."""

    def __init__(self, path: Path, columns: tuple[str, ...], expected_rows: int | None = None):
        self.path = path
        self.rows: list[dict[str, str | None]] = []
        self.lines: list[int] = []
        try:
            with open(path, newline="", encoding="utf-8") as f:
                reader = csv.reader(f)
                fields = next(reader, [])
                start = reader.line_num + 1
                for values in reader:
                    if values:  # not a blank line
                        self.rows.append({name: values[k] if k < len(values) else None
                                          for k, name in enumerate(fields)})
                        self.lines.append(start)
                    start = reader.line_num + 1
        except UnicodeDecodeError as err:
            raise Inst2vecError(f"{path}: not a readable CSV table ({err})") from err
        except csv.Error as err:
            raise Inst2vecError(f"{path}:{reader.line_num}: not a readable CSV table ({err})") from err
        if not fields:
            raise Inst2vecError(f"{path}: empty, no header line")
        missing = [c for c in columns if c not in fields]
        if missing:
            raise Inst2vecError(f"{path}: no column {', '.join(missing)} in its header line")
        if expected_rows is not None and len(self.rows) != expected_rows:
            raise Inst2vecError(f"{path}: {len(self.rows)} rows, expected {expected_rows} (a truncated or different "
                                "copy?)")

    def __len__(self) -> int:
        return len(self.rows)

    def _missing(self, i: int, column: str) -> None:
        if self.rows[i][column] is None:
            raise Inst2vecError(f"{self.path}:{self.lines[i]}: no {column}: the row has fewer fields than the header")

    def text(self, i: int, column: str, allowed: tuple[str, ...] | None = None) -> str:
        """Row ``i``'s ``column``: not empty, and one of ``allowed`` if given."""
        self._missing(i, column)
        value = self.rows[i][column]
        if not value or (allowed is not None and value not in allowed):
            expected = f"one of {', '.join(allowed)}" if allowed else "a name"
            raise Inst2vecError(f"{self.path}:{self.lines[i]}: {column} is {value!r}, not {expected}")
        return value

    def number(self, i: int, column: str, minimum: float = -np.inf, positive: bool = False,
               empty_is_nan: bool = False) -> float:
        """Row ``i``'s ``column`` as a finite float >= ``minimum`` (> 0 if ``positive``); an empty field is NaN
        if ``empty_is_nan`` (a value not measured)."""
        text = self.rows[i][column]
        self._missing(i, column)
        if empty_is_nan and not text:
            return float("nan")
        try:
            value = float(text)
        except ValueError:
            value = None
        problem = ("not a number" if value is None else "not finite" if not np.isfinite(value)
                   else "not above 0" if positive and value <= 0 else f"below {minimum:g}" if value < minimum else "")
        if problem:
            raise Inst2vecError(f"{self.path}:{self.lines[i]}: {column} is {text!r}, {problem}")
        return value

    def numbers(self, column: str, **checks) -> np.ndarray:
        """:meth:`number` of every row."""
        return np.array([self.number(i, column, **checks) for i in range(len(self.rows))])

    def factor(self, i: int, column: str) -> int:
        """Row ``i``'s ``column`` as one of the coarsening factors ("16" or "16.0")."""
        value = self.number(i, column)
        if value not in COARSENING_FACTORS:
            raise Inst2vecError(f"{self.path}:{self.lines[i]}: {column} is {self.rows[i][column]!r}, not a "
                                f"coarsening factor ({', '.join(map(str, COARSENING_FACTORS))})")
        return int(value)


def _kernel_files(data_root: str | os.PathLike, dataset: str, stems: list[str], table: Path) -> np.ndarray:
    """``DATA_ROOT/<dataset>/kernels_ir/<stem>.ll`` for each stem, all checked to exist."""
    ir_dir = data_path(data_root, dataset, "kernels_ir")
    files = [ir_dir / f"{stem}.ll" for stem in stems]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise DataNotFoundError(f"{table}: {len(missing)} IR files missing, e.g. {missing[0]}")
    return np.array([str(f) for f in files])


def load_devmap(platform: str, data_root: str | os.PathLike) -> DevmapData:
    """The devmap rows of ``platform`` ("amd" or "nvidia", any case) with their kernel IR files."""
    platform = platform_name("devmap", platform, DEVMAP_PLATFORMS)
    path = data_path(data_root, "devmap", f"cgo17-{platform}.csv")
    table = _Table(path, ("benchmark", "dataset", "oracle", "runtime_cpu", "runtime_gpu") + DEVMAP_COLUMNS,
                   DEVMAP_ROWS)
    benchmarks = [table.text(i, "benchmark") for i in range(len(table))]
    # NPB kernels have one IR file per data set class; the others one per kernel.
    names = [b + (f"_{table.text(i, 'dataset')}" if b.startswith("npb-") else "") for i, b in enumerate(benchmarks)]
    labels = np.array([int(table.text(i, "oracle", ("CPU", "GPU")) == "GPU") for i in range(len(table))])
    runtime_cpu, runtime_gpu = table.numbers("runtime_cpu", positive=True), table.numbers("runtime_gpu", positive=True)
    slower = np.flatnonzero(np.where(labels == 1, runtime_gpu > runtime_cpu, runtime_cpu > runtime_gpu))
    if slower.size:  # the oracle is the faster device in every row of the published tables
        i = slower[0]
        raise Inst2vecError(f"{path}:{table.lines[i]}: oracle is {table.rows[i]['oracle']}, but it ran slower "
                            f"(runtime_cpu {runtime_cpu[i]:g}, runtime_gpu {runtime_gpu[i]:g}); "
                            f"{slower.size} such row(s): a damaged or different copy?")
    return DevmapData(
        platform=platform,
        names=np.array(names),
        files=_kernel_files(data_root, "devmap", names, path),
        kernels=np.array(benchmarks),
        suites=np.array(["-".join(b.split("-")[:2]) for b in benchmarks]),
        features=np.stack([table.numbers(c, minimum=0) for c in DEVMAP_COLUMNS], axis=1),
        labels=labels,
        runtime_cpu=runtime_cpu,
        runtime_gpu=runtime_gpu,
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
    platform = platform_name("threadcoarsening", platform, COARSENING_PLATFORMS)
    oracle_path = data_path(data_root, "threadcoarsening", "pact-2014-oracles.csv")
    runtime_path = data_path(data_root, "threadcoarsening", "pact-2014-runtimes.csv")
    oracles = _Table(oracle_path, ("kernel", f"cf_{platform}"), COARSENING_KERNELS)
    row_of = {}
    for i in range(len(oracles)):
        kernel = oracles.text(i, "kernel")
        if kernel in row_of:
            raise Inst2vecError(f"{oracle_path}:{oracles.lines[i]}: kernel {kernel!r} again (first on line "
                                f"{oracles.lines[row_of[kernel]]})")
        row_of[kernel] = i
    kernels = sorted(row_of)
    runtimes = np.full((len(kernels), len(COARSENING_FACTORS)), np.nan)
    pca = np.full((len(kernels), len(COARSENING_FACTORS), len(PCA_COLUMNS)), np.nan)
    position = {k: i for i, k in enumerate(kernels)}
    table = _Table(runtime_path, ("kernel", "cf", f"runtime_{platform}") + PCA_COLUMNS)
    seen: dict[tuple[int, int], int] = {}
    for row in range(len(table)):
        kernel = table.text(row, "kernel")
        if kernel not in position:
            raise Inst2vecError(f"{runtime_path}:{table.lines[row]}: kernel {kernel!r} has no oracle row in "
                                f"{oracle_path}")
        i, j = position[kernel], COARSENING_FACTORS.index(table.factor(row, "cf"))
        if (i, j) in seen:
            raise Inst2vecError(f"{runtime_path}:{table.lines[row]}: kernel {kernel!r} at factor "
                                f"{COARSENING_FACTORS[j]} again (first on line {table.lines[seen[i, j]]})")
        seen[i, j] = row
        runtimes[i, j] = table.number(row, f"runtime_{platform}", positive=True, empty_is_nan=True)
        pca[i, j] = [table.number(row, c) for c in PCA_COLUMNS]
    unmeasured = [k for k, i in position.items() if np.isnan(runtimes[i, 0])]
    if unmeasured:
        raise Inst2vecError(f"{runtime_path}: no factor-1 runtime for {', '.join(unmeasured)}")
    oracle_factor = np.array([oracles.factor(row_of[k], f"cf_{platform}") for k in kernels])
    for i, kernel in enumerate(kernels):  # the oracle is the fastest factor measured, in the published tables
        at_oracle = runtimes[i, COARSENING_FACTORS.index(oracle_factor[i])]
        if not at_oracle <= np.nanmin(runtimes[i]):
            fastest = COARSENING_FACTORS[int(np.nanargmin(runtimes[i]))]
            raise Inst2vecError(f"{oracle_path}:{oracles.lines[row_of[kernel]]}: cf_{platform} is {oracle_factor[i]}"
                                f" for {kernel}, but {runtime_path.name} has it fastest at factor {fastest} "
                                f"({np.nanmin(runtimes[i]):g} against {at_oracle:g}): a damaged or different copy?")
    return CoarseningData(
        platform=platform,
        kernels=np.array(kernels),
        files=_kernel_files(data_root, "threadcoarsening", kernels, oracle_path),
        oracle_factor=oracle_factor,
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

    def __repr__(self) -> str:
        return f"Poj104Data<{len(self.files)} files, {len(self.classes)} classes>"


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
