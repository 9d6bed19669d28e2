"""Result records shared by the tasks: one JSON object per run, every seed and fold kept."""
from __future__ import annotations

import json
import os
import platform as _platform
import re
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from inst2vec.embeddings import OURS, PUBLISHED
from inst2vec.io import atomic_write

PACKAGES = ("inst2vec-toolkit", "numpy", "scikit-learn", "keras", "tensorflow-cpu", "tensorflow", "torch", "gensim")


def versions() -> dict[str, str]:
    """Python, the installed versions of the packages a result depends on and, when the toolkit runs from a git
    checkout, its revision (``+changes`` when files differ from it): a model's name alone does not say which
    version of it ran."""
    found = {"python": _platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    revision = source_revision()
    if revision:
        found["inst2vec-toolkit-revision"] = revision
    return found


def source_revision() -> str | None:
    """The git commit of the checkout this module is in, with ``+changes`` if tracked files differ; None outside
    a checkout or without git."""
    checkout = Path(__file__).resolve().parent.parent
    if not (checkout / ".git").exists():
        return None
    try:
        commit = _git(checkout, "rev-parse", "HEAD")
        changed = _git(checkout, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+changes" if changed else "")


def _git(checkout: Path, *args: str) -> str:
    # GIT_OPTIONAL_LOCKS=0: `git status` only reads, without refreshing the index under .git/index.lock, which made
    # a `git commit` run meanwhile fail, and stayed behind when the write failed (a full disk)
    return subprocess.run(["git", "-C", str(checkout), *args], capture_output=True, text=True, check=True,
                          timeout=10, env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"}).stdout.strip()


def summarize(task: str, platform: str | None, model: str, embeddings: str, seeds: list[dict[str, Any]],
              protocol: dict[str, Any], started: float, **extra: Any) -> dict[str, Any]:
    """The run's JSON object: mean ± std over seeds of each seed's accuracy (and speedup)."""
    accuracy = np.array([s["accuracy"] for s in seeds], dtype=float)
    result: dict[str, Any] = {
        "task": task, "platform": platform, "model": model, "embeddings": embeddings,
        "accuracy_mean": float(accuracy.mean()), "accuracy_std": float(accuracy.std()),
    }
    if seeds and "speedup" in seeds[0]:
        speedup = np.array([s["speedup"] for s in seeds], dtype=float)
        result.update(speedup_mean=float(speedup.mean()), speedup_std=float(speedup.std()))
    result.update(extra)
    result.update(seeds=seeds, protocol=protocol, versions=versions(),
                  wall_seconds=round(time.perf_counter() - started, 2))
    return result


#: Embeddings named by a word; any other ``--embeddings`` value is a folder.
EMBEDDINGS_NAMES = (OURS, PUBLISHED, "none")


def file_label(embeddings: str) -> str:
    """The embeddings' part of a result or model file name: the name itself, or an embeddings folder's last
    component, with characters other than letters, digits, ``.``, ``+`` and ``-`` as ``_`` (a folder that
    bears one of the names gets ``folder-`` before it, so its files are not taken for those)."""
    if embeddings in EMBEDDINGS_NAMES:
        return embeddings
    label = re.sub(r"[^\w.+-]", "_", Path(embeddings).name) or "folder"
    return f"folder-{label}" if label in EMBEDDINGS_NAMES else label


def result_path(out_dir: str | os.PathLike, task: str, platform: str | None, model: str, embeddings: str) -> Path:
    """``out_dir/<task>-<platform>-<model>-<embeddings label>.json``: where a result is written."""
    parts = [task, platform, model, file_label(embeddings)]
    return Path(out_dir) / ("-".join(str(p) for p in parts if p) + ".json")


def write_result(result: dict[str, Any], out_dir: str | os.PathLike) -> Path:
    """Write the result to its :func:`result_path` atomically; returns that path."""
    path = result_path(out_dir, result["task"], result.get("platform"), result["model"], result["embeddings"])
    with atomic_write(path) as f:  # makes the folder, and removes it again if the write fails
        json.dump(result, f, indent=1, default=_plain)
        f.write("\n")
    return path


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
