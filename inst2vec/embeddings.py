"""Statement embeddings: one object holding a vocabulary and its matrix, and the ways to load them.

``Embeddings`` is what users keep (like gensim's ``KeyedVectors``): ``emb.vector(statement)``,
``emb.index(statement)``, ``emb.most_similar(...)``; unknown statements map to ``!UNK`` (``most_similar``
refuses them).
``load("published")`` reads the published inst2vec matrix (8,565 x 200) from the data root, a
path reads our own format (a folder with ``vocabulary.json`` and ``embeddings.npy``). Nothing is
unpickled except the published pickles, through an unpickler that allows only plain data.
"""
from __future__ import annotations

import contextlib
import io
import os
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

from inst2vec.data import ENV_VARIABLE
from inst2vec.errors import DataNotFoundError, VocabularyError
from inst2vec.io import atomic_path, atomic_write, load_numpy
from inst2vec.vocabulary import UNKNOWN, Vocabulary

if TYPE_CHECKING:  # imported when used: gensim takes a second
    from gensim.models import KeyedVectors

PUBLISHED = "published"
#: Our own embeddings, trained on our corpus and shipped inside the package (docs/embeddings.md).
OURS = "ours"
OURS_FOLDER = Path(__file__).parent / "pretrained" / OURS
VOCABULARY_FILE = "vocabulary.json"
MATRIX_FILE = "embeddings.npy"
WORD2VEC_FILE = "embeddings.w2v.txt.gz"  # what train-embeddings writes beside them, for gensim
#: numpy names a pickled ndarray needs; nothing else may be loaded from a pickle.
_NUMPY_GLOBALS = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
                  ("numpy._core.multiarray", "_reconstruct")}


class Embeddings:
    """A vocabulary of statements and one vector per statement.

    Example:
        >>> emb = Embeddings(Vocabulary(["!UNK", "ret void"]), np.eye(2, dtype=np.float32))
        >>> emb.vector("ret void").tolist(), emb.index("unknown statement")
        ([0.0, 1.0], 0)
    """

    def __init__(self, vocabulary: Vocabulary, matrix: np.ndarray):
        matrix = np.asarray(matrix)
        if matrix.ndim != 2 or matrix.shape[0] != len(vocabulary):
            raise VocabularyError(f"the embedding matrix has shape {matrix.shape} but the vocabulary has "
                                  f"{len(vocabulary)} statements; they must match row for row")
        if not np.issubdtype(matrix.dtype, np.floating):
            raise VocabularyError(f"the embedding matrix holds {matrix.dtype} values, not floating-point numbers")
        finite = np.isfinite(matrix).all(axis=1)
        if not finite.all():
            row = int(np.argmin(finite))
            raise VocabularyError(f"the embedding matrix holds NaN or infinite values in {int((~finite).sum())} "
                                  f"row(s), the first of them row {row} ({vocabulary.statements[row]!r})")
        self.vocabulary = vocabulary
        self.matrix = matrix
        self.matrix.setflags(write=False)
        self._normalized: np.ndarray | None = None

    def __repr__(self) -> str:
        return f"Embeddings<{len(self)} statements x {self.dim}>"

    def __len__(self) -> int:
        return len(self.vocabulary)

    def __contains__(self, statement: str) -> bool:
        return statement in self.vocabulary

    def __getitem__(self, statements: str | Sequence[str]) -> np.ndarray:
        if isinstance(statements, str):
            return self.vector(statements)
        if not isinstance(statements, Iterable) or isinstance(statements, bytes):
            raise TypeError(f"embeddings are looked up by statement (a str, or a list of them), not by "
                            f"{type(statements).__name__}; a row by number is .matrix[i]")
        return self.matrix[self.vocabulary.indices(statements)]

    @property
    def dim(self) -> int:
        return self.matrix.shape[1]

    @property
    def normalized(self) -> np.ndarray:
        """Rows scaled to unit L2 norm (as ncc fed them to its models), computed once."""
        if self._normalized is None:
            norms = np.linalg.norm(self.matrix, axis=1, keepdims=True)
            self._normalized = self.matrix / np.where(norms == 0, 1, norms)
            self._normalized.setflags(write=False)
        return self._normalized

    def index(self, statement: str) -> int:
        """Row of ``statement`` (``!UNK``'s row if unknown)."""
        return self.vocabulary.index(statement)

    def vector(self, statement: str) -> np.ndarray:
        """The (read-only) vector of ``statement``; unknown statements get ``!UNK``'s vector."""
        return self.matrix[self.vocabulary.index(statement)]

    def most_similar(self, query: str | np.ndarray, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` statements of highest cosine similarity to a statement or vector (itself excluded).

        Raises:
            KeyError: ``query`` is a statement not in the vocabulary (its vector would be ``!UNK``'s, whose
                neighbours say nothing about it; ask for ``!UNK`` itself to see them).
        """
        if k < 1:
            raise ValueError(f"`k` must be >= 1. Received: k={k}")
        if isinstance(query, str) and query not in self.vocabulary:
            raise KeyError(f"{query!r} is not in the vocabulary: unknown statements share "
                           f"{UNKNOWN!r}'s vector (ask for it to see its neighbours)")
        vector = self.vector(query) if isinstance(query, str) else np.asarray(query, dtype=np.float64)
        norm = np.linalg.norm(vector)
        if not isinstance(query, str) and (vector.shape != (self.dim,) or not np.isfinite(norm) or not norm):
            raise ValueError(f"a query vector must hold {self.dim} finite numbers, not all zero. Received: shape "
                             f"{vector.shape}, norm {norm:g}")
        scores = self.normalized @ (vector / norm if norm else vector)
        candidates = np.arange(len(scores))
        if isinstance(query, str) and query in self.vocabulary:
            candidates = np.delete(candidates, self.vocabulary.index(query))
        top = candidates[np.argsort(-scores[candidates], kind="stable")[:k]]
        return [(self.vocabulary.statements[i], float(scores[i])) for i in top]

    def to_keyed_vectors(self) -> KeyedVectors:
        """The same vectors as a gensim ``KeyedVectors`` (keys: the statements)."""
        from gensim.models import KeyedVectors

        keyed = KeyedVectors(vector_size=self.dim)
        keyed.add_vectors(self.vocabulary.statements, np.asarray(self.matrix, dtype=np.float32))
        return keyed

    def save_word2vec(self, path: str | os.PathLike) -> None:
        """word2vec text format; statements with spaces or newlines are written with ``\\s`` / ``\\n``
        escapes (the format splits on white space), as one token per line. Gzip-compressed when ``path`` ends in
        ``.gz`` (gensim's ``KeyedVectors.load_word2vec_format`` reads it so)."""
        with atomic_write(path, "w", compress=os.fspath(path).endswith(".gz")) as f:
            f.write(f"{len(self)} {self.dim}\n")
            for statement, row in zip(self.vocabulary.statements, np.asarray(self.matrix)):
                token = statement.replace("\\", "\\\\").replace("\n", "\\n").replace(" ", "\\s")
                f.write(token + " " + " ".join(f"{x:.6g}" for x in row) + "\n")

    def save(self, folder: str | os.PathLike, compress_vocabulary: bool = False) -> None:
        """Write ``vocabulary.json`` (or ``vocabulary.json.gz``) and ``embeddings.npy`` into ``folder``,
        removing an earlier save's vocabulary of the other form.

        Both files are written under temporary names first and renamed into place together: an interrupted
        save leaves the earlier one whole, never a new vocabulary beside an old matrix of the same size.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        vocabulary, other = VOCABULARY_FILE + ".gz", VOCABULARY_FILE
        if not compress_vocabulary:
            vocabulary, other = other, vocabulary
        with contextlib.ExitStack() as renames:  # each renamed over its file when the block ends without error
            vocabulary_tmp = renames.enter_context(atomic_path(folder / vocabulary))  # keeps the .gz suffix
            matrix_tmp = renames.enter_context(atomic_path(folder / MATRIX_FILE))
            self.vocabulary.save(vocabulary_tmp)
            with open(matrix_tmp, "wb") as f:
                np.save(f, np.asarray(self.matrix), allow_pickle=False)
            # Loading prefers vocabulary.json: left beside a new vocabulary.json.gz it would be read with the new
            # matrix.
            (folder / other).unlink(missing_ok=True)

    @classmethod
    def load(cls, folder: str | os.PathLike) -> "Embeddings":
        """Read a folder written by :meth:`save` (also the published folder's JSON/NumPy copies).

        Raises:
            DataNotFoundError: a file is missing. VocabularyError: the files do not fit together.
        """
        folder = Path(folder)
        vocabulary = folder / VOCABULARY_FILE
        if not vocabulary.is_file() and (folder / (VOCABULARY_FILE + ".gz")).is_file():
            vocabulary = folder / (VOCABULARY_FILE + ".gz")
        for path in (vocabulary, folder / MATRIX_FILE):
            if not path.is_file():
                raise DataNotFoundError(f"{path}: not found (an embeddings folder holds {VOCABULARY_FILE} "
                                        f"or {VOCABULARY_FILE}.gz, and {MATRIX_FILE})")
        try:
            matrix = load_numpy(folder / MATRIX_FILE, archive=False)
        except (ValueError, OSError) as err:
            raise VocabularyError(f"{folder / MATRIX_FILE}: cannot read the embedding matrix: {err}") from err
        if matrix.dtype == np.float16:  # the shipped embeddings are stored in half precision
            matrix = matrix.astype(np.float32)
        try:
            return cls(Vocabulary.load(vocabulary), matrix)
        except VocabularyError as err:
            raise VocabularyError(f"{folder}: {err}") from err

    @classmethod
    def load_published(cls, data_root: str | os.PathLike) -> "Embeddings":
        """The published inst2vec embeddings (8,565 x 200, ``!UNK`` = 8564) from ``DATA_ROOT/inst2vec-published``.

        Reads the JSON/NumPy copies when present, else the original pickles through
        :func:`restricted_unpickle`.
        """
        folder = Path(data_root) / "inst2vec-published"
        if (folder / VOCABULARY_FILE).is_file() and (folder / MATRIX_FILE).is_file():
            return cls.load(folder)
        if not (folder / "dictionary.pickle").is_file():
            raise DataNotFoundError(f"{folder}: the published inst2vec files are missing. Set --data-root or "
                                    f"${ENV_VARIABLE} to the folder holding inst2vec-published/, or make that "
                                    f"folder with `inst2vec pretrained fetch -o {folder}` (see README, section Data)")
        return cls(*read_published_pickles(folder))


def restricted_unpickle(data: bytes, allowed: set[tuple[str, str]]) -> Any:
    """Unpickle ``data`` allowing only the (module, name) globals in ``allowed``; never runs other code."""

    class _Restricted(pickle.Unpickler):
        def find_class(self, module: str, name: str):
            if (module, name) not in allowed:
                raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a pickle")
            return super().find_class(module, name)

    return _Restricted(io.BytesIO(data)).load()


def read_published_pickles(folder: str | os.PathLike) -> tuple[Vocabulary, np.ndarray]:
    """The published ``dictionary.pickle`` ({statement: index}) and ``embeddings.pickle`` (ndarray)."""
    folder = Path(folder)
    try:
        dictionary = restricted_unpickle((folder / "dictionary.pickle").read_bytes(), set())
        matrix = restricted_unpickle((folder / "embeddings.pickle").read_bytes(), _NUMPY_GLOBALS)
    # A damaged pickle can fail in many ways, a huge length field as a MemoryError among them.
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
            OverflowError, MemoryError) as err:
        raise VocabularyError(f"{folder}: not the published inst2vec pickles: {type(err).__name__}: {err}") from err
    if not isinstance(dictionary, dict) or not isinstance(matrix, np.ndarray):
        raise VocabularyError(f"{folder}: expected a dict and an ndarray in the published pickles")
    if not (all(isinstance(s, str) for s in dictionary) and all(type(i) is int for i in dictionary.values())
            and sorted(dictionary.values()) == list(range(len(dictionary)))):
        raise VocabularyError(f"{folder}/dictionary.pickle: not a numbering of statements (each index 0 … "
                              f"{len(dictionary) - 1} once)")
    statements = [""] * len(dictionary)
    for statement, index in dictionary.items():
        statements[index] = statement
    return Vocabulary(statements), matrix


def load(name: str | os.PathLike = OURS, data_root: str | os.PathLike | None = None) -> Embeddings:
    """``load()`` / ``load("ours")``: our embeddings shipped with the package; ``load("published")``: the
    published inst2vec embeddings (from the data root); ``load(PATH)``: an embeddings folder.

    Args:
        name: ``"ours"``, ``"published"`` or a folder written by :meth:`Embeddings.save`.
        data_root: where the data sets are (default ``$INST2VEC_DATA`` or ``../shared/data``); only
            ``"published"`` reads it.
    """
    from inst2vec.data import data_root as resolve

    if os.fspath(name) == PUBLISHED:
        return Embeddings.load_published(resolve(data_root))
    if os.fspath(name) == OURS and not Path(name).exists():
        return Embeddings.load(OURS_FOLDER)
    if not Path(name).is_dir():
        what = "a file, not an embeddings folder" if Path(name).exists() else "no such embeddings folder"
        folder = Path(name).parent
        hint = (f"; name its folder, {os.fspath(folder)}" if Path(name).is_file() and
                (folder / MATRIX_FILE).is_file() else "")
        raise DataNotFoundError(f"{os.fspath(name)}: {what}{hint} (embeddings are '{OURS}', '{PUBLISHED}' or a "
                                f"folder holding {VOCABULARY_FILE} (or .gz) and {MATRIX_FILE})")
    return Embeddings.load(name)


def sequence_indices(embeddings: Embeddings, statements: Iterable[str]) -> np.ndarray:
    """Row indices of a statement sequence (unknown statements -> ``!UNK``), as int32."""
    return np.asarray(embeddings.vocabulary.indices(statements), dtype=np.int32)


__all__ = ["Embeddings", "load", "OURS", "PUBLISHED", "restricted_unpickle", "read_published_pickles",
           "sequence_indices", "UNKNOWN"]
