"""Algorithm classification on POJ-104 (104 classes), the ncc task with a clean protocol.

Programs are compiled with the corpus builder (ncc's POJ-104 recipe; one variant, ``-O0`` by
default). Each class is split at random 3:1:1 into train/validation/test by program, with a fixed
seed per run seed; models are selected on validation data only and scored on the whole test split
(the original's master branch scored a single prediction).
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from inst2vec.data import data_path
from inst2vec.embeddings import Embeddings
from inst2vec.errors import Inst2vecError
from ir_corpus.build import build_corpus
from ir_corpus.compile import Variant
from ir_corpus.sources import unpack_archive
from tasks.datasets import Poj104Data, load_poj104_ir
from tasks.encoding import EncodedFiles, encode_files, encode_ngrams
from tasks.learners import FoldInputs, TrainingSettings, fit_predict_ncc
from tasks.results import summarize

MODELS = ("ncc", "bag", "ngram")
SPLIT = (3, 1, 1)


def compile_poj104(data_root: str | os.PathLike, work_dir: str | os.PathLike, per_class: int | None = None,
                   classes: int | None = None, variant: str = "O0", jobs: int = 0, build: bool = True) -> Poj104Data:
    """Unpack POJ-104 into ``work_dir``, compile the first ``per_class`` programs (by file name) of the
    first ``classes`` classes, and index the IR. Reruns reuse what was compiled; ``build=False`` only
    indexes what an earlier call built (for MPI ranks other than 0)."""
    work_dir = Path(work_dir)
    selection = work_dir / f"selection-{classes or 'all'}x{per_class or 'all'}" / "poj104"
    corpus = work_dir / f"ir-{variant}"
    if build:
        _build_selection(data_root, work_dir, selection, per_class, classes)
        build_corpus([selection], corpus, variants=[Variant.parse(variant)], jobs=jobs)
    # The IR folder is shared by all selections: take only this one's programs.
    chosen = {f"{p.parent.name}/{p.stem}" for p in selection.glob("*/*.cpp")}
    return load_poj104_ir(corpus / "ir", chosen)


def _build_selection(data_root, work_dir: Path, selection: Path, per_class: int | None, classes: int | None) -> None:
    """Copy the chosen programs into ``selection`` (once; marked complete when done)."""
    if (selection.parent / ".complete").exists():
        return
    unpacked = unpack_archive(data_path(data_root, "poj104", "poj104.tar.gz"), work_dir / "unpacked") / "poj104"
    shutil.rmtree(selection.parent, ignore_errors=True)
    class_dirs = sorted((d for d in unpacked.iterdir() if d.is_dir()), key=lambda d: int(d.name))
    for class_dir in class_dirs[:classes]:
        programs = sorted(class_dir.glob("*.cpp"), key=lambda p: int(p.stem))[:per_class]
        (selection / class_dir.name).mkdir(parents=True)
        for program in programs:
            shutil.copyfile(program, selection / class_dir.name / program.name)
    (selection.parent / ".complete").touch()


def split(data: Poj104Data, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per class, programs shuffled with ``seed`` and cut 3:1:1 into train, validation, test rows."""
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[], [], []]
    for label in np.unique(data.labels):
        rows = rng.permutation(np.flatnonzero(data.labels == label))
        cut1 = round(len(rows) * SPLIT[0] / sum(SPLIT))
        cut2 = cut1 + round(len(rows) * SPLIT[1] / sum(SPLIT))
        for part, chunk in zip(parts, (rows[:cut1], rows[cut1:cut2], rows[cut2:])):
            part.extend(chunk.tolist())
    return tuple(np.sort(np.array(p, dtype=np.int64)) for p in parts)  # type: ignore[return-value]


def bag_of_statements(encoded: EncodedFiles) -> "scipy.sparse.csr_matrix":  # noqa: F821
    """TF-IDF weighted counts of statement indices per file (sublinear tf), as a sparse matrix."""
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfTransformer

    vocabulary_size = len(encoded.embeddings.vocabulary)
    rows = np.repeat(np.arange(len(encoded.sequences)), [len(s) for s in encoded.sequences])
    columns = np.concatenate(encoded.sequences) if encoded.sequences else np.zeros(0, np.int64)
    counts = sparse.csr_matrix((np.ones(len(columns)), (rows, columns)),
                               shape=(len(encoded.sequences), vocabulary_size))
    return TfidfTransformer(sublinear_tf=True).fit_transform(counts)


def fit_predict_bag(encoded: EncodedFiles, labels: np.ndarray, train: np.ndarray, validation: np.ndarray,
                    test: np.ndarray, seed: int) -> tuple[np.ndarray, dict]:
    """Ours: a linear model on [TF-IDF bag of statements, flow-pooled vectors]; C chosen on validation."""
    from scipy import sparse

    x = sparse.hstack([bag_of_statements(encoded), _scaled_pooled(encoded, train)]).tocsr()
    return _linear_svm(x, labels, train, validation, test, seed, (0.1, 0.3, 1.0))


def ngram_counts(ngrams: list[np.ndarray], train: np.ndarray,
                 min_files: int = 2) -> "scipy.sparse.csr_matrix":  # noqa: F821
    """Per file, counts of the statement n-grams found in at least ``min_files`` training files (a column each)."""
    from scipy import sparse

    ids, document_counts = np.unique(np.concatenate([np.unique(ngrams[i]) for i in train]), return_counts=True)
    columns = ids[document_counts >= min_files]
    rows = np.repeat(np.arange(len(ngrams)), [len(g) for g in ngrams])
    all_ids = np.concatenate(ngrams)
    position = np.searchsorted(columns, all_ids).clip(max=max(len(columns) - 1, 0))
    hit = columns[position] == all_ids if len(columns) else np.zeros(len(all_ids), bool)
    return sparse.csr_matrix((np.ones(int(hit.sum())), (rows[hit], position[hit])), shape=(len(ngrams), len(columns)))


def fit_predict_ngram(encoded: EncodedFiles, ngrams: list[np.ndarray], labels: np.ndarray, train: np.ndarray,
                      validation: np.ndarray, test: np.ndarray, seed: int) -> tuple[np.ndarray, dict]:
    """Ours: a linear model on [TF-IDF of statement unigrams and bigrams, flow-pooled vectors].

    Unlike ``bag``, statements outside the embeddings' vocabulary are features of their own, and pairs of
    consecutive statements add local order. Columns and IDF come from the training files only; C is
    chosen on validation.
    """
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfTransformer

    counts = ngram_counts(ngrams, train)
    tfidf = TfidfTransformer(sublinear_tf=True).fit(counts[train]).transform(counts)
    x = sparse.hstack([tfidf, _scaled_pooled(encoded, train)]).tocsr()
    predicted, details = _linear_svm(x, labels, train, validation, test, seed, (0.3, 1.0, 3.0, 10.0))
    return predicted, {**details, "ngram_columns": int(counts.shape[1])}


def _scaled_pooled(encoded: EncodedFiles, train: np.ndarray) -> "scipy.sparse.csr_matrix":  # noqa: F821
    """The flow-pooled vectors standardised on the training files, weighted 0.05 beside the TF-IDF columns."""
    from scipy import sparse
    from sklearn.preprocessing import StandardScaler

    return sparse.csr_matrix(StandardScaler().fit(encoded.pooled()[train]).transform(encoded.pooled()) * 0.05)


def _linear_svm(x, labels: np.ndarray, train: np.ndarray, validation: np.ndarray, test: np.ndarray, seed: int,
                cs: tuple[float, ...]) -> tuple[np.ndarray, dict]:
    """A linear SVM per C in ``cs``; the one with the best validation accuracy predicts the test rows."""
    from sklearn.svm import LinearSVC

    best = None
    for c in cs:
        model = LinearSVC(C=c, random_state=seed).fit(x[train], labels[train])
        accuracy = float(np.mean(model.predict(x[validation]) == labels[validation]))
        if best is None or accuracy > best[0]:
            best = (accuracy, c, model)
    return best[2].predict(x[test]), {"validation_accuracy": best[0], "C": best[1]}


def run(data: Poj104Data, model: str, embeddings: Embeddings, embeddings_name: str, seeds: list[int],
        settings: TrainingSettings, jobs: int = 1, save_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Train and test once per seed (the split depends on the seed); returns the result object."""
    if model not in MODELS:
        raise Inst2vecError(f"unknown classifyapp model {model!r}; choose from {', '.join(MODELS)}")
    started = time.perf_counter()
    encoded = encode_files(list(data.files), embeddings, jobs=jobs)
    ngrams = encode_ngrams(list(data.files), jobs=jobs) if model == "ngram" else None
    num_classes = int(data.labels.max()) + 1
    per_seed = []
    for seed in seeds:
        train, validation, test = split(data, seed)
        if model == "ncc":
            save_to = Path(save_dir) / f"classifyapp-ncc-{embeddings_name}-seed{seed}.keras" if save_dir else None
            inputs = FoldInputs(encoded, np.arange(len(data.files)), data.labels, num_classes)
            probabilities, details = fit_predict_ncc(
                inputs, train, test, seed, settings.for_run(f"classifyapp-seed{seed}"), validation=validation,
                save_to=save_to,
                metadata={"task": "classifyapp", "embeddings": embeddings_name, "labels": list(data.classes),
                          "max_length": settings.max_length})
            predicted = probabilities.argmax(axis=1)
        elif model == "ngram":
            predicted, details = fit_predict_ngram(encoded, ngrams, data.labels, train, validation, test, seed)
        else:
            predicted, details = fit_predict_bag(encoded, data.labels, train, validation, test, seed)
        majority = np.bincount(data.labels[train]).argmax()
        per_seed.append({"seed": seed, "accuracy": float(np.mean(predicted == data.labels[test])),
                         "majority_accuracy": float(np.mean(data.labels[test] == majority)),
                         "rows": {"train": len(train), "validation": len(validation), "test": len(test)},
                         "details": details, "test_labels": data.labels[test].tolist(),
                         "predictions": np.asarray(predicted).tolist()})
    protocol = {"split": "per-class random 3:1:1 by program, seed = run seed", "classes": num_classes,
                "programs": len(data.files), "model_selection": "validation accuracy",
                "epochs": settings.epochs, "batch_size": settings.batch_size, "max_length": settings.max_length}
    return summarize("classifyapp", None, model, embeddings_name, per_seed, protocol, started,
                     oov_rate_mean=float(encoded.oov_rate.mean()))
