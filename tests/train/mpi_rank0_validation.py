"""Run under mpiexec: rank 0 alone validates, and an EarlyStopping on val_loss follows distributed_callbacks().
Every rank must get rank 0's validation metrics and stop at the same epoch; prints "ok HISTORY" per rank. (Ranks
with other metrics failed: "operands could not be broadcast together", the others waiting for the watchdog.)
"""
import json

import keras
import numpy as np

from train import Communicator, DistributedOptimizer, distributed_callbacks


def main() -> None:
    comm = Communicator()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=DistributedOptimizer(keras.optimizers.SGD(0.1), "topk:0.5", comm=comm),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=False)
    x = np.random.default_rng(comm.rank).random((64, 4)).astype(np.float32)
    y = (x[:, 0] > 0.5).astype(np.int32)
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=1, min_delta=1.0)  # stops after epoch 2
    history = model.fit(x, y, batch_size=8, epochs=20, verbose=0, validation_data=(x, y) if comm.rank == 0 else None,
                        callbacks=[*distributed_callbacks(comm), stop])
    print("ok " + json.dumps(history.history, sort_keys=True), flush=True)


if __name__ == "__main__":
    main()
