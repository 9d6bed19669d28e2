"""Embed IR files: per-statement rows and vectors, per-function and per-file vectors, OOV rates.

Two poolings: ``mean`` (of the statement vectors) and ``flow``, which first lets every statement
average its vector with those of its XFG context (the statements sharing an identifier with it,
one step over the dual graph, as the skip-gram saw them), then takes the mean.
"""
from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass

import numpy as np

from inst2vec.embeddings import Embeddings
from inst2vec.io import atomic_write
from inst2vec.ir import IRModule, read_module
from inst2vec.pairs import module_dual_graph
from inst2vec.statements import is_label, normalize_units


@dataclass(frozen=True)
class FileEmbedding:
    """The embedding of one file; vectors use the (unnormalised) rows of the embeddings."""

    path: str
    indices: np.ndarray  # (n_statements,) rows, file order
    oov_rate: float
    mean: np.ndarray  # (dim,)
    flow: np.ndarray  # (dim,)
    functions: tuple[tuple[str, np.ndarray, np.ndarray], ...]  # (name, mean, flow)

    def __repr__(self) -> str:  # the dataclass's own would print every row index and vector component
        return (f"FileEmbedding<{self.path}: {len(self.indices)} statements ({100 * self.oov_rate:.1f} % out of "
                f"vocabulary), functions: {len(self.functions)}, dimensions: {len(self.mean)}>")


def require_embeddings(embeddings: Embeddings) -> None:
    """Refuse anything but :class:`Embeddings` (``None`` failed deep inside with an ``AttributeError``)."""
    if not isinstance(embeddings, Embeddings):
        raise TypeError(f"statement embeddings are needed here, not {type(embeddings).__name__}: pass "
                        f"inst2vec.load() (ours), inst2vec.load('published') or inst2vec.load(FOLDER)")


def embed_module(module: IRModule, embeddings: Embeddings, tokens: list[str] | None = None) -> FileEmbedding:
    """Embed one module (see the module docstring for the two poolings).

    ``tokens`` are the module's normalised units when the caller has them already (one per unit).
    """
    require_embeddings(embeddings)
    if tokens is None:
        tokens = normalize_units(module.units, module.struct_types)
    statement_units = [i for i, t in enumerate(tokens) if not is_label(t)]
    indices = np.asarray(embeddings.vocabulary.indices(tokens[i] for i in statement_units), dtype=np.int32)
    unknown = embeddings.vocabulary.unknown_index
    oov_rate = float(np.mean(indices == unknown)) if len(indices) else 0.0
    vectors = np.asarray(embeddings.matrix, dtype=np.float32)[indices]
    adjacency, _, units = module_dual_graph(module, tokens)
    row_of_unit = {u: k for k, u in enumerate(statement_units)}
    flowed = vectors.copy()
    if adjacency.shape[0]:
        rows = np.array([row_of_unit[u] for u in units])
        context = adjacency.astype(np.float64)  # summed in float64: the same float32 means in any instance order
        degree = np.asarray(context.sum(axis=1)).ravel()
        neighbour_mean = ((context @ vectors[rows].astype(np.float64)) / np.maximum(degree, 1)[:, None]
                          ).astype(np.float32)
        flowed[rows] = np.where(degree[:, None] > 0, (vectors[rows] + neighbour_mean) / 2, vectors[rows])
    zero = np.zeros(embeddings.dim, dtype=np.float32)

    def pool(rows: list[int]) -> tuple[np.ndarray, np.ndarray]:
        return (vectors[rows].mean(axis=0), flowed[rows].mean(axis=0)) if rows else (zero, zero)

    functions = []
    for function in module.functions:
        members = [function.define] + [u for block in function.blocks for u in block.units]
        functions.append((function.name, *pool([row_of_unit[u] for u in members if u in row_of_unit])))
    file_mean, file_flow = pool(list(range(len(indices))))
    return FileEmbedding(module.path or "<string>", indices, oov_rate, file_mean, file_flow, tuple(functions))


def embed_file(path: str | os.PathLike, embeddings: Embeddings) -> FileEmbedding:
    """:func:`embed_module` of an IR file (``.ll`` or ``.bc``)."""
    require_embeddings(embeddings)  # before the file is read
    return embed_module(read_module(path), embeddings)


#: Statement vectors are gathered and written this many rows at a time, so that memory stays bounded.
WRITE_ROWS = 65536


def save_embedded(results: list[FileEmbedding], embeddings: Embeddings, path: str | os.PathLike,
                  statement_vectors: bool = True, embeddings_name: str = "") -> None:
    """Write one ``.npz`` (no pickles): files, offsets, indices, statement vectors, file and function vectors.

    Arrays: ``embeddings`` (the name the embeddings were loaded by, ``embeddings_name``: ``ours``, ``published``
    or a folder) and ``embeddings_shape`` (rows, dim): ``indices`` are rows of those embeddings; ``files``
    (n_files,), ``oov_rate``, ``offsets`` (n_files + 1; file k's statements are
    ``indices[offsets[k]:offsets[k+1]]``), ``indices``, ``statement_vectors`` (n, dim; left out without
    ``statement_vectors``: they are ``embeddings.matrix[indices]``), ``file_mean``, ``file_flow`` (n_files, dim),
    ``function_names``, ``function_file``, ``function_mean``, ``function_flow``. The statement vectors are written
    in pieces, never held whole (4 * dim bytes per statement).
    """
    dim = embeddings.dim
    indices = np.concatenate([r.indices for r in results]) if results else np.zeros(0, np.int32)
    functions = [(k, name, mean, flow) for k, r in enumerate(results) for name, mean, flow in r.functions]
    arrays = {
        "embeddings": np.array(os.fspath(embeddings_name), dtype=str),
        "embeddings_shape": np.array(np.shape(embeddings.matrix), dtype=np.int64),
        "files": np.array([r.path for r in results], dtype=str),
        "oov_rate": np.array([r.oov_rate for r in results], dtype=np.float64),
        "offsets": np.cumsum([0] + [len(r.indices) for r in results]).astype(np.int64),
        "indices": indices,
        "statement_vectors": None,  # gathered while written
        "file_mean": np.array([r.mean for r in results], dtype=np.float32).reshape(-1, dim),
        "file_flow": np.array([r.flow for r in results], dtype=np.float32).reshape(-1, dim),
        "function_names": np.array([f[1] for f in functions], dtype=str),
        "function_file": np.array([f[0] for f in functions], dtype=np.int32),
        "function_mean": np.array([f[2] for f in functions], dtype=np.float32).reshape(-1, dim),
        "function_flow": np.array([f[3] for f in functions], dtype=np.float32).reshape(-1, dim),
    }
    if not statement_vectors:
        del arrays["statement_vectors"]
    matrix = np.asarray(embeddings.matrix, dtype=np.float32)
    # What np.savez writes (a stored zip of .npy members), with the statement vectors written piece by piece.
    with atomic_write(path, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                if array is not None:
                    np.lib.format.write_array(member, array, allow_pickle=False)
                    continue
                header = {"descr": np.lib.format.dtype_to_descr(matrix.dtype), "fortran_order": False,
                          "shape": (len(indices), dim)}
                np.lib.format.write_array_header_1_0(member, header)
                for start in range(0, len(indices), WRITE_ROWS):
                    member.write(matrix[indices[start:start + WRITE_ROWS]].tobytes())
