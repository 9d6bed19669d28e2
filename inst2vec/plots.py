"""A t-SNE map of statement embeddings, coloured by statement family (PNG, SVG or PDF)."""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from inst2vec.embeddings import Embeddings
from inst2vec.io import atomic_write

#: Family of a statement by its instruction, first match wins.
FAMILIES = (
    ("integer arithmetic", r"<%ID> = (add|sub|mul|udiv|sdiv|urem|srem)\b"),
    ("floating point", r"<%ID> = (fadd|fsub|fmul|fdiv|frem|fneg)\b"),
    ("bitwise", r"<%ID> = (shl|lshr|ashr|and|or|xor)\b"),
    ("comparison", r"<%ID> = (icmp|fcmp)\b"),
    ("conversion", r"<%ID> = (trunc|zext|sext|fptrunc|fpext|fptoui|fptosi|uitofp|sitofp|ptrtoint|ptrtoaddr|inttoptr"
                   r"|bitcast|addrspacecast)\b"),
    ("memory", r"(<%ID> = (load|alloca|getelementptr)|store)\b"),
    ("vector / aggregate", r"<%ID> = (extractelement|insertelement|shufflevector|extractvalue|insertvalue)\b"),
    ("phi / select", r"<%ID> = (phi|select)\b"),
    ("call", r"(<%ID> = )?((tail|musttail|notail) )?(call|invoke)\b"),
    ("control flow", r"(br|switch|ret|indirectbr|resume|unreachable)\b"),
    ("definition", r"(define|<@ID> = )"),
)
_FAMILIES = tuple((name, re.compile(pattern)) for name, pattern in FAMILIES)


def statement_family(statement: str) -> str:
    """The family of an inst2vec statement (``"other"`` if none fits)."""
    for name, pattern in _FAMILIES:
        if pattern.match(statement):
            return name
    return "other"


#: The image formats :func:`plot_clusters` writes, by the file's suffix.
PLOT_FORMATS = ("png", "svg", "pdf")


def plot_format(path: str | os.PathLike) -> str:
    """The image format named by a plot's suffix.

    Raises:
        ValueError: a suffix of none of :data:`PLOT_FORMATS`.
    """
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in PLOT_FORMATS:
        raise ValueError(f"{os.fspath(path)!r}: a plot's name ends in " + ", ".join(f".{f}" for f in PLOT_FORMATS))
    return suffix


def plot_clusters(embeddings: Embeddings, path: str | os.PathLike, seed: int = 0, max_points: int = 4000) -> None:
    """t-SNE (scikit-learn) of the L2-normalised rows, at most ``max_points`` of them (seeded sample), drawn into
    ``path`` in the format its suffix names (:data:`PLOT_FORMATS`)."""
    image_format = plot_format(path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    rng = np.random.default_rng(seed)
    rows = np.arange(len(embeddings))
    if len(rows) > max_points:
        rows = np.sort(rng.choice(rows, max_points, replace=False))
    points = TSNE(n_components=2, init="pca", random_state=seed,
                  perplexity=min(30.0, max(2.0, (len(rows) - 1) / 3))).fit_transform(embeddings.normalized[rows])
    families = [statement_family(embeddings.vocabulary.statements[i]) for i in rows]
    figure, axes = plt.subplots(figsize=(9, 7), dpi=110)
    for k, name in enumerate([n for n, _ in FAMILIES] + ["other"]):
        mask = np.array([f == name for f in families])
        if mask.any():
            axes.scatter(points[mask, 0], points[mask, 1], s=4, color=plt.cm.tab20(k), label=f"{name} ({mask.sum()})")
    axes.set_title(f"t-SNE of {len(rows)} of {len(embeddings)} statement embeddings")
    axes.legend(markerscale=3, fontsize=7, loc="best")
    axes.set_xticks([])
    axes.set_yticks([])
    with atomic_write(path, "wb") as f:
        figure.savefig(f, format=image_format, bbox_inches="tight")
    plt.close(figure)
