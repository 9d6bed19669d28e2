"""Training one fold of a model: the ncc LSTM (Keras) or our boosted trees (scikit-learn)."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from inst2vec.errors import Inst2vecError
from tasks import ncc
from tasks.encoding import EncodedFiles

if TYPE_CHECKING:  # imported when used: Keras and scikit-learn take seconds
    import keras
    from sklearn.ensemble import HistGradientBoostingClassifier

#: Models every task accepts; "ncc" is the paper's, "boost" ours.
NEURAL_MODELS = ("ncc",)
#: A run's checkpoint is ``NAME.npz`` in ``--checkpoint-dir``; under MPI each rank keeps ``NAME.npz.rankR``.
CHECKPOINT_SUFFIX = ".npz"


@dataclass
class FoldInputs:
    """What a learner sees of one fold: rows of the task, mapped to encoded files."""

    encoded: EncodedFiles
    positions: np.ndarray  # row -> encoded file
    labels: np.ndarray  # row -> class
    num_classes: int
    features: np.ndarray | None = None  # row -> extra numeric features (aux inputs / tabular)
    aux_columns: list[int] = field(default_factory=list)  # feature columns fed to ncc as aux inputs


@dataclass(frozen=True)
class TrainingSettings:
    """Hyper-parameters of the neural model."""

    epochs: int = 50
    batch_size: int = 64
    max_length: int = 1024
    #: Data-parallel over the MPI ranks of this job when set: a compression spec (``none``,
    #: ``topk:0.01``, ``qsgd:4`` …, see :func:`train.compression.parse_compression`) and an algorithm.
    compression: str | None = None
    algorithm: str = "ssar_rd"
    #: Keep what a sparsifier did not send and add it to the next gradient (see train.compression).
    error_feedback: bool = True
    #: ``adam`` (Keras defaults, the paper's choice) or ``sgd:LR`` (momentum 0.9), see :func:`make_optimizer`.
    optimizer: str = "adam"
    #: Save the training state here after every epoch; with ``resume`` continue from it if it exists.
    checkpoint: str | None = None
    resume: bool = False
    #: Folder for one checkpoint per training run (``for_run`` names it); None: no checkpoints.
    checkpoint_dir: str | None = None
    #: Data-parallel runs only: every message first waits for its time on a link of this many Gb/s
    #: (20 us per message; :class:`train.collectives.SimulatedLink`), to measure time to accuracy
    #: on a slower network than this machine's shared memory. None: no waiting.
    simulated_link_gbps: float | None = None
    #: Set BatchNorm's moving statistics to those of the training data under the current weights
    #: (:func:`recalibrate_batch_norm`) before each validation and at the end of training; they decide
    #: validation and test predictions (:func:`batch_norm_recalibration_callback`).
    recalibrate_batch_norm: bool = False

    def protocol(self, model: str) -> dict[str, Any]:
        """The settings a result's protocol records for ``model``: none for a model that does not train in epochs
        (a result of the Grewe et al. tree said ``"epochs": 50``)."""
        if model not in NEURAL_MODELS:
            return {}
        return {"epochs": self.epochs, "batch_size": self.batch_size, "max_length": self.max_length,
                "optimizer": self.optimizer, "recalibrate_batch_norm": self.recalibrate_batch_norm}

    def resume_record(self, ranks: int, vectors: np.ndarray) -> dict[str, Any]:
        """What a checkpoint must have been trained with for these settings to resume it: all that changes the
        training but the number of epochs (which a resumed run may raise); the embeddings by a digest of their
        vectors."""
        return {"batch_size": self.batch_size, "max_length": self.max_length, "compression": self.compression,
                "algorithm": self.algorithm if self.compression else None,
                "error_feedback": self.error_feedback if self.compression else None, "optimizer": self.optimizer,
                "recalibrate_batch_norm": self.recalibrate_batch_norm, "ranks": ranks,
                "embeddings_sha256": hashlib.sha256(np.ascontiguousarray(vectors).tobytes()).hexdigest()[:16]}

    def for_run(self, name: str) -> "TrainingSettings":
        """These settings with the checkpoint file of run ``name`` (a fold of a seed) in ``checkpoint_dir``."""
        if self.checkpoint_dir is None:
            return self
        return dataclasses.replace(self, checkpoint=os.path.join(self.checkpoint_dir, f"{name}{CHECKPOINT_SUFFIX}"))


def rank_checkpoint(checkpoint: str, rank: int, ranks: int) -> str:
    """The file of ``rank``'s checkpoint: each rank keeps its own, since the weights agree but the error-feedback
    residuals do not."""
    return checkpoint if ranks == 1 else f"{checkpoint}.rank{rank}"


def is_checkpoint(name: str) -> bool:
    """Whether a file named ``name`` is a checkpoint that :func:`rank_checkpoint` names."""
    return name.endswith(CHECKPOINT_SUFFIX) or f"{CHECKPOINT_SUFFIX}.rank" in name


def _scaling(train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and standard deviation of the training rows (1 where a column is constant)."""
    std = train.std(axis=0)
    return train.mean(axis=0), np.where(std > 0, std, 1)


def fit_and_save_ncc(data: FoldInputs, settings: TrainingSettings, path: str, metadata: dict[str, Any]) -> str:
    """Train the ncc model on every row (seed 0) and save it with ``metadata`` for ``inst2vec predict``."""
    everything = np.arange(len(data.labels))
    fit_predict_ncc(data, everything, everything[:1], 0, settings, save_to=path,
                    metadata={**metadata, "max_length": settings.max_length})
    return path


def _scaled_aux(data: FoldInputs, train: np.ndarray, test: np.ndarray, validation: np.ndarray | None
                ) -> tuple[tuple[np.ndarray | None, ...], dict[str, Any]]:
    """The aux inputs of the train, test and validation rows, log(1 + x) standardised by the training rows (all
    None without aux columns), and the scaling, which ``inst2vec predict`` needs to scale a new kernel's the same
    way (``aux_log_mean``, ``aux_log_std``; empty without aux columns)."""
    if not data.aux_columns:
        return (None, None, None), {}
    raw = np.log1p(data.features[:, data.aux_columns])
    mean, std = _scaling(raw[train])
    scaled = tuple(None if rows is None else (raw[rows] - mean) / std for rows in (train, test, validation))
    return scaled, {"aux_log_mean": mean.tolist(), "aux_log_std": std.tolist()}


def _optimizer(settings: TrainingSettings, seed: int) -> tuple[Any, list, tuple[int, int]]:
    """The optimizer of a run, the callbacks it needs and this process's ``(rank, ranks)``: with a compression, a
    :class:`train.keras_distributed.DistributedOptimizer` over MPI; else None for the model's own Adam (XLA allowed;
    an optimizer object turns XLA off, as MPI calls need) or the optimizer ``settings`` names."""
    default = settings.optimizer == "adam" and settings.compression is None
    optimizer = None if default else make_optimizer(settings.optimizer)
    if settings.compression is None:
        return optimizer, [], (0, 1)
    from train.collectives import Communicator, SimulatedLink
    from train.keras_distributed import DistributedOptimizer, distributed_callbacks

    link = None if settings.simulated_link_gbps is None else SimulatedLink(settings.simulated_link_gbps)
    comm = Communicator(link=link)
    optimizer = DistributedOptimizer(optimizer, settings.compression, settings.algorithm, comm,
                                     error_feedback=settings.error_feedback, seed=seed)
    return optimizer, distributed_callbacks(comm), (comm.rank, comm.size)


def fit_predict_ncc(data: FoldInputs, train: np.ndarray, test: np.ndarray, seed: int,
                    settings: TrainingSettings, validation: np.ndarray | None = None,
                    save_to: str | os.PathLike | None = None,
                    metadata: dict[str, Any] | None = None,
                    test_curve: bool = False) -> tuple[np.ndarray, dict[str, Any]]:
    """Train the ncc model on ``train`` rows; return test-row probabilities and the training history.

    With ``validation`` the weights of the epoch with the best validation accuracy are kept (model
    selection on validation data only). With ``test_curve`` the history also has the test rows'
    accuracy after every epoch (``test_accuracy``, never used to choose anything) and the training
    seconds until then (``seconds``, without those evaluations): time to accuracy.
    """
    import keras

    keras.utils.set_random_seed(seed)
    vectors = np.asarray(data.encoded.embeddings.normalized, dtype=np.float32)
    pad = data.encoded.embeddings.vocabulary.unknown_index
    sequences = data.encoded.sequences
    rows_seq = lambda rows: [sequences[p] for p in data.positions[rows]]  # noqa: E731
    (aux_train, aux_test, aux_val), scaling = _scaled_aux(data, train, test, validation)
    metadata = {**(metadata or {}), **scaling}
    optimizer, callbacks, part = _optimizer(settings, seed)
    model = ncc.build_ncc_model(data.num_classes, dim=vectors.shape[1], aux_inputs=len(data.aux_columns),
                                optimizer=optimizer)
    two = bool(data.aux_columns)
    batches = ncc.make_batches(rows_seq(train), vectors, pad, data.labels[train], aux_train, settings.batch_size,
                               settings.max_length, seed=seed, two_outputs=two, part=part)
    monitor, best, initial_epoch = None, None, 0
    if settings.recalibrate_batch_norm:  # before the callbacks that read or save the model at epoch end
        callbacks.append(batch_norm_recalibration_callback(
            ncc.make_batches(rows_seq(train), vectors, pad, aux=aux_train, batch_size=settings.batch_size,
                             max_length=settings.max_length, seed=seed), every_epoch=test_curve))
    curves = curves_callback()
    callbacks.append(curves)
    if validation is not None:
        monitor = ncc.make_batches(rows_seq(validation), vectors, pad, data.labels[validation], aux_val,
                                   settings.batch_size, settings.max_length, two_outputs=two)
        best = best_weights_callback("val_prediction_accuracy" if two else "val_accuracy")
        callbacks.append(best)
    if test_curve:
        accuracy = lambda model: float(np.mean(  # noqa: E731
            ncc.predict_proba(model, rows_seq(test), vectors, pad, aux_test, settings.batch_size,
                              settings.max_length).argmax(axis=1) == data.labels[test]))
        callbacks.append(held_out_curve_callback(accuracy, curves))
    allreducer = getattr(optimizer, "allreducer", None)
    if settings.checkpoint is not None:
        from train.checkpoint import checkpoint_callback, restore

        path = rank_checkpoint(settings.checkpoint, *part)
        states = {name: state for name, state in (("compressor", allreducer), ("selection", best),
                                                  ("curves", curves)) if state is not None}
        record = settings.resume_record(part[1], vectors)
        if settings.resume and os.path.exists(path):
            initial_epoch = restore(path, model, batches, states, settings=record)
        callbacks.append(checkpoint_callback(path, batches, states, settings=record))
    model.fit(ncc.for_fit(batches), epochs=settings.epochs, shuffle=False, initial_epoch=initial_epoch,
              validation_data=None if monitor is None else ncc.for_fit(monitor), verbose=0, callbacks=callbacks)
    if best is not None:
        model.set_weights(best.best_weights)
    probabilities = ncc.predict_proba(model, rows_seq(test), vectors, pad, aux_test, settings.batch_size,
                                      settings.max_length)
    if save_to is not None and part[0] == 0:  # under MPI every rank holds the same model; rank 0 saves it
        save_model(model, save_to, metadata or {})
    history = {k: [round(v, 5) for v in values] for k, values in curves.curves.items()}
    if allreducer is not None:
        history["bytes_sent"] = allreducer.comm.bytes_sent
        history["allreduce_seconds"] = round(allreducer.seconds, 3)
        if allreducer.comm.link is not None:
            history["link_seconds"] = round(allreducer.comm.link_seconds, 3)
    return probabilities, history


def check_optimizer(spec: str) -> float | None:
    """The SGD learning rate of an optimizer spec (None for ``adam``); a clear error for anything else."""
    name, _, rate = spec.partition(":")
    if name == "adam" and not rate:
        return None
    try:
        if name == "sgd" and float(rate) > 0:
            return float(rate)
    except ValueError:
        pass
    raise Inst2vecError(f"an optimizer is 'adam' or 'sgd:LEARNING_RATE' (e.g. sgd:0.05), not {spec!r}")


def make_optimizer(spec: str) -> keras.optimizers.Optimizer:
    """A Keras optimizer from ``adam`` (Keras defaults) or ``sgd:LR`` (SGD with momentum 0.9 and learning rate LR)."""
    import keras

    rate = check_optimizer(spec)
    return keras.optimizers.Adam() if rate is None else keras.optimizers.SGD(rate, momentum=0.9)


def curves_callback() -> keras.callbacks.Callback:
    """A Keras callback that records every epoch's logs (training curves that survive ``--resume``)."""
    import keras

    class Curves(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.curves: dict[str, list[float]] = {}

        def on_epoch_end(self, epoch, logs=None):
            for key, value in (logs or {}).items():
                self.curves.setdefault(key, []).append(float(value))

        def state_dict(self) -> dict:
            return {key: np.asarray(values) for key, values in self.curves.items()}

        def load_state_dict(self, state: dict) -> None:
            self.curves = {key: [float(v) for v in values] for key, values in state.items()}

    return Curves()


def held_out_curve_callback(accuracy: Callable[[keras.Model], float],
                            curves: keras.callbacks.Callback) -> keras.callbacks.Callback:
    """A Keras callback adding ``accuracy(model)`` and the training seconds so far to ``curves`` each epoch.

    ``curves`` is a :func:`curves_callback` (so checkpoints and the history hold them as ``test_accuracy``
    and ``seconds``). The clock runs from the start of training and stops while ``accuracy`` runs; a
    resumed run continues it from the checkpoint's last value.
    """
    import time

    import keras

    class HeldOutCurve(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self._started = time.perf_counter() - curves.curves.get("seconds", [0.0])[-1]

        def on_epoch_end(self, epoch, logs=None):
            stopped = time.perf_counter()
            curves.curves.setdefault("seconds", []).append(stopped - self._started)
            curves.curves.setdefault("test_accuracy", []).append(accuracy(self.model))
            self._started += time.perf_counter() - stopped  # the evaluation is not training time

    return HeldOutCurve()


#: Training batches whose BatchNorm inputs set the recalibrated statistics (4,096 rows at batch size 64).
RECALIBRATION_BATCHES = 64


def recalibrate_batch_norm(model: keras.Model, batches: keras.utils.PyDataset,
                           max_batches: int = RECALIBRATION_BATCHES) -> None:
    """Set every BatchNormalization layer's moving mean and variance to the mean and variance of its
    inputs over the first ``max_batches`` of ``batches`` (the layers before it in inference mode).

    Keras updates the moving statistics with momentum 0.99 while the weights below keep changing, so
    after a few epochs they can lag the features they normalise by several standard deviations, and the
    model predicts badly in inference mode although it fits its batches (docs/RESULTS.md).
    """
    import keras

    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    if not norms:
        return
    probe = keras.Model(model.inputs, [norm.input for norm in norms])
    sums, squares, rows = [0.0] * len(norms), [0.0] * len(norms), [0] * len(norms)
    for k in range(min(len(batches), max_batches)):
        outputs = probe.predict_on_batch(batches[k][0])
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        for i, h in enumerate(outputs):  # features on the last axis, every other axis is a sample
            h = np.asarray(h, dtype=np.float64).reshape(-1, np.shape(h)[-1])
            sums[i], squares[i], rows[i] = sums[i] + h.sum(axis=0), squares[i] + (h * h).sum(axis=0), rows[i] + len(h)
    for norm, total, square, count in zip(norms, sums, squares, rows):
        mean = total / count
        norm.moving_mean.assign(mean.astype(np.float32))
        norm.moving_variance.assign(np.maximum(square / count - mean * mean, 0.0).astype(np.float32))


def batch_norm_recalibration_callback(batches: keras.utils.PyDataset,
                                      every_epoch: bool = False) -> keras.callbacks.Callback:
    """A Keras callback that calls :func:`recalibrate_batch_norm` before fit's validation in each epoch,
    after every epoch when ``every_epoch`` (for callbacks that predict then), and at the end of training.

    Training never reads the moving statistics and a recalibration replaces them, so recalibrating only
    at the end leaves the same final model as recalibrating every epoch, for one forward pass instead of
    one per epoch (thread coarsening trains 50 one-batch epochs per fold)."""
    import keras

    class RecalibrateBatchNorm(keras.callbacks.Callback):
        pending = False

        def on_train_begin(self, logs=None):  # also a resumed run with no epoch left
            self.pending = True

        def on_epoch_begin(self, epoch, logs=None):
            self.pending = True

        def on_test_begin(self, logs=None):  # fit's validation; a later evaluate() finds nothing pending
            self._recalibrate()

        def on_epoch_end(self, epoch, logs=None):
            if every_epoch:
                self._recalibrate()

        def on_train_end(self, logs=None):
            self._recalibrate()

        def _recalibrate(self):
            if self.pending:
                recalibrate_batch_norm(self.model, batches)
                self.pending = False

    return RecalibrateBatchNorm()


def best_weights_callback(monitor: str) -> keras.callbacks.Callback:
    """A Keras callback that remembers the weights of the epoch with the highest ``monitor``."""
    import keras

    class BestWeights(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.best, self.best_weights = -np.inf, None

        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get(monitor)
            if value is not None and value > self.best:
                self.best, self.best_weights = value, self.model.get_weights()

        def on_train_end(self, logs=None):
            if self.best_weights is None:
                self.best_weights = self.model.get_weights()

        def state_dict(self) -> dict:
            """The best value and weights so far, for checkpoints (a resumed run keeps choosing among all epochs)."""
            weights = {str(i): np.asarray(w) for i, w in enumerate(self.best_weights or [])}
            return {"best": float(self.best), "weights": weights}

        def load_state_dict(self, state: dict) -> None:
            self.best = float(state.get("best", -np.inf))
            weights = state.get("weights", {})
            self.best_weights = [weights[str(i)] for i in range(len(weights))] or None

    return BestWeights()


def save_model(model: keras.Model, path: str | os.PathLike, metadata: dict[str, Any]) -> None:
    """``model.save(path)`` plus ``path + '.json'`` with what ``inst2vec predict`` needs to use it."""
    from inst2vec.io import atomic_path, atomic_write, folder_made

    path = Path(path)
    # a failed save leaves neither file half-written, nor the .keras file without its .json, nor a folder it made
    with folder_made(path.parent), atomic_path(path) as tmp:
        model.save(tmp)
        with atomic_write(str(path) + ".json") as f:
            json.dump({**metadata, "kind": "ncc"}, f, indent=1)


def boosted_trees(seed: int) -> HistGradientBoostingClassifier:
    """Our tabular learner: gradient-boosted trees (scikit-learn's histogram GBDT, defaults)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(random_state=seed)
