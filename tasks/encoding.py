"""Turn IR files into model inputs: statement index sequences, pooled program vectors, statement n-grams."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from inst2vec.batch import path_list, run_batch
from inst2vec.embed import FileEmbedding, embed_module, require_embeddings
from inst2vec.embeddings import Embeddings
from inst2vec.errors import Inst2vecError
from inst2vec.ir import read_module
from inst2vec.statements import is_label, normalize_units


@dataclass(frozen=True)
class EncodedFiles:
    """Per distinct file: its statement rows (file text order), its mean and flow-pooled vectors and,
    when asked for, its statement n-grams (:func:`statement_ngrams`)."""

    embeddings: Embeddings
    sequences: list[np.ndarray]
    mean: np.ndarray  # (n_files, dim)
    flow: np.ndarray  # (n_files, dim)
    oov_rate: np.ndarray  # (n_files,)
    ngrams: list[np.ndarray] | None = None

    def __repr__(self) -> str:
        return (f"EncodedFiles<{len(self.sequences)} files, {sum(map(len, self.sequences))} statements, "
                f"{self.mean.shape[1]} dimensions{', with n-grams' if self.ngrams is not None else ''}>")

    def pooled(self) -> np.ndarray:
        """[flow, mean] per file: the program vector our models use."""
        return np.concatenate([self.flow, self.mean], axis=1)


class _Encoder:
    """A picklable ``path -> (FileEmbedding, n-grams or None)`` for worker processes: one parse per file."""

    def __init__(self, embeddings: Embeddings, ngrams: bool):
        self.embeddings = embeddings
        self.ngrams = ngrams

    def __call__(self, path: str) -> tuple[FileEmbedding, np.ndarray | None]:
        module = read_module(path)
        tokens = normalize_units(module.units, module.struct_types)
        embedding = embed_module(module, self.embeddings, tokens)
        return embedding, statement_ngrams(tokens) if self.ngrams else None


def encode_files(files: Sequence[str | os.PathLike], embeddings: Embeddings, jobs: int = 1,
                 progress: bool | None = None, ngrams: bool = False) -> EncodedFiles:
    """Embed every file once (rows in order of ``files``); with ``ngrams``, also take its statement n-grams.

    Raises:
        Inst2vecError: naming each file that could not be read (a task needs all of its inputs).
    """
    require_embeddings(embeddings)
    values = _all_files(_Encoder(embeddings, ngrams), files, jobs, progress, "embedding IR", "embedded")
    embedded = [v[0] for v in values]
    return EncodedFiles(embeddings=embeddings,
                        sequences=[v.indices for v in embedded],
                        mean=np.stack([v.mean for v in embedded]).astype(np.float32),
                        flow=np.stack([v.flow for v in embedded]).astype(np.float32),
                        oov_rate=np.array([v.oov_rate for v in embedded]),
                        ngrams=[v[1] for v in values] if ngrams else None)


def statement_ngrams(tokens: Sequence[str]) -> np.ndarray:
    """64-bit hashes of a file's statements and of each pair of consecutive statements (file order).

    ``tokens`` are the file's normalised units (labels are skipped). Statements are the inst2vec tokens
    themselves, so statements outside any vocabulary count too.
    """
    statements = [t for t in tokens if not is_label(t)]
    grams = statements + [f"{a}\n{b}" for a, b in zip(statements, statements[1:])]
    digests = b"".join(hashlib.blake2b(g.encode(), digest_size=8).digest() for g in grams)
    return np.frombuffer(digests, dtype=np.int64).copy()


def _all_files(function, files: Sequence[str | os.PathLike], jobs: int, progress: bool | None, description: str,
               done: str) -> list:
    """``function`` of every file through :func:`run_batch`; a task needs all of its inputs, so any failure
    raises, naming the first failed file."""
    paths = path_list(files)
    results = list(run_batch(function, paths, jobs=jobs, progress=progress, description=description))
    failed = [r for r in results if not r.ok]
    if len(paths) == 1 and failed:
        raise Inst2vecError(failed[0].error)
    if failed:
        raise Inst2vecError(f"{len(failed)} of {len(paths)} IR files could not be {done}; first: {failed[0].error}")
    return [r.value for r in results]


def distinct_files(files: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """The distinct paths in first-seen order and, per input, the position of its path in them."""
    order: dict[str, int] = {}
    positions = np.array([order.setdefault(f, len(order)) for f in files], dtype=np.int64)
    return list(order), positions
