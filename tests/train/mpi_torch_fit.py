"""Run under ``mpiexec -n 2`` with ``KERAS_BACKEND=torch``: model.fit through DistributedOptimizer with
compression on the torch device; prints ``ok`` when the ranks end with the same weights
and learned."""
import sys

import keras
import numpy as np
from mpi4py import MPI

from train.collectives import Communicator
from train.keras_distributed import DistributedOptimizer, distributed_callbacks
from train.powersgd import TorchArrays


def main() -> int:
    assert keras.backend.backend() == "torch", keras.backend.backend()
    compression = sys.argv[1]
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 20)).astype(np.float32)
    y = (x[:, :5].sum(axis=1) > 0).astype(np.int32)
    comm = Communicator()
    shard = slice(comm.rank, None, comm.size)
    model = keras.Sequential([keras.Input((20,)), keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
    optimizer = DistributedOptimizer(keras.optimizers.Adam(0.01), compression, "ssar_rd", comm)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x[shard], y[shard], batch_size=32, epochs=8, verbose=0, shuffle=False,
                        callbacks=distributed_callbacks(comm))
    reducer = optimizer.allreducer
    powersgd_on_device = isinstance(getattr(reducer.compressor, "arrays", None), TorchArrays)
    assert powersgd_on_device or reducer.device_compressor is not None, "the torch path did not compress on the device"
    weights = np.concatenate([w.reshape(-1) for w in model.get_weights()])
    same = all(np.array_equal(weights, other) for other in MPI.COMM_WORLD.allgather(weights))
    accuracy = history.history["accuracy"][-1]
    print(f"accuracy {accuracy:.3f} same {same} bytes {optimizer.allreducer.comm.bytes_sent}")
    if same and accuracy > 0.85 and comm.rank == 0:
        print("ok")
    return 0 if same and accuracy > 0.85 else 1


if __name__ == "__main__":
    sys.exit(main())
