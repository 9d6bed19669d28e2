"""Run under mpiexec: rank 1 hangs or dies before the second allreduce, or (``uneven``) model.fit gives rank 1
one step fewer than the others, or a callback listed before distributed_callbacks() stops training (``stop``) or
lowers the learning rate (``lr``) on rank 1 only after epoch 1, or the model is compiled for XLA (``jit``), or
trained under the mixed_float16 policy (``float16``), or with a plain optimizer (``plain``); the job must end with
an error.

Usage: mpi_faults.py {hang,die,uneven,stop,lr,jit,float16,plain} TIMEOUT
"""
import os
import sys
import time

import numpy as np

from train.keras_distributed import GradientAllreducer


def main() -> None:
    mode, timeout = sys.argv[1], float(sys.argv[2])
    if mode in ("uneven", "stop", "lr", "jit", "float16", "plain"):
        fit_with_rank_1_differing(mode, timeout)
        return
    reducer = GradientAllreducer("topk:0.1", timeout=timeout)
    gradient = np.ones(1000, np.float32)
    reducer(gradient)
    if reducer.comm.rank == 1:
        if mode == "die":
            os._exit(7)
        time.sleep(3600)
    reducer(gradient)
    print("not reached", flush=True)


def fit_with_rank_1_differing(mode: str, timeout: float) -> None:
    import keras

    from train import Communicator, DistributedOptimizer, distributed_callbacks

    if mode == "float16":
        keras.mixed_precision.set_global_policy("mixed_float16")
    comm = Communicator()
    rows = 64 - 8 * (comm.rank == 1 and mode == "uneven")  # 8 steps of 8 rows, 7 on rank 1

    def decide_alone(epoch, logs):  # as EarlyStopping or ReduceLROnPlateau would on this rank's own metrics
        if comm.rank == 1 and mode == "stop":
            model.stop_training = True
        if comm.rank == 1 and mode == "lr":
            model.optimizer.learning_rate = 0.01

    x, y = np.ones((rows, 4), np.float32), np.zeros(rows, np.int32)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    optimizer = keras.optimizers.SGD(0.1)
    if mode != "plain":
        optimizer = DistributedOptimizer(optimizer, "topk:0.5", comm=comm, timeout=timeout)
    model.compile(optimizer=optimizer,
                  loss="sparse_categorical_crossentropy", jit_compile=mode == "jit")
    callbacks = [keras.callbacks.LambdaCallback(on_epoch_end=decide_alone), *distributed_callbacks(comm, timeout)]
    model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=callbacks)
    print("not reached", flush=True)


if __name__ == "__main__":
    main()
