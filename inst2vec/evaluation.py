"""Intrinsic evaluation of statement embeddings, scored exactly as the original did (paper, section 5).

* Analogies A:B::C:?: rows L2-normalised, prediction ``e_C + (e_B - e_A)``, correct when the
  expected statement is among the 5 rows of highest dot product (question statements are not
  excluded). ``evaluate_analogies`` returns correct / total overall and per category.
* Semantic distance: for 11 categories of statements (add, fadd, ..., bitwise), the share of
  (in1, in2, out) triples with ``W[out]·W[in1] < W[in2]·W[in1]`` on the raw (unnormalised) rows.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inst2vec.embeddings import Embeddings
from inst2vec.errors import DataNotFoundError, VocabularyError

TOP_K = 5
#: Category -> statement prefix (a regex matched at the start), as in the original.
SEMANTIC_CATEGORIES = {
    "add": "<%ID> = add", "fadd": "<%ID> = fadd", "sub": "<%ID> = sub", "fsub": "<%ID> = fsub",
    "mul": "<%ID> = mul", "fmul": "<%ID> = fmul", "ret": "ret ", "fdiv": "<%ID> = fdiv",
    "udiv": "<%ID> = udiv", "sdiv": "<%ID> = sdiv", "bitwise binary": "<%ID> = (shl|lshr|ashr|and|or|xor)",
}


@dataclass(frozen=True)
class Analogy:
    """One question ``a : b :: c : d`` of a category (statements)."""

    category: str
    a: str
    b: str
    c: str
    d: str


@dataclass
class AnalogyScore:
    correct: int = 0
    total: int = 0
    by_category: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def score(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def as_dict(self) -> dict:
        return {"correct": self.correct, "total": self.total, "score": self.score,
                "by_category": {c: {"correct": k, "total": n, "score": k / n if n else 0.0}
                                for c, (k, n) in self.by_category.items()}}


#: The end of a category name in the published set: the original's count of the questions it generated for the
#: category, before it kept those of the published vocabulary (``…: 111720`` for 307 questions in the file).
_GENERATED_COUNT = re.compile(r": [0-9]+$")


def read_analogies(path: str | os.PathLike) -> list[Analogy]:
    """Questions from a TSV: ``category, idxA..idxD, A, B, C, D`` (the published set's layout) or
    ``category, A, B, C, D``; ``#`` lines are comments, ``\\n`` in statements is unescaped. A category name
    loses the published set's count at its end (``: 111720``), which says nothing of the questions read."""
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"{path}: analogy questions not found")
    questions = []
    with open(path, "rb") as f:  # line by line: a large file of another kind fails on its first lines
        for n, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8").removesuffix("\n").removesuffix("\r")
            except UnicodeDecodeError as err:
                raise VocabularyError(f"{path}:{n}:{err.start + 1}: not UTF-8 text ({err.reason})") from err
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) not in (5, 9):
                raise VocabularyError(f"{path}:{n}: expected 5 or 9 tab-separated fields, found {len(fields)}")
            statements = [s.replace("\\n", "\n") for s in fields[-4:]]
            questions.append(Analogy(_GENERATED_COUNT.sub("", fields[0]), *statements))
    if not questions:
        raise VocabularyError(f"{path}: no analogy questions in it (only blank or '#' lines)")
    return questions


def published_questions_path(data_root: str | os.PathLike) -> Path:
    """The published analogy questions (2,145 in the published vocabulary), beside the data root."""
    return Path(data_root).parent / "anchors" / "ncc" / "derived" / "analogy_questions_published_vocab.tsv"


def answerable_questions(statements: set[str], path: str | os.PathLike | None = None) -> list[Analogy]:
    """The questions of ``path`` whose four statements are all in ``statements``, or, with no ``path``,
    questions generated from ``statements`` (:func:`inst2vec.analogies.generate_analogies`)."""
    if path is None:
        from inst2vec.analogies import generate_analogies

        return generate_analogies(statements)
    return questions_with_statements(read_analogies(path), statements)


def questions_with_statements(questions: list[Analogy], statements: set[str]) -> list[Analogy]:
    """The ``questions`` whose four statements are all in ``statements``."""
    return [q for q in questions if {q.a, q.b, q.c, q.d} <= statements]


def evaluate_analogies(embeddings: Embeddings, questions: list[Analogy]) -> AnalogyScore:
    """Score ``questions`` whose four statements are all in the vocabulary (the others are left out)."""
    vocabulary = embeddings.vocabulary
    kept = [q for q in questions if all(s in vocabulary for s in (q.a, q.b, q.c, q.d))]
    result = AnalogyScore()
    if not kept:
        return result
    unit = embeddings.normalized.astype(np.float32)
    index = np.array([[vocabulary.index(s) for s in (q.a, q.b, q.c, q.d)] for q in kept])
    hits = np.zeros(len(kept), dtype=bool)
    for start in range(0, len(kept), 512):
        block = index[start:start + 512]
        predicted = unit[block[:, 2]] + (unit[block[:, 1]] - unit[block[:, 0]])
        scores = predicted @ unit.T
        top = np.argsort(-scores, axis=1, kind="stable")[:, :TOP_K]
        hits[start:start + 512] = (top == block[:, 3:4]).any(axis=1)
    for question, hit in zip(kept, hits):
        correct, total = result.by_category.get(question.category, (0, 0))
        result.by_category[question.category] = (correct + int(hit), total + 1)
    result.correct, result.total = int(hits.sum()), len(kept)
    return result


def semantic_distance(embeddings: Embeddings) -> dict:
    """The semantic-distance test: mean over categories and the score of each (fractions).

    Empty categories (no statement of the vocabulary matches) are reported as ``None`` and left
    out of the mean.
    """
    matrix = np.asarray(embeddings.matrix, dtype=np.float64)
    statements = embeddings.vocabulary.statements
    by_category: dict[str, float | None] = {}
    for category, prefix in SEMANTIC_CATEGORIES.items():
        pattern = re.compile(prefix)
        inside = np.array([i for i, s in enumerate(statements) if pattern.match(s)], dtype=int)
        if len(inside) < 2:
            by_category[category] = None
            continue
        outside = np.setdiff1d(np.arange(len(statements)), inside)
        successes = 0
        for k, first in enumerate(inside):
            to_inside = matrix[inside] @ matrix[first]
            to_outside = np.sort(matrix[outside] @ matrix[first])
            others = np.delete(to_inside, k)
            successes += int(np.searchsorted(to_outside, others, side="left").sum())
        by_category[category] = successes / (len(inside) * (len(inside) - 1) * len(outside))
    scored = [v for v in by_category.values() if v is not None]
    return {"mean": float(np.mean(scored)) if scored else None, "by_category": by_category}
