"""classifyapp's ``bag`` and ``ngram`` classifiers: a linear SVM on TF-IDF token counts and pooled vectors.

A file's tokens are integer ids: its statements' vocabulary indices (``bag``) or the hashes of its
statement n-grams (``ngram``, :func:`tasks.encoding.statement_ngrams`). Its features: the sublinear,
IDF-weighted, L2-normalised counts of the tokens found in at least ``min_files`` training files, beside
its pooled vector standardised on the training files and weighted 0.05. Everything fitted (columns,
IDF, scaler, SVM) is kept in :class:`LinearModel`, which saves to ``.npz`` (no pickles) so that
``inst2vec predict`` computes the same features and scores as the run that trained it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from inst2vec.errors import Inst2vecError
from tasks.model_files import ArrayModel

if TYPE_CHECKING:  # imported when used
    import scipy.sparse
    from sklearn.svm import LinearSVC

#: Weight of the standardised pooled vectors beside the (unit-norm) TF-IDF columns.
POOLED_WEIGHT = 0.05


def token_counts(tokens: list[np.ndarray], columns: np.ndarray) -> "scipy.sparse.csr_matrix":  # noqa: F821
    """Per file, how often each token of the sorted ``columns`` occurs (others are dropped)."""
    from scipy import sparse

    rows = np.repeat(np.arange(len(tokens)), [len(g) for g in tokens])
    all_ids = np.concatenate(tokens).astype(np.int64) if tokens else np.zeros(0, np.int64)
    position = np.searchsorted(columns, all_ids).clip(max=max(len(columns) - 1, 0))
    hit = columns[position] == all_ids if len(columns) else np.zeros(len(all_ids), bool)
    return sparse.csr_matrix((np.ones(int(hit.sum())), (rows[hit], position[hit])), shape=(len(tokens), len(columns)))


def frequent_tokens(tokens: list[np.ndarray], min_files: int) -> np.ndarray:
    """The sorted tokens that occur in at least ``min_files`` of the given files."""
    ids, files = np.unique(np.concatenate([np.unique(g) for g in tokens]).astype(np.int64), return_counts=True)
    return ids[files >= min_files]


@dataclass
class LinearModel(ArrayModel):
    """Fitted features and linear SVM of the ``bag`` or ``ngram`` classifier (see the module docstring)."""

    KIND = "linear"
    ARRAYS = ("columns", "idf", "pooled_mean", "pooled_scale", "coef", "intercept", "classes")

    columns: np.ndarray  # (n_columns,) sorted token ids
    idf: np.ndarray  # (n_columns,)
    pooled_mean: np.ndarray  # (pooled_dim,)
    pooled_scale: np.ndarray  # (pooled_dim,)
    coef: np.ndarray | None = None  # (n_classes, n_columns + pooled_dim)
    intercept: np.ndarray | None = None  # (n_classes,)
    classes: np.ndarray | None = None  # (n_classes,) label numbers
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fit_features(cls, tokens: list[np.ndarray], pooled: np.ndarray, min_files: int) -> "LinearModel":
        """Columns, IDF and scaler from the training files' tokens and pooled vectors (no SVM yet)."""
        from sklearn.feature_extraction.text import TfidfTransformer
        from sklearn.preprocessing import StandardScaler

        columns = frequent_tokens(tokens, min_files)
        idf = TfidfTransformer(sublinear_tf=True).fit(token_counts(tokens, columns)).idf_
        scaler = StandardScaler().fit(pooled)
        return cls(columns, idf, scaler.mean_, scaler.scale_)

    def features(self, tokens: list[np.ndarray], pooled: np.ndarray) -> scipy.sparse.csr_matrix:
        """[TF-IDF of the tokens, weighted standardised pooled vectors], one row per file."""
        from scipy import sparse
        from sklearn.preprocessing import normalize

        counts = token_counts(tokens, self.columns)
        counts.data = 1 + np.log(counts.data)  # sublinear tf
        tfidf = normalize(counts @ sparse.diags(self.idf))
        scaled = (np.asarray(pooled, np.float64) - self.pooled_mean) / self.pooled_scale * POOLED_WEIGHT
        return sparse.hstack([tfidf, sparse.csr_matrix(scaled)]).tocsr()

    def set_classifier(self, svm: LinearSVC) -> None:
        """Keep a fitted scikit-learn linear classifier's weights (``coef_``, ``intercept_``, ``classes_``)."""
        self.coef = np.asarray(svm.coef_, np.float32)
        self.intercept = np.asarray(svm.intercept_, np.float32)
        self.classes = np.asarray(svm.classes_)

    def problem(self) -> str | None:
        """Checks that the saved arrays fit together (:meth:`features` and :meth:`decision` can use them)."""
        if self.coef is None or self.intercept is None or self.classes is None:
            return "it has no classifier"
        width = len(self.columns) + len(self.pooled_mean)
        if len(self.idf) != len(self.columns) or len(self.pooled_scale) != len(self.pooled_mean):
            return "its feature arrays differ in length"
        if self.coef.shape != (len(self.classes), width) or self.intercept.shape != (len(self.classes),):
            return f"its weights {self.coef.shape} do not match {len(self.classes)} classes of {width} features"
        return None

    def label_numbers(self) -> np.ndarray:
        return self.classes

    def decision(self, features: scipy.sparse.csr_matrix) -> np.ndarray:
        """Per file and class, the SVM's score (n_files, n_classes)."""
        if self.coef is None:
            raise Inst2vecError("this linear model has no classifier yet (call set_classifier)")
        return np.asarray(features @ self.coef.T.astype(np.float64)) + self.intercept

    def predict(self, features: scipy.sparse.csr_matrix) -> np.ndarray:
        """The label number of the highest-scoring class per file."""
        return self.classes[np.argmax(self.decision(features), axis=1)]
