"""Data-parallel Keras 3 training over MPI, in the spirit of Horovod's ``DistributedOptimizer``.

``DistributedOptimizer(optimizer, compression="topk:0.01", algorithm="ssar_rd")`` returns an optimizer
of the same class whose ``apply`` first averages the gradients of all ranks through our compressed
allreduce (one flat vector per step, so every rank makes the same MPI calls in the same order).
Works inside ``model.fit`` on the TensorFlow backend (through ``tf.numpy_function``) and on torch
(eager; compression runs on the gradients' device with :class:`train.device_compression.TorchCompressor`,
and only the compressed payload is copied to the host for MPI). Callbacks broadcast rank 0's initial weights,
average the logged metrics and the non-trainable weights (BatchNorm statistics) across ranks after
every epoch.

A :class:`Watchdog` aborts the whole MPI job with a clear message when a collective does not
complete within ``timeout`` seconds (a rank that hangs or died), instead of hanging silently.
"""
from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING

import numpy as np

from train.allreduce import DenseOutput, allreduce, allreduce_payload
from train.collectives import ALGORITHMS, Communicator
from train.compression import parse_compression

if TYPE_CHECKING:  # imported when used: Keras takes seconds, torch is for its torch backend only
    import keras
    import torch

DEFAULT_TIMEOUT = 60.0


class Watchdog:
    """``with watchdog("what"):`` — abort all ranks if the block takes longer than ``timeout`` seconds."""

    def __init__(self, comm: Communicator, timeout: float = DEFAULT_TIMEOUT):
        self.comm, self.timeout = comm, timeout
        self._timer: threading.Timer | None = None
        self._what = ""

    def _expire(self) -> None:
        print(f"error: rank {self.comm.rank}: {self._what} did not complete within {self.timeout:.0f} s "
              f"(another rank died or hangs); aborting the MPI job", file=sys.stderr, flush=True)
        self.comm.comm.Abort(3)

    def __call__(self, what: str) -> "Watchdog":
        self._what = what
        return self

    def __enter__(self) -> "Watchdog":
        self._timer = threading.Timer(self.timeout, self._expire)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._timer is not None:
            self._timer.cancel()


class GradientAllreducer:
    """Averages a flat float32 gradient over ranks with a compressor and an allreduce algorithm."""

    def __init__(self, compression: str = "none", algorithm: str = "ssar_rd", comm: Communicator | None = None,
                 error_feedback: bool = True, seed: int = 0, timeout: float = DEFAULT_TIMEOUT):
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unknown allreduce algorithm {algorithm!r}; choose from {', '.join(ALGORITHMS)}")
        self.comm = comm or Communicator()
        self.compression, self.algorithm = compression, algorithm
        # Every rank draws its own random numbers (stochastic rounding, random-k).
        self.compressor = parse_compression(compression, error_feedback, seed=seed * 1000 + self.comm.rank)
        self.device_seed = seed * 1000 + self.comm.rank
        self.device_compressor = None  # a TorchCompressor, made by the first reduce_tensor call
        self._device_state: dict | None = None
        self.watchdog = Watchdog(self.comm, timeout)
        self.steps, self.seconds = 0, 0.0
        self.output = DenseOutput()  # sparse sums land here; every step returns a new averaged array
        self.shapes: list[tuple[int, ...]] | None = None  # the gradients' shapes, for PowerSGD's matrices

    def _step(self, summing):
        """``summing()``, the sum over ranks of this step's gradients, under the watchdog, timed and counted."""
        start = time.perf_counter()
        with self.watchdog(f"gradient allreduce of step {self.steps + 1}"):
            total = summing()
        self.steps += 1
        self.seconds += time.perf_counter() - start
        return total

    def __call__(self, flat: np.ndarray) -> np.ndarray:
        """The average over ranks of a host gradient (compressed on the host)."""
        total = self._step(lambda: allreduce(self.comm, flat, self.compressor, self.algorithm, key="gradient",
                                             out=self.output, shapes=self.shapes))
        return (total / self.comm.size).astype(np.float32, copy=False)

    def reduce_tensor(self, flat: torch.Tensor) -> torch.Tensor:
        """The average over ranks of a torch gradient, compressed on its own device; a tensor on that device."""
        import torch

        from train.device_compression import TorchCompressor

        if self.compressor.reduction == "lowrank":  # PowerSGD: its factors go to the host, the rest stays
            return self._step(lambda: self.compressor.allreduce(self.comm, flat, self.shapes)) / self.comm.size
        if self.device_compressor is None:
            self.device_compressor = TorchCompressor(self.compressor, flat.device, self.device_seed)
            if self._device_state:
                self.device_compressor.load_state_dict(self._device_state)

        def summing():
            if self.compressor.reduction == "dense" and not self.device_compressor.error_feedback:
                return self.comm.allreduce_dense(flat.detach().cpu().numpy().astype(np.float32))
            payload = self.device_compressor.compress(flat)
            return allreduce_payload(self.comm, payload, self.compressor, self.algorithm, self.output)

        return torch.from_numpy(self._step(summing) / np.float32(self.comm.size)).to(flat.device)

    def state_dict(self) -> dict:
        if self.device_compressor is not None:
            return {"device": self.device_compressor.state_dict()}
        return self.compressor.state_dict() if hasattr(self.compressor, "state_dict") else {}

    def load_state_dict(self, state: dict) -> None:
        if "device" in state:
            self._device_state = state["device"]
            if self.device_compressor is not None:
                self.device_compressor.load_state_dict(self._device_state)
        elif state:
            self.compressor.load_state_dict(state)


def _reduce_gradients(grads, reducer: GradientAllreducer):
    import keras
    from keras import ops

    sizes = [int(np.prod(g.shape)) for g in grads]
    reducer.shapes = [tuple(int(d) for d in g.shape) for g in grads]
    flat = ops.concatenate([ops.reshape(ops.cast(g, "float32"), (-1,)) for g in grads])
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        reduced = tf.numpy_function(reducer, [flat], tf.float32, stateful=True)
        reduced.set_shape(flat.shape)
    elif keras.backend.backend() == "torch":  # compression on the gradients' device, the payload to the host
        reduced = reducer.reduce_tensor(flat)
    else:
        reduced = ops.convert_to_tensor(reducer(np.asarray(ops.convert_to_numpy(flat))))
    pieces = ops.split(reduced, np.cumsum(sizes)[:-1].tolist()) if len(sizes) > 1 else [reduced]
    return [ops.cast(ops.reshape(p, g.shape), g.dtype) for p, g in zip(pieces, grads)]


def DistributedOptimizer(optimizer: keras.optimizers.Optimizer, compression: str = "none",  # noqa: N802
                         algorithm: str = "ssar_rd", comm: Communicator | None = None, error_feedback: bool = True,
                         seed: int = 0, timeout: float = DEFAULT_TIMEOUT) -> keras.optimizers.Optimizer:
    """A copy of ``optimizer`` (same class and config) that averages gradients over MPI ranks first."""
    if not hasattr(optimizer, "get_config") or not hasattr(optimizer, "apply"):
        raise TypeError(f"DistributedOptimizer takes a Keras optimizer object (keras.optimizers.Adam(…)), not "
                        f"{optimizer!r}")
    reducer = GradientAllreducer(compression, algorithm, comm, error_feedback, seed, timeout)
    base = type(optimizer)

    class Distributed(base):
        def apply(self, grads, trainable_variables=None):
            grads = list(grads)
            present = [i for i, g in enumerate(grads) if g is not None]  # None: no gradient (Keras skips it)
            if present:
                for i, reduced in zip(present, _reduce_gradients([grads[i] for i in present], reducer)):
                    grads[i] = reduced
            return super().apply(grads, trainable_variables)

        def __repr__(self) -> str:
            return (f"<Distributed {base.__name__}: compression {reducer.compression}, algorithm "
                    f"{reducer.algorithm}, error feedback {'on' if error_feedback else 'off'}, "
                    f"{reducer.comm.size} rank(s)>")

    Distributed.__name__ = base.__name__
    Distributed.__qualname__ = f"DistributedOptimizer({base.__name__})"
    distributed = Distributed.from_config(optimizer.get_config())
    distributed.allreducer = reducer
    return distributed


def _learning_rate(model) -> float | None:
    """The optimizer's current learning rate, or None when it has none (or the model no optimizer)."""
    import keras

    optimizer = getattr(model, "optimizer", None)
    try:
        return float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    except (AttributeError, TypeError, ValueError):
        return None


def distributed_callbacks(comm: Communicator | None = None, timeout: float = DEFAULT_TIMEOUT) -> list:
    """Broadcast rank 0's initial weights; after each epoch average the metrics (each over the ranks that logged
    it) and the non-trainable weights (over ``comm``, by default all ranks of the job), and refuse ranks that then
    disagree on stopping or on the learning rate. List these callbacks before others that read the metrics."""
    import keras

    comm = comm or Communicator()

    watchdog = Watchdog(comm, timeout)

    class Synchronize(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            distributed = hasattr(self.model.optimizer, "allreducer")
            loss_scaled = hasattr(getattr(self.model.optimizer, "inner_optimizer", None), "allreducer")
            if comm.size > 1 and not distributed and not loss_scaled:
                raise ValueError("the model's optimizer is no train.DistributedOptimizer, so each rank would train "
                                 "weights of its own from its own rows; compile the model with "
                                 "optimizer=train.DistributedOptimizer(...)")
            if keras.backend.backend() in ("tensorflow", "jax") and self.model.jit_compile and \
                    distributed:  # refused before XLA fails on the Python call
                raise ValueError("compile the model with jit_compile=False: a DistributedOptimizer's allreduce runs "
                                 "in Python, which XLA cannot compile (Keras turns XLA on by default with "
                                 "TensorFlow on a GPU, and with JAX)")
            if loss_scaled:
                raise ValueError("a DistributedOptimizer cannot train under loss scaling (the mixed_float16 policy "
                                 "wraps it in a LossScaleOptimizer, which skips the steps whose gradients overflow "
                                 "on its own rank before they are averaged, so ranks would skip different steps); "
                                 "use the mixed_bfloat16 policy, which needs no loss scaling, or float32")
            with watchdog("initial weight broadcast"):
                # Every step is a collective: ranks with more steps than another would wait for it for ever.
                steps = comm.comm.allgather(self.params.get("steps"))
                if len(set(steps)) > 1:
                    raise ValueError(f"the ranks would take different numbers of steps per epoch ({steps}, by "
                                     "rank); give every rank as many rows (docs/distributed.md)")
                self.model.set_weights(comm.comm.bcast(self.model.get_weights(), root=0))

        def on_epoch_end(self, epoch, logs=None):
            with watchdog(f"synchronisation after epoch {epoch + 1}"):
                # Trainable weights agree already (same averaged gradients); the non-trainable ones
                # (BatchNorm statistics) are averaged so every rank, and a checkpoint, holds the same model.
                weights = self.model.get_weights()
                trainable = {id(v) for v in self.model.trainable_weights}
                for i, variable in enumerate(self.model.weights):
                    if id(variable) not in trainable:
                        w = np.asarray(weights[i], np.float32)
                        weights[i] = comm.allreduce_dense(w.reshape(-1)).reshape(w.shape) / comm.size
                self.model.set_weights(weights)
                # One collective: every rank's metrics, stop decision and learning rate.
                gathered = comm.comm.allgather(({name: float(value) for name, value in (logs or {}).items()},
                                                bool(self.model.stop_training), _learning_rate(self.model)))
                # Each metric averaged over the ranks that logged it, so a validation run on some ranks only (say
                # rank 0) reaches every rank's logs; ranks with other metrics broke the sum of one array per rank.
                metrics = [ranks_metrics for ranks_metrics, _, _ in gathered]
                if logs is not None:
                    for name in sorted(set().union(*metrics)):
                        logs[name] = float(np.mean([ranks_metrics[name] for ranks_metrics in metrics
                                                    if name in ranks_metrics]))
                # A callback that ran before this one saw its own rank's metrics. Had it stopped training on some
                # ranks only, the others would wait for them at the next step until the watchdog ended the job; had
                # it changed the learning rate on some, the ranks' weights would part ways without a word.
                for what, values in (("stop training", [stop for _, stop, _ in gathered]),
                                     ("learning rate", [rate for _, _, rate in gathered])):
                    if len(set(values)) > 1:
                        shown = [float(f"{v:.7g}") if isinstance(v, float) else v for v in values]
                        raise RuntimeError(
                            f"after epoch {epoch + 1} the ranks disagree on {what} ({shown}, by rank): a callback "
                            "listed before train.distributed_callbacks() (EarlyStopping, ReduceLROnPlateau, ...) "
                            "decided on its own rank's metrics; list distributed_callbacks() first, so that the "
                            "others see the metrics averaged over the ranks")

    return [Synchronize()]
