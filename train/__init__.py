"""Data-parallel training over MPI with our own compressed allreduce.

The Keras entry points, in the spirit of Horovod's::

    import train
    comm = train.Communicator()  # MPI.COMM_WORLD, with a count of the bytes this rank sends
    optimizer = train.DistributedOptimizer(keras.optimizers.SGD(0.05), compression="topk:0.01",
                                           algorithm="ssar_rd", comm=comm)
    model.fit(..., callbacks=train.distributed_callbacks(comm))

The compressors are in :mod:`train.compression`, the allreduce algorithms in :mod:`train.allreduce` and
:mod:`train.collectives`, checkpoints in :mod:`train.checkpoint`.
"""
from train.collectives import Communicator
from train.keras_distributed import DistributedOptimizer, distributed_callbacks

__all__ = ["Communicator", "DistributedOptimizer", "distributed_callbacks"]
