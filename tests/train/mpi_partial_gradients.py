"""Run under mpiexec: a model with an output that has no loss, so some variables get no gradient (None), trains
with a DistributedOptimizer as without one (Keras skips such variables; DistributedOptimizer failed on them with
"'NoneType' object has no attribute 'shape'"). Prints "ok LOSS VARIANCE": the last loss and whether the loss-less
head kept its initial weights.
"""
import keras
import numpy as np

from train import Communicator, DistributedOptimizer, distributed_callbacks


def main() -> None:
    comm = Communicator()
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    scored = keras.layers.Dense(2, activation="softmax", name="scored")(hidden)
    unscored = keras.layers.Dense(1, name="unscored")(hidden)
    model = keras.Model(inputs, [scored, unscored])
    before = [np.array(w) for w in model.get_layer("unscored").get_weights()]
    model.compile(optimizer=DistributedOptimizer(keras.optimizers.SGD(0.1), "topk:0.5", comm=comm),
                  loss=["sparse_categorical_crossentropy", None], jit_compile=False)  # JAX compiles by default
    x = np.random.default_rng(comm.rank).random((64, 4)).astype(np.float32)
    y = (x[:, 0] > 0.5).astype(np.int32)
    history = model.fit(x, (y, np.zeros(64, np.float32)), batch_size=8, epochs=2, verbose=0,
                        callbacks=distributed_callbacks(comm))
    after = model.get_layer("unscored").get_weights()
    broadcast = comm.comm.bcast(before, root=0)  # rank 0's initial weights are every rank's
    unchanged = all(np.array_equal(a, b) for a, b in zip(after, broadcast))
    print(f"ok {history.history['loss'][-1]:.6f} {unchanged}", flush=True)


if __name__ == "__main__":
    main()
