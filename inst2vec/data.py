"""Where the data sets live: ``--data-root``, else ``$INST2VEC_DATA``, else ``../shared/data``.

The default is looked up from the working directory first, then beside the project checkout this package
runs from, so commands work from any directory of a development checkout.
"""
from __future__ import annotations

import os
from pathlib import Path

from inst2vec.errors import DataNotFoundError

ENV_VARIABLE = "INST2VEC_DATA"
DEFAULT_DATA_ROOT = Path("..") / "shared" / "data"
PROJECT_ROOT = Path(__file__).resolve().parents[1]

#: Where each data set comes from, for users without ``../shared/data`` (see README "Data").
SOURCES = {
    "devmap": "DeepTune/ncc devmap: ChrisCummins/phd deeplearning/ncc/published_results/task_devmap.zip",
    "threadcoarsening": "ncc threadcoarsening: ChrisCummins/phd deeplearning/ncc/published_results/"
                        "task_threadcoarsening.zip",
    "poj104": "POJ-104 (Mou et al. 2016), e.g. via CodeXGLUE google/code_x_glue_cc_clone_detection_poj104",
    "inst2vec-published": "published inst2vec vocabulary/embeddings: PyPI compiler_gym==0.2.5 wheel, "
                          "compiler_gym/third_party/inst2vec/{dictionary,embeddings}.pickle",
    "ir-corpus-sources": "benchmark sources (AMD APP SDK, NPB, Parboil, Rodinia, SHOC, PolyBench, llvm-test-suite)",
}


def data_root(explicit: str | os.PathLike | None = None) -> Path:
    """Resolve the data root from an explicit path, ``$INST2VEC_DATA`` or the default."""
    if explicit is not None:
        return Path(explicit)
    if os.environ.get(ENV_VARIABLE):
        return Path(os.environ[ENV_VARIABLE])
    beside_project = PROJECT_ROOT / DEFAULT_DATA_ROOT
    if not DEFAULT_DATA_ROOT.is_dir() and beside_project.is_dir():
        return beside_project.resolve()
    return DEFAULT_DATA_ROOT  # also when neither exists: errors then name the path the user expects


def data_path(root: str | os.PathLike, *parts: str) -> Path:
    """A path inside a data set, checked to exist.

    Raises:
        DataNotFoundError: naming the missing path and where the data set comes from.
    """
    path = Path(root, *parts)
    if not path.exists():
        origin = SOURCES.get(parts[0], "see README, section Data") if parts else "see README, section Data"
        raise DataNotFoundError(
            f"{path}: not found. Set --data-root or ${ENV_VARIABLE} to the folder holding the data sets "
            f"(this one comes from: {origin})")
    return path
