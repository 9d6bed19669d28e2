"""devmap's ``boost`` model as arrays: the trees of a fitted scikit-learn histogram GBDT, saved without pickles.

:meth:`BoostedTrees.from_sklearn` copies every tree's nodes (feature, threshold, where missing values go,
children, leaf values) into flat arrays, and :meth:`BoostedTrees.predict_proba` walks them as scikit-learn does
on raw (unbinned) inputs: a NaN follows ``missing_go_to_left``, any other value goes left when ``<=`` the
threshold. Leaf values are summed tree by tree onto the baseline in float64, in scikit-learn's order, so the
probabilities are the ones ``HistGradientBoostingClassifier.predict_proba`` gives (a test holds them equal).
Reading the fitted trees uses scikit-learn's private attributes (``_predictors``, ``_baseline_prediction``);
that test is what notices if a new scikit-learn changes them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inst2vec.errors import Inst2vecError
from tasks.model_files import ArrayModel


@dataclass
class BoostedTrees(ArrayModel):
    """The trees of a fitted classifier; node ``i`` of tree ``t`` is entry ``tree_start[t] + i``."""

    KIND = "boost"
    ARRAYS = ("feature", "threshold", "missing_left", "left", "right", "is_leaf", "value", "tree_start", "tree_class",
              "baseline", "classes", "inputs")

    feature: np.ndarray  # (nodes,) input column a split node tests
    threshold: np.ndarray  # (nodes,) go left when the input is <= this
    missing_left: np.ndarray  # (nodes,) bool: NaN goes left
    left: np.ndarray  # (nodes,) child within the tree
    right: np.ndarray  # (nodes,)
    is_leaf: np.ndarray  # (nodes,) bool
    value: np.ndarray  # (nodes,) leaf value (learning rate applied)
    tree_start: np.ndarray  # (trees,) first node of each tree, in the order they are summed
    tree_class: np.ndarray  # (trees,) which raw score a tree adds to (always 0 for two classes)
    baseline: np.ndarray  # (raw scores,) the initial raw score
    classes: np.ndarray  # (classes,) label numbers
    inputs: np.ndarray  # () input columns the model was fitted on
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_sklearn(cls, model, metadata: dict[str, Any] | None = None) -> "BoostedTrees":
        """Copy the trees of a fitted ``HistGradientBoostingClassifier`` on numeric (not categorical) inputs."""
        trees = [(k, predictor.nodes) for iteration in model._predictors for k, predictor in enumerate(iteration)]
        if any(nodes["is_categorical"].any() for _, nodes in trees):
            raise Inst2vecError("categorical splits cannot be saved; fit on numeric inputs")
        nodes = np.concatenate([n for _, n in trees])
        return cls(feature=nodes["feature_idx"].astype(np.int64), threshold=nodes["num_threshold"].astype(np.float64),
                   missing_left=nodes["missing_go_to_left"].astype(bool), left=nodes["left"].astype(np.int64),
                   right=nodes["right"].astype(np.int64), is_leaf=nodes["is_leaf"].astype(bool),
                   value=nodes["value"].astype(np.float64),
                   tree_start=np.cumsum([0] + [len(n) for _, n in trees[:-1]]).astype(np.int64),
                   tree_class=np.array([k for k, _ in trees], dtype=np.int64),
                   baseline=np.asarray(model._baseline_prediction, np.float64).reshape(-1),
                   classes=np.asarray(model.classes_), inputs=np.array(model.n_features_in_),
                   metadata=dict(metadata or {}))

    def raw_scores(self, x: np.ndarray) -> np.ndarray:
        """The summed leaf values plus the baseline, (rows, raw scores)."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.inputs:
            raise Inst2vecError(f"these trees take rows of {int(self.inputs)} inputs, not an array of shape {x.shape}")
        scores = np.tile(self.baseline, (len(x), 1))
        rows = np.arange(len(x))
        for start, k in zip(self.tree_start, self.tree_class):
            node = np.full(len(x), start)
            while not self.is_leaf[node].all():
                inner = ~self.is_leaf[node]
                at, values = node[inner], x[rows[inner], self.feature[node[inner]]]
                go_left = np.where(np.isnan(values), self.missing_left[at], values <= self.threshold[at])
                node[inner] = start + np.where(go_left, self.left[at], self.right[at])
            scores[:, k] += self.value[node]
        return scores

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities, (rows, classes): the logistic of the raw score for two classes, else the softmax."""
        from scipy.special import expit, softmax

        scores = self.raw_scores(x)
        if scores.shape[1] == 1:
            positive = expit(scores[:, 0])
            return np.stack([1 - positive, positive], axis=1)
        return softmax(scores, axis=1)
