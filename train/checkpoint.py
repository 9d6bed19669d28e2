"""Checkpoints that resume training bit-identically: weights, optimizer slots, the batch order's random
state and named extra states, in one ``.npz`` — the training loop's are the gradient compressor's
(error-feedback residuals included), the best validation epoch so far and the training curves.

``checkpoint_callback(path, dataset, states)`` writes after every epoch (atomically; under MPI each rank
writes its own file, since error-feedback residuals differ between ranks); ``restore(path, model,
dataset, states)`` loads it into a freshly built model and returns the epoch to pass to
``model.fit(initial_epoch=…)``. ``states`` maps a name to anything with ``state_dict()`` (nested dicts
of arrays and JSON values) and ``load_state_dict()``. Nothing is unpickled: arrays and a JSON header.
"""
from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from inst2vec.errors import Inst2vecError
from inst2vec.io import atomic_write, load_numpy

if TYPE_CHECKING:  # imported when used: Keras takes seconds
    import keras


def _flatten_state(prefix: str, state, arrays: dict, header: dict) -> None:
    """Split a nested dict of arrays and JSON values into ``arrays`` and ``header``."""
    if isinstance(state, dict):
        for key, value in state.items():
            _flatten_state(f"{prefix}/{key}", value, arrays, header)
    elif isinstance(state, np.ndarray):
        arrays[prefix] = state
    else:
        header[prefix] = state


def _unflatten(arrays: dict, header: dict, prefix: str):
    out: dict = {}
    for source in (arrays, header):
        for key, value in source.items():
            if not key.startswith(prefix + "/"):
                continue
            parts = key[len(prefix) + 1:].split("/")
            node = out
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = np.asarray(value) if source is arrays else value
    return out


def save_checkpoint(path: str | os.PathLike, model: keras.Model, epoch: int,
                    dataset: keras.utils.PyDataset | None = None, states: Mapping[str, Any] | None = None,
                    settings: dict | None = None) -> None:
    """Write the training state after ``epoch`` epochs (atomically), with the ``settings`` it was trained with
    (JSON values), which :func:`restore` compares."""
    arrays = {f"weight/{i}": np.asarray(w) for i, w in enumerate(model.get_weights())}
    arrays.update({f"optimizer/{i}": np.asarray(v) for i, v in enumerate(model.optimizer.variables)})
    header: dict = {"epoch": epoch, "settings": settings}
    if dataset is not None:
        header["data/rng"] = dataset.rng.bit_generator.state if dataset.rng is not None else None
        arrays["data/order"] = np.concatenate(dataset.batches)
        arrays["data/lengths"] = np.array([len(b) for b in dataset.batches])
    for name, state in (states or {}).items():
        _flatten_state(f"state/{name}", state.state_dict(), arrays, header)
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with atomic_write(path, "wb") as f:
        np.savez(f, **arrays)


def restore(path: str | os.PathLike, model: keras.Model, dataset: keras.utils.PyDataset | None = None,
            states: Mapping[str, Any] | None = None, settings: dict | None = None) -> int:
    """Load a checkpoint into ``model`` (compiled, same architecture); returns the epochs already done.

    Raises:
        Inst2vecError: the file is not a readable checkpoint, not one of this model, or one written with other
            ``settings`` than these (names the file and the settings that differ).
    """
    try:
        arrays = load_numpy(path, archive=True)
        header = json.loads(arrays.pop("header").tobytes().decode())
    except (OSError, ValueError, KeyError) as err:  # truncated, damaged, foreign
        raise _not_a_checkpoint(path, err) from err
    _check_settings(path, header.get("settings"), settings)  # before anything is loaded into the model
    try:
        model.set_weights([arrays[f"weight/{i}"] for i in range(len(model.get_weights()))])
        model.optimizer.build(model.trainable_variables)
        for i, variable in enumerate(model.optimizer.variables):
            variable.assign(arrays[f"optimizer/{i}"])
    except (ValueError, KeyError) as err:  # another model's checkpoint
        raise _not_a_checkpoint(path, err) from err
    if dataset is not None:
        if header.get("data/rng") is not None:
            dataset.rng.bit_generator.state = header["data/rng"]
        order, lengths = arrays["data/order"], arrays["data/lengths"]
        dataset.batches = np.split(order, np.cumsum(lengths)[:-1])
    for name, state in (states or {}).items():
        saved = _unflatten(arrays, header, f"state/{name}")
        if not saved:
            raise Inst2vecError(f"{path}: the checkpoint holds no {name} state; it was written by another "
                                "configuration or version (delete it to start over)")
        state.load_state_dict(saved)
    return int(header["epoch"])


def _not_a_checkpoint(path: str | os.PathLike, err: Exception) -> Inst2vecError:
    return Inst2vecError(f"{path}: not a checkpoint of this model ({type(err).__name__}: {err}); delete it to "
                         "start over")


def _check_settings(path: str | os.PathLike, saved: dict | None, current: dict | None) -> None:
    """Refuse to resume training that was run with other settings (it went on silently, mixing the two)."""
    if current is None or saved == current:
        return
    if saved is None:
        raise Inst2vecError(f"{path}: the checkpoint does not record the settings it was trained with (an older "
                            "version wrote it); delete it to start over")
    differ = ", ".join(f"{key} {saved.get(key)!r} there, {current.get(key)!r} now"
                       for key in sorted(set(saved) | set(current)) if saved.get(key) != current.get(key))
    raise Inst2vecError(f"{path}: written by a run with other settings ({differ}); resume with the same ones, "
                        "or delete the checkpoints to start over")


def checkpoint_callback(path: str | os.PathLike, dataset: keras.utils.PyDataset | None = None,
                        states: Mapping[str, Any] | None = None,
                        settings: dict | None = None) -> keras.callbacks.Callback:
    """A Keras callback that saves a checkpoint after every epoch (put it after the callbacks whose state
    it saves, so that it holds their state after the same epoch), recording ``settings``."""
    import keras

    class Checkpoint(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            save_checkpoint(path, self.model, epoch + 1, dataset, states, settings)

    return Checkpoint()
