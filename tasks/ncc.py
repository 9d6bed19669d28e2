"""The original ncc model in Keras 3, and length-bucketed batches of frozen inst2vec vectors.

Model (Ben-Nun et al. 2018): statement vectors (L2-normalised, frozen) -> LSTM(200) -> LSTM(200)
-> BatchNorm -> Dense(32, relu) -> Dense(k). Devmap concatenates two auxiliary inputs (transfer
size and work-group size, standardised here; the original fed them raw) before the BatchNorm and
adds an auxiliary "language model" output on the LSTM state with loss weight 0.2.

Differences from the original, all deliberate: softmax outputs with cross-entropy (the original put
sigmoid under categorical cross-entropy); batches grouped by length and padded to the longest in the
batch (rounded up to a power of two) instead of one global length — the same 'pre' padding with the
``!UNK`` vector, far less work; sequences longer than ``max_length`` keep their last statements.
Works on any Keras 3 backend (TensorFlow by default, torch on the GPU machines).
"""
from __future__ import annotations

import math
import os
from types import ModuleType
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from inst2vec.errors import Inst2vecError, first_line

if TYPE_CHECKING:  # imported when first needed: see import_keras
    import keras

MIN_LENGTH = 32  # batches are padded to a power of two >= this: few shapes, few retraces


def import_keras() -> ModuleType:
    """Keras, imported when first needed (it takes seconds). A backend that cannot be loaded (``KERAS_BACKEND=jax``
    without JAX installed, a misspelled name) is an :class:`~inst2vec.errors.Inst2vecError` saying so, not the
    traceback of Keras's import."""
    try:
        import keras
    except (ImportError, ValueError) as err:  # ModuleNotFoundError: the backend; ValueError: an unknown name
        chosen = os.environ.get("KERAS_BACKEND")
        backend = f"KERAS_BACKEND={chosen}" if chosen else "its default backend (or the one ~/.keras/keras.json names)"
        raise Inst2vecError(f"Keras cannot load {backend}: {first_line(err)}; install it, or set KERAS_BACKEND to a "
                            "backend that is installed (tensorflow, torch or jax)") from err
    return keras


def build_ncc_model(num_classes: int, dim: int = 200, aux_inputs: int = 0, lstm_units: int = 200,
                    dense_units: int = 32, optimizer: keras.optimizers.Optimizer | None = None) -> keras.Model:
    """The ncc network (Adam unless ``optimizer`` is given); with ``aux_inputs`` it takes
    ``[sequences, aux]`` and has two outputs."""
    keras = import_keras()
    layers = keras.layers
    sequence = keras.Input(shape=(None, dim), name="statements")
    x = layers.LSTM(lstm_units, return_sequences=True, name="lstm_1")(sequence)
    x = layers.LSTM(lstm_units, name="lstm_2")(x)
    inputs, outputs = [sequence], []
    if aux_inputs:
        language_model = layers.Dense(num_classes, activation="softmax", name="language_model")(x)
        aux = keras.Input(shape=(aux_inputs,), name="aux")
        x = layers.Concatenate(name="with_aux")([aux, x])
        inputs.append(aux)
        outputs.append(language_model)
    x = layers.BatchNormalization(name="batch_norm")(x)
    x = layers.Dense(dense_units, activation="relu", name="dense")(x)
    outputs.insert(0, layers.Dense(num_classes, activation="softmax", name="prediction")(x))
    model = keras.Model(inputs, outputs if len(outputs) > 1 else outputs[0], name="ncc")
    model.compile(optimizer=optimizer or keras.optimizers.Adam(),
                  jit_compile=False if optimizer is not None else "auto",  # custom optimizers may call MPI
                  loss=["sparse_categorical_crossentropy"] * len(outputs),
                  loss_weights=[1.0, 0.2][:len(outputs)],
                  metrics=[["accuracy"]] + [[]] * (len(outputs) - 1) if len(outputs) > 1 else ["accuracy"])
    return model


def pad_batch(sequences: Sequence[np.ndarray], vectors: np.ndarray, pad_index: int,
              max_length: int) -> np.ndarray:
    """Vectors of a batch, 'pre'-padded with row ``pad_index`` to a power-of-two length (at most ``max_length``)."""
    longest = max(1, max(len(s) for s in sequences))
    length = min(max_length, max(MIN_LENGTH, 2 ** math.ceil(math.log2(longest))))
    rows = np.full((len(sequences), length), pad_index, dtype=np.int64)
    for i, s in enumerate(sequences):
        s = s[-length:]
        if len(s):
            rows[i, length - len(s):] = s
    return vectors[rows]


def length_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Row groups of similar length; with ``rng`` the members of a length band and the batch order are shuffled."""
    lengths = np.asarray(lengths)
    jitter = rng.random(len(lengths)) if rng is not None else np.arange(len(lengths)) / max(1, len(lengths))
    order = np.lexsort((jitter, lengths))
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        rng.shuffle(batches)
    return batches


def make_batches(sequences: Sequence[np.ndarray], vectors: np.ndarray, pad_index: int,
                 labels: np.ndarray | None = None, aux: np.ndarray | None = None, batch_size: int = 64,
                 max_length: int = 1024, seed: int | None = None, two_outputs: bool = False,
                 part: tuple[int, int] = (0, 1)) -> keras.utils.PyDataset:
    """A Keras ``PyDataset`` over the rows; shuffled each epoch when ``seed`` is given.

    ``part=(rank, ranks)`` keeps every ``ranks``-th row of each batch from ``rank`` on: data-parallel
    ranks with the same seed then see disjoint shares of the same global batches.
    """
    keras = import_keras()

    class SequenceBatches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.rng = np.random.default_rng(seed) if seed is not None else None
            self.lengths = np.array([min(len(s), max_length) for s in sequences])
            self.batches = self._batches()
            self.served: set[int] = set()  # the batches given out since the order last changed

        def _batches(self) -> list[np.ndarray]:
            batches = length_batches(self.lengths, batch_size, self.rng)
            if len(batches) > 1 and len(batches[-1]) < part[1]:  # every rank needs a row of each batch
                batches = batches[:-2] + [np.concatenate(batches[-2:])]
            return batches

        def __len__(self) -> int:
            return len(self.batches)

        def __getitem__(self, k: int):
            self.served.add(k)
            rows = self.batches[k][part[0]::part[1]]
            x = pad_batch([sequences[i] for i in rows], vectors, pad_index, max_length)
            # A tuple even of one: the model's inputs are a list ([statements] or [statements, aux]), and Keras on
            # torch warned that a bare array "doesn't match the expected structure".
            inputs = (x, aux[rows].astype(np.float32)) if aux is not None else (x,)
            if labels is None:
                return (inputs,)
            y = labels[rows]
            return inputs, ((y, y) if two_outputs else y)

        def on_epoch_end(self) -> None:
            """The next order, after a whole pass only. On torch and JAX, ``fit`` also calls this when it starts
            (after a look at the first batch): that changed the order a checkpoint had saved, so a resumed run
            trained on other batches than an uninterrupted one."""
            if self.rng is not None and len(self.served) == len(self.batches):
                self.batches = self._batches()
            self.served = set()

    return SequenceBatches()


def for_fit(batches: keras.utils.PyDataset) -> Any:
    """What to pass to ``model.fit``: on TensorFlow a ``tf.data`` pipeline with every length dimension
    left open (Keras would fix the shapes of the first batches it peeks at), elsewhere the batches."""
    keras = import_keras()
    if keras.backend.backend() != "tensorflow":
        return batches
    import tensorflow as tf

    def spec(array):
        array = np.asarray(array)
        return tf.TensorSpec((None,) * (array.ndim - 1) + ((array.shape[-1],) if array.ndim > 1 else (None,)),
                             tf.as_dtype(array.dtype))

    def generate():
        for k in range(len(batches)):
            yield batches[k]
        batches.on_epoch_end()

    signature = keras.tree.map_structure(spec, batches[0])
    dataset = tf.data.Dataset.from_generator(generate, output_signature=signature)
    return dataset.apply(tf.data.experimental.assert_cardinality(len(batches)))


def predict_proba(model: keras.Model, sequences: Sequence[np.ndarray], vectors: np.ndarray, pad_index: int,
                  aux: np.ndarray | None = None, batch_size: int = 64, max_length: int = 1024) -> np.ndarray:
    """Class probabilities of the main output, in row order (every row, no dropped last batch)."""
    data = make_batches(sequences, vectors, pad_index, aux=aux, batch_size=batch_size, max_length=max_length)
    out = np.zeros((len(sequences), model.output_shape[0][-1] if isinstance(model.output_shape, list)
                    else model.output_shape[-1]), dtype=np.float32)
    for k in range(len(data)):
        (inputs,) = data[k]
        p = model.predict_on_batch(inputs)
        out[data.batches[k]] = np.asarray(p[0] if isinstance(p, (list, tuple)) else p)
    return out
