"""The statement vocabulary: statement <-> index, with counts and the ``!UNK`` token.

``Vocabulary.build(counts, cutoff)`` keeps statements seen more than ``cutoff`` times, in a
deterministic order (count descending, then statement text) after ``!UNK`` at index 0.
``Vocabulary.load`` also reads the published inst2vec vocabulary (a JSON list, ``!UNK`` last).
"""
from __future__ import annotations

import gzip
import json
import os
import zlib
from collections import Counter
from numbers import Integral
from typing import Iterable, Mapping, Sequence

from inst2vec.errors import VocabularyError
from inst2vec.io import atomic_write, first_non_blank
from inst2vec.streaming_json import load_object

UNKNOWN = "!UNK"
FORMAT = "inst2vec-vocabulary"


def _refuse_one_statement(statements: Iterable[str], single: str | None = None) -> None:
    """A str where statements go would be taken for one statement per character."""
    if isinstance(statements, str):
        hint = f"; one statement's is .{single}(statement)" if single else ""
        raise TypeError(f"statements go in a list, not one str ({statements[:60]!r}){hint}")


def _check_cutoff(cutoff) -> None:
    """Refuse a cutoff that is not a whole number >= 0 (one check for :meth:`Vocabulary.build` and the constructor,
    which refused ``-1`` in two different words)."""
    if not isinstance(cutoff, Integral) or isinstance(cutoff, bool) or cutoff < 0:
        raise VocabularyError(f"the cutoff must be a whole number >= 0, not {cutoff!r}")


class Vocabulary:
    """An ordered set of statements with their counts; unknown statements map to ``!UNK``.

    Example:
        >>> v = Vocabulary.build({"ret void": 5, "br label <%ID>": 9, "unreachable": 1}, cutoff=1)
        >>> v.statements
        ['!UNK', 'br label <%ID>', 'ret void']
        >>> v.index("unreachable") == v.index("!UNK") == 0
        True
    """

    def __init__(self, statements: Sequence[str], counts: Sequence[int] | None = None, cutoff: int | None = None):
        _refuse_one_statement(statements)
        if UNKNOWN not in statements:
            raise VocabularyError(f"a vocabulary must contain {UNKNOWN!r}")
        if len(set(statements)) != len(statements):
            raise VocabularyError("a vocabulary lists each statement once; found duplicates")
        if counts is not None and len(counts) != len(statements):
            raise VocabularyError(f"{len(statements)} statements but {len(counts)} counts")
        if cutoff is not None:
            _check_cutoff(cutoff)
        self.statements = list(statements)
        self.counts = None if counts is None else [int(c) for c in counts]
        self.cutoff = None if cutoff is None else int(cutoff)
        self._index = {s: i for i, s in enumerate(self.statements)}
        self.unknown_index = self._index[UNKNOWN]

    @classmethod
    def build(cls, counts: Mapping[str, int], cutoff: int = 0) -> "Vocabulary":
        """Keep statements with ``count > cutoff``; the others are counted as ``!UNK``."""
        _check_cutoff(cutoff)  # before counting (a str failed there with "'<' not supported …")
        kept = sorted(((s, c) for s, c in counts.items() if c > cutoff and s != UNKNOWN),
                      key=lambda sc: (-sc[1], sc[0]))
        unknown = sum(c for s, c in counts.items() if c <= cutoff or s == UNKNOWN)
        return cls([UNKNOWN] + [s for s, _ in kept], [unknown] + [c for _, c in kept], cutoff)

    @classmethod
    def from_statements(cls, statements: Iterable[str], cutoff: int = 0) -> "Vocabulary":
        """Count an iterable of statements and build the vocabulary (see :meth:`build`)."""
        _refuse_one_statement(statements)
        return cls.build(Counter(statements), cutoff)

    def __len__(self) -> int:
        return len(self.statements)

    def __contains__(self, statement: str) -> bool:
        return statement in self._index

    def __repr__(self) -> str:
        return f"Vocabulary<{len(self)} statements, cutoff={self.cutoff}>"

    def index(self, statement: str) -> int:
        """Index of ``statement``, or of ``!UNK`` if it is not in the vocabulary."""
        return self._index.get(statement, self.unknown_index)

    def indices(self, statements: Iterable[str]) -> list[int]:
        """Indices of many statements (unknown ones map to ``!UNK``)."""
        _refuse_one_statement(statements, "index")
        get, unknown = self._index.get, self.unknown_index
        return [get(s, unknown) for s in statements]

    def save(self, path: str | os.PathLike) -> None:
        """Write the vocabulary as JSON (statements, counts, cutoff), atomically; gzip-compressed when
        ``path`` ends in ``.gz`` (statements that inline large struct types repeat them at length)."""
        data = {"format": FORMAT, "version": 1, "cutoff": self.cutoff, "statements": self.statements,
                "counts": self.counts}
        # Written in pieces, never as one text: inlined C++ types can make a vocabulary gigabytes long.
        chunks = json.JSONEncoder(ensure_ascii=False).iterencode(data)  # json.dumps's text, piece by piece
        if os.fspath(path).endswith(".gz"):
            compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # the bytes of gzip.compress(text, mtime=0)
            with atomic_write(path, "wb") as f:
                for chunk in chunks:
                    f.write(compressor.compress(chunk.encode("utf-8")))
                f.write(compressor.flush())
        else:
            with atomic_write(path) as f:
                f.writelines(chunks)
                f.write("\n")  # a line: written to a terminal or a pipe, it ends as text does

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Vocabulary":
        """Read a vocabulary saved by :meth:`save` (``.json`` or ``.json.gz``), or the published JSON list.

        Raises:
            VocabularyError: the file is not a vocabulary (names the file).
        """
        try:
            with (gzip.open if os.fspath(path).endswith(".gz") else open)(path, "rt", encoding="utf-8") as f:
                first = first_non_blank(f)
                if first in ("[", "{", ""):  # told apart before a large file of another kind is read whole
                    f.seek(0)
                    # Ours in pieces: json.load held the text twice (C++ vocabularies reach 580 MB; the published
                    # list is small).
                    data = load_object(f) if first == "{" else json.load(f)
        except (OSError, EOFError, ValueError, zlib.error) as err:  # ValueError: no JSON; zlib: a damaged .gz
            raise VocabularyError(f"{os.fspath(path)}: cannot read a vocabulary: {err}") from err
        if first not in ("[", "{", ""):
            raise VocabularyError(f"{os.fspath(path)}: not an inst2vec vocabulary (a JSON list or object; this file "
                                  f"starts with {first!r})")
        try:
            if isinstance(data, list):  # the published vocabulary: position = index
                return cls(data)
            if isinstance(data, dict) and data.get("format") == FORMAT:
                return cls(data["statements"], data.get("counts"), data.get("cutoff"))
        except VocabularyError as err:
            raise VocabularyError(f"{os.fspath(path)}: {err}") from err
        raise VocabularyError(f"{os.fspath(path)}: not an inst2vec vocabulary (expected a JSON list of statements "
                              f"or an object with \"format\": \"{FORMAT}\")")
