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

from inst2vec.batch import progress_bar
from inst2vec.data import data_path
from inst2vec.embeddings import Embeddings
from inst2vec.errors import Inst2vecError
from inst2vec.io import folder_lock
from ir_corpus.build import build_corpus
from ir_corpus.compile import Variant
from ir_corpus.sources import unpack_archive
from tasks.datasets import Poj104Data, load_poj104_ir
from tasks.encoding import EncodedFiles, encode_files
from tasks.learners import FoldInputs, TrainingSettings, fit_predict_ncc
from tasks.linear_model import LinearModel
from tasks.results import file_label, summarize

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
        archive = data_path(data_root, "poj104", "poj104.tar.gz")  # missing: refused before the work folder is made
        with folder_lock(work_dir, f"another run compiling POJ-104 in {work_dir}"):  # its unpacking and selection
            _build_selection(archive, work_dir, selection, per_class, classes)
            build_corpus([selection], corpus, variants=[Variant.parse(variant)], jobs=jobs)
    # The IR folder is shared by all selections: take only this one's programs.
    chosen = {f"{p.parent.name}/{p.stem}" for p in selection.glob("*/*.cpp")}
    return load_poj104_ir(corpus / "ir", chosen)


def _build_selection(archive: Path, work_dir: Path, selection: Path, per_class: int | None, classes: int | None
                     ) -> None:
    """Copy the chosen programs of POJ-104's ``archive`` into ``selection`` (once; marked complete when done)."""
    if (selection.parent / ".complete").exists():
        return
    unpacked = unpack_archive(archive, work_dir / "unpacked") / "poj104"
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


#: classifyapp's linear models: (a token must be in this many training files to get a column, C grid).
LINEAR_MODELS = {"bag": (1, (0.1, 0.3, 1.0)), "ngram": (2, (0.3, 1.0, 3.0, 10.0))}


def file_tokens(encoded: EncodedFiles, model: str) -> list[np.ndarray]:
    """The token ids a linear model counts per file.

    ``bag``: the statements' vocabulary indices (every statement outside the vocabulary is ``!UNK``).
    ``ngram``: hashes of the statements by their own text and of consecutive statement pairs, so
    out-of-vocabulary statements are features of their own and pairs add local order (``encoded``
    must hold n-grams: ``encode_files(..., ngrams=True)``).
    """
    if model == "bag":
        return encoded.sequences
    if encoded.ngrams is None:
        raise Inst2vecError("the ngram model needs files encoded with ngrams=True")
    return encoded.ngrams


def fit_linear(model: str, encoded: EncodedFiles, labels: np.ndarray, train: np.ndarray, validation: np.ndarray,
               seed: int) -> tuple[LinearModel, "scipy.sparse.csr_matrix", dict]:  # noqa: F821
    """Ours (``bag`` or ``ngram``): a linear SVM on [TF-IDF of the files' tokens, flow-pooled vectors].

    Columns, IDF and scaling come from the training files only; C is chosen on validation. Returns the
    fitted model, every file's features (one row per file) and the selection details.
    """
    min_files, cs = LINEAR_MODELS[model]
    tokens, pooled = file_tokens(encoded, model), encoded.pooled()
    fitted = LinearModel.fit_features([tokens[i] for i in train], pooled[train], min_files)
    x = fitted.features(tokens, pooled)
    svm, details = _linear_svm(x, labels, train, validation, seed, cs)
    fitted.set_classifier(svm)
    return fitted, x, {**details, "columns": len(fitted.columns)}


def _linear_svm(x, labels: np.ndarray, train: np.ndarray, validation: np.ndarray, seed: int,
                cs: tuple[float, ...]) -> tuple[Any, dict]:
    """A linear SVM per C in ``cs``; returns the one with the best validation accuracy."""
    from sklearn.svm import LinearSVC

    best = None
    for c in cs:
        model = LinearSVC(C=c, random_state=seed).fit(x[train], labels[train])
        accuracy = float(np.mean(model.predict(x[validation]) == labels[validation]))
        if best is None or accuracy > best[0]:
            best = (accuracy, c, model)
    return best[2], {"validation_accuracy": best[0], "C": best[1]}


def run(data: Poj104Data, model: str, embeddings: Embeddings, embeddings_name: str, seeds: list[int],
        settings: TrainingSettings, jobs: int = 1, save_dir: str | os.PathLike | None = None,
        progress: bool | None = None) -> dict[str, Any]:
    """Train and test once per seed (the split depends on the seed); returns the result object. ``progress``: a
    bar over the seeds on stderr (default: when stderr is a terminal)."""
    if model not in MODELS:
        raise Inst2vecError(f"unknown classifyapp model {model!r}; choose from {', '.join(MODELS)}")
    started = time.perf_counter()
    encoded = encode_files(list(data.files), embeddings, jobs=jobs, progress=progress, ngrams=model == "ngram")
    num_classes = int(data.labels.max()) + 1
    per_seed = []
    with progress_bar(len(seeds), f"classifyapp {model}", "seed", progress) as bar:
        for seed in seeds:
            train, validation, test = split(data, seed)
            if model == "ncc":
                save_to = Path(save_dir) / f"classifyapp-ncc-{file_label(embeddings_name)}-seed{seed}.keras" \
                    if save_dir else None
                inputs = FoldInputs(encoded, np.arange(len(data.files)), data.labels, num_classes)
                probabilities, details = fit_predict_ncc(
                    inputs, train, test, seed, settings.for_run(f"classifyapp-seed{seed}"), validation=validation,
                    save_to=save_to,
                    metadata={"task": "classifyapp", "embeddings": embeddings_name, "labels": list(data.classes),
                              "max_length": settings.max_length})
                predicted = probabilities.argmax(axis=1)
            else:
                fitted, features, details = fit_linear(model, encoded, data.labels, train, validation, seed)
                predicted = fitted.predict(features[test])
                if save_dir:
                    fitted.metadata = {"task": "classifyapp", "model": model, "embeddings": embeddings_name,
                                       "labels": list(data.classes), "seed": seed, **details}
                    fitted.save(Path(save_dir) / f"classifyapp-{model}-{file_label(embeddings_name)}-seed{seed}.npz")
            majority = np.bincount(data.labels[train]).argmax()
            per_seed.append({"seed": seed, "accuracy": float(np.mean(predicted == data.labels[test])),
                             "majority_accuracy": float(np.mean(data.labels[test] == majority)),
                             "rows": {"train": len(train), "validation": len(validation), "test": len(test)},
                             "details": details, "test_labels": data.labels[test].tolist(),
                             "predictions": np.asarray(predicted).tolist()})
            bar.update()
    protocol = {"split": "per-class random 3:1:1 by program, seed = run seed", "classes": num_classes,
                "programs": len(data.files), "model_selection": "validation accuracy",
                **settings.protocol(model)}
    return summarize("classifyapp", None, model, embeddings_name, per_seed, protocol, started,
                     oov_rate_mean=float(encoded.oov_rate.mean()))
