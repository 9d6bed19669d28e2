"""devmap's ``boost`` model as arrays: fitted scikit-learn histogram GBDTs, saved without pickles.

:meth:`BoostedTrees.from_sklearn` copies every tree's nodes (feature, threshold, where missing values go,
children, leaf values) into flat arrays, and :meth:`BoostedTrees.predict_proba` walks them as scikit-learn does
on raw (unbinned) inputs: a NaN follows ``missing_go_to_left``, any other value goes left when ``<=`` the
threshold. Leaf values are summed tree by tree onto the baseline in float64, in scikit-learn's order, so each
member's probabilities are the ones ``HistGradientBoostingClassifier.predict_proba`` gives (a test holds them
equal). A model may have several members, each fitted on the leading columns of the same rows; its
probabilities are their mean (devmap's ``boost``: trees on the launch and the code, and trees on the launch only).
Reading the fitted trees uses scikit-learn's private attributes (``_predictors``, ``_baseline_prediction``);
that test is what notices if a new scikit-learn changes them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from inst2vec.errors import Inst2vecError
from tasks.model_files import ArrayModel

if TYPE_CHECKING:  # imported when used
    from sklearn.ensemble import HistGradientBoostingClassifier


@dataclass
class BoostedTrees(ArrayModel):
    """The trees of one or more fitted classifiers; node ``i`` of tree ``t`` is entry ``tree_start[t] + i``."""

    KIND = "boost"
    VERSION = 2  # 1: a single member, before 2026-12-06 (no tree_member; baseline and inputs not per member)
    ARRAYS = ("feature", "threshold", "missing_left", "left", "right", "is_leaf", "value", "tree_start", "tree_class",
              "tree_member", "baseline", "classes", "inputs")

    feature: np.ndarray  # (nodes,) input column a split node tests
    threshold: np.ndarray  # (nodes,) go left when the input is <= this
    missing_left: np.ndarray  # (nodes,) bool: NaN goes left
    left: np.ndarray  # (nodes,) child within the tree
    right: np.ndarray  # (nodes,)
    is_leaf: np.ndarray  # (nodes,) bool
    value: np.ndarray  # (nodes,) leaf value (learning rate applied)
    tree_start: np.ndarray  # (trees,) first node of each tree, in the order they are summed
    tree_class: np.ndarray  # (trees,) which raw score a tree adds to (always 0 for two classes)
    tree_member: np.ndarray  # (trees,) which member a tree belongs to
    baseline: np.ndarray  # (members, raw scores) each member's initial raw score
    classes: np.ndarray  # (classes,) label numbers
    inputs: np.ndarray  # (members,) how many leading input columns each member reads
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_sklearn(cls, models: HistGradientBoostingClassifier | Sequence[HistGradientBoostingClassifier],
                     metadata: dict[str, Any] | None = None) -> BoostedTrees:
        """Copy the trees of fitted ``HistGradientBoostingClassifier`` s on numeric (not categorical) inputs: one
        model, or a list of members fitted on the same labels (member ``m`` on the first ``n_features_in_``
        columns of the rows), whose probabilities are averaged."""
        members = list(models) if isinstance(models, (list, tuple)) else [models]
        if any(not np.array_equal(m.classes_, members[0].classes_) for m in members):
            raise Inst2vecError("the members were fitted on different classes")
        trees = [(m, k, predictor.nodes) for m, model in enumerate(members)
                 for iteration in model._predictors for k, predictor in enumerate(iteration)]
        if any(nodes["is_categorical"].any() for _, _, nodes in trees):
            raise Inst2vecError("categorical splits cannot be saved; fit on numeric inputs")
        nodes = np.concatenate([n for _, _, n in trees])
        return cls(feature=nodes["feature_idx"].astype(np.int64), threshold=nodes["num_threshold"].astype(np.float64),
                   missing_left=nodes["missing_go_to_left"].astype(bool), left=nodes["left"].astype(np.int64),
                   right=nodes["right"].astype(np.int64), is_leaf=nodes["is_leaf"].astype(bool),
                   value=nodes["value"].astype(np.float64),
                   tree_start=np.cumsum([0] + [len(n) for _, _, n in trees[:-1]]).astype(np.int64),
                   tree_class=np.array([k for _, k, _ in trees], dtype=np.int64),
                   tree_member=np.array([m for m, _, _ in trees], dtype=np.int64),
                   baseline=np.stack([np.asarray(m._baseline_prediction, np.float64).reshape(-1) for m in members]),
                   classes=np.asarray(members[0].classes_),
                   inputs=np.array([m.n_features_in_ for m in members], dtype=np.int64),
                   metadata=dict(metadata or {}))

    def problem(self) -> str | None:
        """Checks that :meth:`raw_scores` can walk every tree to a leaf and index every array it reads."""
        nodes, trees, members = len(self.feature), len(self.tree_start), len(self.inputs)
        if any(len(getattr(self, a)) != nodes for a in ("threshold", "missing_left", "left", "right", "is_leaf",
                                                         "value")):
            return "its node arrays differ in length"
        if trees == 0 or len(self.tree_class) != trees or len(self.tree_member) != trees:
            return "it has no trees, or its tree arrays differ in length"
        if self.baseline.ndim != 2 or self.baseline.shape[0] != members or (self.inputs < 1).any():
            return f"its baseline {self.baseline.shape} does not match its {members} member(s)"
        if len(self.classes) != max(2, self.baseline.shape[1]):
            return f"{len(self.classes)} classes for {self.baseline.shape[1]} raw score(s)"
        integers = ("feature", "left", "right", "tree_start", "tree_class", "tree_member", "inputs")
        if not all(np.issubdtype(getattr(self, a).dtype, np.integer) for a in integers):
            return "an index array does not hold integers"
        ends = np.append(self.tree_start[1:], nodes)
        if self.tree_start[0] != 0 or (ends <= self.tree_start).any():
            return "its trees do not cover its nodes in order"
        if not (0 <= self.tree_member).all() or (self.tree_member >= members).any() or (self.tree_class < 0).any() \
                or (self.tree_class >= self.baseline.shape[1]).any():
            return "a tree names a member or raw score that does not exist"
        tree = np.repeat(np.arange(trees), ends - self.tree_start)
        local, size = np.arange(nodes) - self.tree_start[tree], (ends - self.tree_start)[tree]
        inner = ~self.is_leaf.astype(bool)
        for child in (self.left, self.right):  # children come after their parent: every walk ends at a leaf
            if ((child[inner] <= local[inner]) | (child[inner] >= size[inner])).any():
                return "a split node's child is not a later node of its tree"
        reads = self.inputs[self.tree_member[tree]]
        if ((self.feature[inner] < 0) | (self.feature[inner] >= reads[inner])).any():
            return "a split reads an input column its member does not take"
        return None

    def label_numbers(self) -> np.ndarray:
        return self.classes

    def raw_scores(self, x: np.ndarray, member: int = 0) -> np.ndarray:
        """One member's summed leaf values plus its baseline, (rows, raw scores); ``x`` has all members' columns."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.inputs.max():
            raise Inst2vecError(f"these trees take rows of {int(self.inputs.max())} inputs, not an array of shape "
                                f"{x.shape}")
        scores = np.tile(self.baseline[member], (len(x), 1))
        rows = np.arange(len(x))
        for start, k in zip(self.tree_start[self.tree_member == member], self.tree_class[self.tree_member == member]):
            node = np.full(len(x), start)
            while not self.is_leaf[node].all():
                inner = ~self.is_leaf[node]
                at, values = node[inner], x[rows[inner], self.feature[node[inner]]]
                go_left = np.where(np.isnan(values), self.missing_left[at], values <= self.threshold[at])
                node[inner] = start + np.where(go_left, self.left[at], self.right[at])
            scores[:, k] += self.value[node]
        return scores

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities, (rows, classes): per member the logistic of the raw score for two classes, else
        the softmax; then the mean over members."""
        return np.mean([probabilities(self.raw_scores(x, m)) for m in range(len(self.inputs))], axis=0)


def probabilities(scores: np.ndarray) -> np.ndarray:
    """scikit-learn's class probabilities from raw scores: the logistic for one raw score, else the softmax."""
    from scipy.special import expit, softmax

    if scores.shape[1] == 1:
        positive = expit(scores[:, 0])
        return np.stack([1 - positive, positive], axis=1)
    return softmax(scores, axis=1)
